// shortcredctl org create | list | show | set | disable | enable | delete
#include <algorithm>
#include <ostream>

#include "ctl_internal.hpp"
#include "shortcred/ids.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"
#include "shortcred/tokens/orgs.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens::ctl {
namespace {

const std::string& org_positional(const Args& a, const char* usage) {
  if (a.positional.size() != 3) throw UsageError(std::string("usage: shortcredctl ") + usage);
  require_org_id(a.positional[2]);
  return a.positional[2];
}

void print_fields(Context& ctx, const Fields& f) {
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    for (const auto& [k, val] : f) v[k] = val;
    ctx.print_json(v);
  } else {
    for (const auto& [k, val] : f) *ctx.out << k << " " << val << "\n";
  }
}

int create(Context& ctx) {
  ctx.args.allow_only({"id", "name"});
  ctx.args.expect_positionals(0, "org create [--id ID] [--name NAME]");
  const std::string org = ctx.args.get("id").value_or(generate_org_id(openssl_random()));
  require_org_id(org);
  const std::string name = ctx.args.get("name").value_or(org);
  require_label(name, "--name", 1);
  std::string created_at;
  if (Status s = create_org(ctx.redis(), ctx.prefix, org, name, ctx.audit(), created_at); !s.ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["org"] = org;
    v["name"] = name;
    v["created_at"] = created_at;
    ctx.print_json(v);
  } else {
    *ctx.out << "created org " << org << " (" << name << ")\n";
  }
  return kExitOk;
}

int show(Context& ctx) {
  ctx.args.allow_only({});
  const std::string org = org_positional(ctx.args, "org show ORG");
  Fields f;
  if (Status s = show_org(ctx.redis(), ctx.prefix, org, f); !s.ok()) return ctx.fail(s);
  print_fields(ctx, f);
  return kExitOk;
}

// One org field from `org set`: option `--pub-rate` (parse_args spells
// every option with `-`) is field `pub_rate`. Values are validated here, so
// redis-cli typos are the only way to store garbage.
std::pair<std::string, std::string> org_field(const std::string& option, const std::string& v) {
  const std::string opt = "--" + option;  // as messages name it
  std::string k = option;
  std::replace(k.begin(), k.end(), '-', '_');
  bool numeric = false;
  for (auto n : org_numeric_fields()) numeric = numeric || n == k;
  if (!numeric && k != "name" && k != "disabled" && k != "pub_rate_scope") {
    throw UsageError("unknown org field " + opt);
  }
  if (k == "name") require_label(v, opt, 1);
  if (k == "pub_rate_scope" && v != "broker" && v != "global") {
    throw UsageError(opt + " must be broker (each broker on its own) or global (one "
                     "budget over all brokers), got '" + v + "'");
  }
  if (k == "disabled") {
    // Stored as 1 or 0 whatever the spelling, so every reader agrees.
    const std::optional<bool> d = parse_flag_word(v);
    if (!d) throw UsageError("--disabled must be 1/true/yes/on or 0/false/no/off, got '" + v + "'");
    return {k, *d ? "1" : "0"};
  }
  std::uint64_t parsed = 0;
  if (numeric && !parse_u64(v, parsed)) {
    throw UsageError(opt + " must be a non-negative whole number, got '" + v + "'");
  }
  // The service caps every TTL at kTtlCeiling whatever the hash says; a
  // bigger value here would only look as if it worked.
  if ((k == "max_ttl" || k == "default_ttl") && parsed > static_cast<std::uint64_t>(kTtlCeiling)) {
    throw UsageError(opt + " " + v + " is above the cap of " + std::to_string(kTtlCeiling) +
                     " seconds (365 days)");
  }
  return {k, v};
}

// Every option is a field: `name`, `disabled` (an on/off word, stored as 1
// or 0) or a numeric limit. `--disabled 1` is `org disable` (same store call:
// audit, broadcast and the wait for --min-replicas).
int set(Context& ctx) {
  const std::string org = org_positional(ctx.args, "org set ORG --FIELD VALUE...");
  Fields fields;
  for (const auto& [k, v] : ctx.args.options) {
    if (global_option(k)) continue;
    auto field = org_field(k, v);
    for (const auto& [seen, unused] : fields) {
      if (seen == field.first) throw UsageError("--" + k + " given more than once");
    }
    fields.push_back(std::move(field));
  }
  if (fields.empty()) throw UsageError("org set: give at least one --FIELD VALUE");
  if (Status s = set_org(ctx.redis(), ctx.prefix, org, fields, ctx.audit(), ctx.durability);
      !s.ok()) {
    return ctx.fail(s);
  }
  Fields now;
  if (Status s = show_org(ctx.redis(), ctx.prefix, org, now); !s.ok()) return ctx.fail(s);
  print_fields(ctx, now);
  return kExitOk;
}

// org disable | org enable: `disabled` 1 or 0, audited; disable also tells
// the brokers and waits for --min-replicas.
int set_disabled(Context& ctx, bool disabled) {
  ctx.args.allow_only({});
  const std::string org = org_positional(ctx.args, disabled ? "org disable ORG" : "org enable ORG");
  if (Status s = set_org(ctx.redis(), ctx.prefix, org, {{"disabled", disabled ? "1" : "0"}},
                         ctx.audit(), ctx.durability);
      !s.ok()) {
    return ctx.fail(s);
  }
  Fields now;
  if (Status s = show_org(ctx.redis(), ctx.prefix, org, now); !s.ok()) return ctx.fail(s);
  if (ctx.json) {
    print_fields(ctx, now);
  } else if (disabled) {
    *ctx.out << "disabled org " << org << " (brokers notified)\n";
  } else {
    *ctx.out << "enabled org " << org << "\n";
  }
  return kExitOk;
}

std::string field_or(const Fields& f, const std::string& name, const std::string& fallback) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  return fallback;
}

int list(Context& ctx) {
  ctx.args.allow_only({});
  ctx.args.expect_positionals(0, "org list");
  std::vector<OrgSummary> orgs;
  if (Status s = list_orgs(ctx.redis(), ctx.prefix, orgs); !s.ok()) return ctx.fail(s);
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["orgs"] = Json::Value(Json::arrayValue);
    for (const auto& o : orgs) {
      Json::Value e(Json::objectValue);
      e["org"] = o.org;
      for (const auto& [k, val] : o.fields) e[k] = val;
      v["orgs"].append(e);
    }
    ctx.print_json(v);
    return kExitOk;
  }
  for (const auto& o : orgs) {
    const OrgRecord r = org_from_fields(o.fields);
    *ctx.out << o.org << "  " << (r.disabled ? "disabled" : "enabled ") << "  "
             << field_or(o.fields, "created_at", "-") << "  " << field_or(o.fields, "name", "")
             << "\n";
  }
  if (orgs.empty()) *ctx.out << "(no organisations)\n";
  return kExitOk;
}

int remove(Context& ctx) {
  ctx.args.allow_only({"force"});
  const std::string org = org_positional(ctx.args, "org delete ORG [--force]");
  OrgDeleted d;
  if (Status s = delete_org(ctx.redis(), ctx.prefix, org, ctx.args.flag("force"), ctx.audit(), d);
      !s.ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["deleted"] = org;
    v["revoked_credentials"] = Json::Int64(d.credentials);
    v["revoked_apikeys"] = Json::Int64(d.api_keys);
    v["removed_idps"] = Json::Value(Json::arrayValue);
    for (const auto& name : d.idps) v["removed_idps"].append(name);
    ctx.print_json(v);
  } else {
    *ctx.out << "deleted org " << org << " (revoked " << d.credentials << " credential(s), "
             << d.api_keys << " API key(s); removed " << d.idps.size()
             << " identity provider(s); brokers notified; the audit stream stays)\n";
  }
  return kExitOk;
}

}  // namespace

int cmd_org(Context& ctx) {
  const auto& p = ctx.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (sub == "create") return create(ctx);
  if (sub == "list") return list(ctx);
  if (sub == "show") return show(ctx);
  if (sub == "set") return set(ctx);
  if (sub == "disable") return set_disabled(ctx, true);
  if (sub == "enable") return set_disabled(ctx, false);
  if (sub == "delete") return remove(ctx);
  throw UsageError("org: expected create, list, show, set, disable, enable or delete");
}

}  // namespace shortcred::tokens::ctl
