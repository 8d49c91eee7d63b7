#include "shortcred/tokens/orgs.hpp"

#include "shortcred/time.hpp"

namespace shortcred::tokens {
namespace {

Status require_org(redis::Connection& c, const std::string& prefix, const std::string& org) {
  redis::Reply r = c.command({"EXISTS", org_key(prefix, org)});
  if (!r || r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
  if (r->integer == 0) return Status::make(Code::not_found, "no organisation " + org);
  return Status::success();
}

}  // namespace

Status create_org(redis::Connection& c, const std::string& prefix, const std::string& org,
                  const std::string& name, std::string& created_at) {
  created_at = format_rfc3339(now_ms() / 1000);
  // HSETNX on created_at makes creation race-free: the second creator loses.
  redis::Reply r = c.command({"HSETNX", org_key(prefix, org), "created_at", created_at});
  if (!r || r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
  if (r->integer == 0) return Status::make(Code::forbidden, "organisation " + org + " exists");
  redis::Reply n = c.command({"HSET", org_key(prefix, org), "name", name});
  if (!n || n->type != REDIS_REPLY_INTEGER) return reply_status(c, n);
  return Status::success();
}

Status show_org(redis::Connection& c, const std::string& prefix, const std::string& org,
                Fields& out) {
  redis::Reply r = c.command({"HGETALL", org_key(prefix, org)});
  if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
  if (r->elements == 0) return Status::make(Code::not_found, "no organisation " + org);
  out = redis::to_pairs(r.get());
  return Status::success();
}

// The only writer of the org hash after creation, so that `disabled` always
// travels with its audit entry and, when set to 1, its revocation message:
// brokers disconnect the org's clients at once instead of at the next
// revalidation. One MULTI/EXEC: the flag, the audit and the PUBLISH happen
// together or not at all.
Status set_org(redis::Connection& c, const std::string& prefix, const std::string& org,
               const Fields& fields, const AuditInfo& who) {
  if (Status s = require_org(c, prefix, org); !s.ok()) return s;
  std::vector<std::vector<std::string>> cmds{{"HSET", org_key(prefix, org)}};
  for (const auto& [k, v] : fields) {
    cmds[0].push_back(k);
    cmds[0].push_back(v);
  }
  for (const auto& [k, v] : fields) {
    if (k != "disabled") continue;
    const bool disable = parse_flag_word(v).value_or(true);  // as org_from_fields reads it
    cmds.push_back(audit_command(prefix, org, disable ? "org_disable" : "org_enable", "", "", who));
    if (disable) {
      cmds.push_back({"PUBLISH", revoked_channel(prefix),
                      format_revocation({Revocation::Kind::org, org, ""})});
    }
  }
  redis::Reply exec;
  return transaction(c, cmds, exec);
}

Status disable_org(redis::Connection& c, const std::string& prefix, const std::string& org,
                   const AuditInfo& who) {
  return set_org(c, prefix, org, {{"disabled", "1"}}, who);
}

}  // namespace shortcred::tokens
