// shortcredctl org create | show | set | disable
#include <ostream>

#include "ctl_internal.hpp"
#include "shortcred/ids.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"
#include "shortcred/tokens/orgs.hpp"

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
  std::string created_at;
  if (Status s = create_org(ctx.redis(), ctx.prefix, org, name, created_at); !s.ok()) {
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

// Every option is a field: `name`, `disabled` (an on/off word, stored as 1
// or 0) or a numeric limit. Values
// are validated here, so redis-cli typos are the only way to store garbage.
// `--disabled 1` is `org disable` (same store call: audit and broadcast).
int set(Context& ctx) {
  const std::string org = org_positional(ctx.args, "org set ORG --FIELD VALUE...");
  Fields fields;
  for (const auto& [k, v] : ctx.args.options) {
    if (k == "json" || k == "redis" || k == "key-prefix") continue;
    if (ctx.args.options.count(k) > 1) throw UsageError("--" + k + " given more than once");
    bool numeric = false;
    for (auto n : org_numeric_fields()) numeric = numeric || n == k;
    std::uint64_t parsed = 0;
    if (numeric && !parse_u64(v, parsed)) {
      throw UsageError("--" + k + " must be a non-negative whole number, got '" + v + "'");
    }
    if (!numeric && k != "name" && k != "disabled") {
      throw UsageError("unknown org field --" + k);
    }
    if (k == "disabled") {
      // Stored as 1 or 0 whatever the spelling, so every reader agrees.
      const std::optional<bool> d = parse_flag_word(v);
      if (!d) {
        throw UsageError("--disabled must be 1/true/yes/on or 0/false/no/off, got '" + v + "'");
      }
      fields.emplace_back(k, *d ? "1" : "0");
      continue;
    }
    fields.emplace_back(k, v);
  }
  if (fields.empty()) throw UsageError("org set: give at least one --FIELD VALUE");
  if (Status s = set_org(ctx.redis(), ctx.prefix, org, fields, kCtlAudit); !s.ok())
    return ctx.fail(s);
  Fields now;
  if (Status s = show_org(ctx.redis(), ctx.prefix, org, now); !s.ok()) return ctx.fail(s);
  print_fields(ctx, now);
  return kExitOk;
}

int disable(Context& ctx) {
  ctx.args.allow_only({});
  const std::string org = org_positional(ctx.args, "org disable ORG");
  if (Status s = disable_org(ctx.redis(), ctx.prefix, org, kCtlAudit); !s.ok()) {
    return ctx.fail(s);
  }
  Fields now;
  if (Status s = show_org(ctx.redis(), ctx.prefix, org, now); !s.ok()) return ctx.fail(s);
  if (ctx.json) {
    print_fields(ctx, now);
  } else {
    *ctx.out << "disabled org " << org << " (brokers notified)\n";
  }
  return kExitOk;
}

}  // namespace

int cmd_org(Context& ctx) {
  const auto& p = ctx.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (sub == "create") return create(ctx);
  if (sub == "show") return show(ctx);
  if (sub == "set") return set(ctx);
  if (sub == "disable") return disable(ctx);
  throw UsageError("org: expected create, show, set or disable");
}

}  // namespace shortcred::tokens::ctl
