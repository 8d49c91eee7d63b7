#include "shortcred/tokens/orgs.hpp"

#include <algorithm>

#include "shortcred/ids.hpp"
#include "shortcred/jose/provider.hpp"
#include "shortcred/time.hpp"
#include "shortcred/tokens/api_keys.hpp"

namespace shortcred::tokens {
namespace {

Status require_org(redis::Client& c, const std::string& prefix, const std::string& org) {
  redis::Reply r = c.command({"EXISTS", org_key(prefix, org)});
  if (!r || r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
  if (r->integer == 0) return Status::make(Code::not_found, "no organisation " + org);
  return Status::success();
}

// "pub_rate 100 → 500, max_ttl (unset) → 7200": `before[i]` is the old value of fields[i].
std::string describe_changes(const Fields& fields, const std::vector<std::string>& before) {
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (!out.empty()) out += ", ";
    out += fields[i].first + " " + before[i] + " \u2192 " + fields[i].second;
  }
  return out;
}

// A stored `disabled` value disables unless it reads as off, as
// org_from_fields reads it.
bool disabling_value(const std::string& v) { return parse_flag_word(v).value_or(true); }

// The transaction of set_org, given the old values of `fields`.
std::vector<std::vector<std::string>> set_commands(const std::string& prefix,
                                                   const std::string& org, const Fields& fields,
                                                   const std::vector<std::string>& before,
                                                   const AuditInfo& who) {
  std::vector<std::vector<std::string>> cmds{{"HSET", org_key(prefix, org)}};
  Fields others;
  std::vector<std::string> others_before;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const auto& [k, v] = fields[i];
    cmds[0].push_back(k);
    cmds[0].push_back(v);
    if (k != "disabled") {
      others.push_back(fields[i]);
      others_before.push_back(before[i]);
      continue;
    }
    const bool disable = disabling_value(v);
    cmds.push_back(audit_command(prefix, org, disable ? "org_disable" : "org_enable", "", "", who,
                                 "", {{"changes", describe_changes({fields[i]}, {before[i]})}}));
    if (disable) {
      cmds.push_back({"PUBLISH", revoked_channel(prefix),
                      format_revocation({Revocation::Kind::org, org, ""})});
    }
  }
  if (!others.empty()) {
    cmds.push_back(audit_command(prefix, org, "org_set", "", "", who, "",
                                 {{"changes", describe_changes(others, others_before)}}));
  }
  return cmds;
}

// Whether `fields` disable the org: the same reading as the audit entry and
// broadcast of set_commands (and as org_from_fields reads the stored value).
bool disables(const Fields& fields) {
  for (const auto& [k, v] : fields) {
    if (k == "disabled") return disabling_value(v);
  }
  return false;
}

// After a disable: the brokers were told, the hash is written on the master;
// a failover before a replica has it would enable the org again.
Status wait_disable_replicated(redis::Client& c, const std::string& org,
                               const Durability& durability) {
  Status s = wait_replicas(c, durability);
  if (s.code == Code::not_replicated) {
    s.message =
        "organisation " + org +
        " is disabled on the master (brokers notified), but not yet replicated: " + s.message;
  }
  return s;
}

}  // namespace

Status create_org(redis::Client& c, const std::string& prefix, const std::string& org,
                  const std::string& name, const AuditInfo& who, std::string& created_at) {
  created_at = format_rfc3339(now_ms() / 1000);
  // HSETNX on created_at makes creation race-free: the second creator loses.
  redis::Reply r = c.command({"HSETNX", org_key(prefix, org), "created_at", created_at});
  if (!r || r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
  if (r->integer == 0) return Status::make(Code::forbidden, "organisation " + org + " exists");
  const std::vector<std::vector<std::string>> cmds{
      {"HSET", org_key(prefix, org), "name", name},
      audit_command(prefix, org, "org_create", "", "", who, "", {{"name", name}}),
  };
  redis::Reply exec;
  return transaction(c, cmds, exec);
}

Status show_org(redis::Client& c, const std::string& prefix, const std::string& org,
                Fields& out) {
  redis::Reply r = c.command({"HGETALL", org_key(prefix, org)});
  if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
  if (r->elements == 0) return Status::make(Code::not_found, "no organisation " + org);
  out = redis::to_pairs(r.get());
  return Status::success();
}

Status list_orgs(redis::Client& c, const std::string& prefix, std::vector<OrgSummary>& out) {
  out.clear();
  const std::string head = prefix + "{";
  const std::string tail = "}:org";
  const std::string match = glob_escape(head) + "*" + tail;
  std::vector<std::string> orgs;
  std::string cursor = "0";
  do {
    redis::Reply r = c.command({"SCAN", cursor, "MATCH", match, "COUNT", "1000", "TYPE", "hash"});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return reply_status(c, r);
    cursor = redis::to_string(r->element[0]);
    for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
      const std::string key = redis::to_string(r->element[1]->element[i]);
      const std::string id = key.substr(head.size(), key.size() - head.size() - tail.size());
      // `*` also spans `}:…}`; only a valid org id names an org hash.
      if (validate_org_id(id) == Errc::ok) orgs.push_back(id);
    }
  } while (cursor != "0");
  std::sort(orgs.begin(), orgs.end());
  orgs.erase(std::unique(orgs.begin(), orgs.end()), orgs.end());  // SCAN may repeat a key
  for (const auto& id : orgs) {
    Fields f;
    const Status s = show_org(c, prefix, id, f);
    if (s.code == Code::not_found) continue;  // deleted meanwhile
    if (!s.ok()) return s;
    out.push_back(OrgSummary{id, std::move(f)});
  }
  return Status::success();
}

// WATCH the org hash while reading the old values, so the audit's old → new
// is what the HSET replaced; retried when someone else wrote in between.
Status set_org(redis::Client& c, const std::string& prefix, const std::string& org,
               const Fields& fields, const AuditInfo& who, const Durability& durability) {
  const std::string key = org_key(prefix, org);
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (redis::Reply w = c.command({"WATCH", key}); !w || w->type != REDIS_REPLY_STATUS) {
      return reply_status(c, w);
    }
    if (Status s = require_org(c, prefix, org); !s.ok()) {
      c.command({"UNWATCH"});
      return s;
    }
    std::vector<std::string> hmget{"HMGET", key};
    for (const auto& [k, v] : fields) hmget.push_back(k);
    redis::Reply old = c.command(hmget);
    if (!old || old->type != REDIS_REPLY_ARRAY || old->elements != fields.size()) {
      if (c.ok()) c.command({"UNWATCH"});
      return reply_status(c, old);
    }
    std::vector<std::string> before;
    for (std::size_t i = 0; i < old->elements; ++i) {
      const redisReply* o = old->element[i];
      before.push_back(o->type == REDIS_REPLY_STRING ? redis::to_string(o) : "(unset)");
    }
    redis::Reply exec;
    const Status s = transaction(c, set_commands(prefix, org, fields, before, who), exec);
    if (s.ok()) return disables(fields) ? wait_disable_replicated(c, org, durability) : s;
    if (!exec || exec->type != REDIS_REPLY_NIL) return s;
  }
  return Status::make(Code::busy, "organisation " + org + " kept changing; try again");
}

namespace {

Status count_credentials(redis::Client& c, const std::string& prefix, const std::string& org,
                         std::int64_t& n) {
  n = 0;
  return for_each_credential(c, prefix, org, [&](const std::string&) {
    ++n;
    return Status::success();
  });
}

// Revokes every API key of the org, then every credential (each audited as
// a `shortcredctl apikey revoke` / `token revoke` would be).
Status revoke_everything(redis::Client& c, const std::string& prefix, const std::string& org,
                         const AuditInfo& who, OrgDeleted& out) {
  std::vector<ApiKeyInfo> keys;
  if (Status s = list_api_keys(c, prefix, org, keys); !s.ok()) return s;
  for (const auto& k : keys) {
    const Status s = revoke_api_key(c, prefix, k.key_id, who);
    if (s.ok()) ++out.api_keys;
    if (!s.ok() && s.code != Code::not_found) return s;
  }
  return for_each_credential(c, prefix, org, [&](const std::string& id) {
    const Status s = revoke_token(c, prefix, org, id, who);
    if (s.ok()) ++out.credentials;
    return s.code == Code::not_found ? Status::success() : s;  // expired meanwhile
  });
}

}  // namespace

Status delete_org(redis::Client& c, const std::string& prefix, const std::string& org,
                  bool force, const AuditInfo& who, OrgDeleted& out) {
  out = OrgDeleted{};
  if (Status s = require_org(c, prefix, org); !s.ok()) return s;
  if (force) {
    if (Status s = revoke_everything(c, prefix, org, who, out); !s.ok()) return s;
  }
  std::int64_t creds = 0;
  if (Status s = count_credentials(c, prefix, org, creds); !s.ok()) return s;
  redis::Reply keys = c.command({"SCARD", org_apikeys_key(prefix, org)});
  if (!keys || keys->type != REDIS_REPLY_INTEGER) return reply_status(c, keys);
  if (creds > 0 || keys->integer > 0) {
    return Status::make(Code::forbidden,
                        "organisation " + org + " still has " + std::to_string(creds) +
                            " credential(s) and " + std::to_string(keys->integer) +
                            " API key(s); revoke them first, or pass --force to revoke them");
  }
  // The identity providers go too: an org created again under the same id
  // must not trust the deleted one's issuers.
  redis::Reply idps = c.command({"SMEMBERS", jose::idps_key(prefix, org)});
  if (!idps || idps->type != REDIS_REPLY_ARRAY) return reply_status(c, idps);
  std::vector<std::string> del{"DEL", org_key(prefix, org), org_apikeys_key(prefix, org),
                               jose::idps_key(prefix, org)};
  std::string names;
  for (std::size_t i = 0; i < idps->elements; ++i) {
    out.idps.push_back(redis::to_string(idps->element[i]));
  }
  std::sort(out.idps.begin(), out.idps.end());
  for (const auto& name : out.idps) {
    del.push_back(jose::idp_key(prefix, org, name));
    names += (names.empty() ? "" : " ") + name;
  }
  Fields counts{{"revoked_credentials", std::to_string(out.credentials)},
                {"revoked_apikeys", std::to_string(out.api_keys)}};
  if (!names.empty()) counts.emplace_back("removed_idps", names);
  const std::vector<std::vector<std::string>> cmds{
      del,
      audit_command(prefix, org, "org_delete", "", "", who, "", counts),
      {"PUBLISH", revoked_channel(prefix), format_revocation({Revocation::Kind::org, org, ""})},
  };
  redis::Reply exec;
  return transaction(c, cmds, exec);
}

}  // namespace shortcred::tokens
