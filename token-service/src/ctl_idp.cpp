// shortcredctl idp set | show | list | remove --org ORG NAME
#include <algorithm>
#include <ostream>

#include "ctl_internal.hpp"
#include "shortcred/tokens/providers.hpp"

namespace shortcred::tokens::ctl {
namespace {

const std::string& name_positional(const Args& a, const char* usage) {
  if (a.positional.size() != 3) throw UsageError(std::string("usage: shortcredctl ") + usage);
  if (!jose::valid_provider_name(a.positional[2])) {
    throw UsageError("provider name '" + a.positional[2] + "': expected 1-64 of [A-Za-z0-9_-]");
  }
  return a.positional[2];
}

Json::Value fields_json(const std::string& name, const Fields& f) {
  Json::Value v(Json::objectValue);
  v["name"] = name;
  for (const auto& [k, val] : f) v[k] = val;
  return v;
}

void print_provider(Context& ctx, const std::string& name, const Fields& f) {
  if (ctx.json) return ctx.print_json(fields_json(name, f));
  *ctx.out << "name " << name << "\n";
  for (const auto& [k, val] : f) {
    std::string shown = val;
    std::replace(shown.begin(), shown.end(), '\n', ';');
    *ctx.out << k << " " << shown << "\n";
  }
}

// `idp set`: the stored provider (if any) with each --FIELD applied, then
// validated whole; `--scope` repeats (one rule each) and replaces the scope.
int set(Context& ctx) {
  const std::string org = org_option(ctx.args);
  const std::string name = name_positional(ctx.args, "idp set --org ORG NAME --FIELD VALUE...");
  Fields stored;
  const Status found = get_provider(ctx.redis(), ctx.prefix, org, name, stored);
  if (!found.ok() && !(found.code == Code::not_found && stored.empty())) return ctx.fail(found);
  jose::Provider p;
  p.name = name;
  for (const auto& [k, v] : stored) {
    if (std::string why = jose::apply_provider_field(p, k, v); !why.empty()) {
      throw UsageError("the stored provider is invalid (" + why + "); set that field");
    }
  }
  bool changed = false;
  std::vector<std::string> scope;
  for (const auto& [opt, value] : ctx.args.options) {
    if (global_option(opt) || opt == "org") continue;
    std::string field = opt;
    std::replace(field.begin(), field.end(), '-', '_');
    const auto& known = jose::provider_fields();
    if (std::find(known.begin(), known.end(), field) == known.end()) {
      throw UsageError("unknown provider field --" + opt +
                       "; expected --issuer, --jwks-url, --audience, --azp, --user-claim, "
                       "--algorithms, --scope, --max-ttl, --user-map");
    }
    changed = true;
    if (field == "scope") {
      if (value.find('\n') != std::string::npos) throw UsageError("--scope takes one rule; repeat it");
      scope.push_back(value);
      continue;
    }
    if (ctx.args.options.count(opt) > 1) throw UsageError("--" + opt + " given more than once");
    if (field == "max_ttl" && value.empty()) {
      p.max_ttl.reset();
    } else if (std::string why = jose::apply_provider_field(p, field, value); !why.empty()) {
      throw UsageError(why);
    }
  }
  if (!changed) throw UsageError("idp set: give at least one --FIELD VALUE");
  if (!scope.empty()) p.scope = scope.size() == 1 && scope[0].empty() ? std::vector<std::string>{} : scope;
  if (std::string why = jose::validate_provider(p); !why.empty()) throw UsageError(why);
  if (Status s = put_provider(ctx.redis(), ctx.prefix, org, p, ctx.audit()); !s.ok()) {
    return ctx.fail(s);
  }
  print_provider(ctx, name, jose::provider_to_fields(p));
  return kExitOk;
}

int show(Context& ctx) {
  const std::string org = org_option(ctx.args);
  ctx.args.allow_only({"org"});
  const std::string name = name_positional(ctx.args, "idp show --org ORG NAME");
  Fields f;
  if (Status s = get_provider(ctx.redis(), ctx.prefix, org, name, f); !s.ok()) return ctx.fail(s);
  print_provider(ctx, name, f);
  return kExitOk;
}

int list(Context& ctx) {
  const std::string org = org_option(ctx.args);
  ctx.args.allow_only({"org"});
  ctx.args.expect_positionals(0, "idp list --org ORG");
  std::vector<std::pair<std::string, Fields>> all;
  if (Status s = list_providers(ctx.redis(), ctx.prefix, org, all); !s.ok()) return ctx.fail(s);
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["providers"] = Json::Value(Json::arrayValue);
    for (const auto& [n, f] : all) v["providers"].append(fields_json(n, f));
    ctx.print_json(v);
    return kExitOk;
  }
  for (const auto& [n, f] : all) {
    std::string issuer = "(no issuer)";
    for (const auto& [k, val] : f) {
      if (k == "issuer") issuer = val;
    }
    *ctx.out << n << " " << issuer << "\n";
  }
  return kExitOk;
}

int remove(Context& ctx) {
  const std::string org = org_option(ctx.args);
  ctx.args.allow_only({"org"});
  const std::string name = name_positional(ctx.args, "idp remove --org ORG NAME");
  if (Status s = remove_provider(ctx.redis(), ctx.prefix, org, name, ctx.audit()); !s.ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["removed"] = true;
    ctx.print_json(v);
  } else {
    *ctx.out << "removed identity provider " << name << " of " << org << "\n";
  }
  return kExitOk;
}

}  // namespace

int cmd_idp(Context& ctx) {
  const std::string sub = ctx.args.positional.size() > 1 ? ctx.args.positional[1] : "";
  if (sub == "set") return set(ctx);
  if (sub == "show") return show(ctx);
  if (sub == "list") return list(ctx);
  if (sub == "remove") return remove(ctx);
  throw UsageError("idp: expected set, show, list or remove");
}

}  // namespace shortcred::tokens::ctl
