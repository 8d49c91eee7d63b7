#include "shortcred/tokens/store.hpp"

#include <algorithm>
#include <chrono>
#include <limits>
#include <string_view>

#include "shortcred/ids.hpp"
#include "shortcred/tokens/validation.hpp"

namespace shortcred::tokens {
namespace {

constexpr std::string_view kAuditMaxLen = "100000";

Status unavailable(redis::Client& c) {
  return Status::make(Code::unavailable, "Redis is unavailable (" + c.error() + ")");
}

Status fetch_credentials(redis::Client& c, const std::string& prefix, const std::string& org,
                         const std::vector<std::string>& ids, std::vector<TokenInfo>& out) {
  for (const auto& id : ids) {
    if (!c.append({"HGETALL", cred_key(prefix, org, id)})) return unavailable(c);
  }
  for (const auto& id : ids) {
    redis::Reply r = c.read_reply();
    if (!r) return unavailable(c);
    if (r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
    if (r->elements == 0) continue;  // expired or revoked since it was indexed
    auto rec = credential_from_fields(redis::to_pairs(r.get()));
    if (rec) out.push_back(TokenInfo{id, std::move(*rec)});
  }
  return Status::success();
}

// Which of `ids` still have their credential (EXISTS also drops one past
// its expiry), in one pipelined round trip. A credential deleted by hand
// (redis-cli DEL, DESIGN.md) leaves its index entry behind: revoke_user
// must not audit it as revoked.
Status existing_credentials(redis::Client& c, const std::string& prefix, const std::string& org,
                            const std::vector<std::string>& ids, std::vector<std::string>& out) {
  for (const auto& id : ids) {
    if (!c.append({"EXISTS", cred_key(prefix, org, id)})) return unavailable(c);
  }
  for (const auto& id : ids) {
    redis::Reply r = c.read_reply();
    if (!r) return unavailable(c);
    if (r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
    if (r->integer == 1) out.push_back(id);
  }
  return Status::success();
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool transient_error(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) return false;
  const std::string_view text(r->str, r->len);
  // Redis cannot serve right now, whatever the data: still loading its
  // dataset, blocked by a script, a replica that lost its master or is
  // read-only after a failover, a cluster reconfiguring, out of memory.
  // Anything else (WRONGTYPE, ERR, NOPERM…) is about the data or the
  // configuration and will not go away by retrying.
  for (std::string_view prefix : {"LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN",
                                  "READONLY", "OOM", "NOREPLICAS", "MISCONF"}) {
    if (text.substr(0, prefix.size()) == prefix &&
        (text.size() == prefix.size() || text[prefix.size()] == ' ')) {
      return true;
    }
  }
  return false;
}

Status reply_status(redis::Client& c, const redis::Reply& r) {
  if (!r) return unavailable(c);
  return reply_status(r.get());
}

Status reply_status(const redisReply* r) {
  if (r->type == REDIS_REPLY_ERROR) {
    const Code code = transient_error(r) ? Code::busy : Code::internal;
    return Status::make(code, "Redis error: " + redis::to_string(r));
  }
  return Status::make(Code::internal, "unexpected Redis reply type " + std::to_string(r->type));
}

Status transaction(redis::Client& c, const std::vector<std::vector<std::string>>& cmds,
                   redis::Reply& exec) {
  bool ok = c.append({"MULTI"});
  for (const auto& cmd : cmds) ok = ok && c.append(cmd);
  ok = ok && c.append({"EXEC"});
  if (!ok) return unavailable(c);
  // MULTI and every queued command answer +OK/+QUEUED; an error there makes
  // EXEC abort (EXECABORT), which is reported below.
  Status first_error;
  for (std::size_t i = 0; i < cmds.size() + 1; ++i) {
    redis::Reply r = c.read_reply();
    if (!r) return unavailable(c);
    if (r->type == REDIS_REPLY_ERROR && first_error.ok()) first_error = reply_status(r.get());
  }
  exec = c.read_reply();
  if (!exec) return unavailable(c);
  if (!first_error.ok()) return first_error;
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements != cmds.size()) {
    return reply_status(c, exec);
  }
  // Redis does not roll back: the commands around a failed one did run.
  for (std::size_t i = 0; i < exec->elements; ++i) {
    if (exec->element[i]->type == REDIS_REPLY_ERROR) return reply_status(exec->element[i]);
  }
  return Status::success();
}

std::vector<std::string> audit_command(const std::string& prefix, const std::string& org,
                                       const std::string& event, const std::string& user,
                                       const std::string& token, const AuditInfo& who,
                                       const std::string& ttl, const Fields& extra) {
  std::vector<std::string> cmd{"XADD", audit_key(prefix, org), "MAXLEN", "~",
                               std::string(kAuditMaxLen), "*", "event", event, "user", user,
                               "token", token, "apikey", who.apikey, "ttl", ttl,
                               "remote", who.remote};
  if (!who.actor.empty()) {
    cmd.push_back("actor");
    cmd.push_back(who.actor);
  }
  for (const auto& [k, v] : extra) {
    cmd.push_back(k);
    cmd.push_back(v);
  }
  return cmd;
}

Status read_org(redis::Client& c, const std::string& prefix, const std::string& org,
                OrgRecord& out, bool& exists) {
  redis::Reply r = c.command({"HGETALL", org_key(prefix, org)});
  if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
  exists = r->elements > 0;
  out = org_from_fields(redis::to_pairs(r.get()));
  return Status::success();
}

namespace {

// Optimistic attempts of one issue before the user's index is called too busy.
// Only writes to that one user's index abort an attempt, so this is reached
// only by a flood of concurrent issues for one user (the issue rate and the
// cap bound it anyway).
constexpr int kIssueAttempts = 8;

void unwatch(redis::Client& c) {
  if (c.ok()) c.command({"UNWATCH"});
}

// What the user's index says right before the issue transaction.
struct IndexState {
  std::int64_t live = 0;  // members that have not expired, less the one replaced
};

// WATCHes the user index and reads, in one round trip, its type and how many
// live credentials it holds. The count and the write are atomic because EXEC
// fails (nil) if anyone touched the index in between; the caller retries.
//
// The index must be a sorted set (or absent) before anything is written: on
// any other type ZADD fails inside EXEC while the cred hash and the audit
// entry are written anyway, and PEXPIREAT would put our expiry on someone
// else's key. On failure the WATCH is dropped again.
Status watch_user_index(redis::Client& c, const std::string& ukey, std::int64_t now,
                        const std::string& replaces, IndexState& out) {
  const std::string live_from = "(" + std::to_string(now);
  bool ok = c.append({"WATCH", ukey}) && c.append({"TYPE", ukey}) &&
            c.append({"ZCOUNT", ukey, live_from, "+inf"});
  if (!replaces.empty()) ok = ok && c.append({"ZSCORE", ukey, replaces});
  if (!ok) return unavailable(c);
  redis::Reply watch = c.read_reply();
  redis::Reply type = c.read_reply();
  redis::Reply count = c.read_reply();
  redis::Reply score = replaces.empty() ? nullptr : c.read_reply();
  if (!watch || !type || !count || (!replaces.empty() && !score)) return unavailable(c);
  Status s;
  if (watch->type != REDIS_REPLY_STATUS) {
    s = reply_status(c, watch);
  } else if (type->type != REDIS_REPLY_STATUS) {
    s = reply_status(c, type);
  } else if (const std::string t = redis::to_string(type.get()); t != "zset" && t != "none") {
    s = Status::make(Code::internal,
                     "user index " + ukey + " is a " + t + ", not a sorted set; nothing was written");
  } else if (count->type != REDIS_REPLY_INTEGER) {
    s = reply_status(c, count);
  } else {
    out.live = count->integer;
    // The credential a refresh replaces leaves in the same transaction, so
    // it does not count against the cap.
    std::uint64_t expires = 0;
    if (score && score->type == REDIS_REPLY_STRING &&
        parse_u64(redis::to_string(score.get()), expires) &&
        expires > static_cast<std::uint64_t>(now)) {
      --out.live;
    }
  }
  if (!s.ok()) unwatch(c);
  return s;
}

// Undoes what ran of a failed issue transaction (an element error inside
// EXEC), so no credential that the client was never told about stays
// usable. Best effort: a failure here leaves at worst an unknown cred that
// expires with its TTL.
void undo_issue(redis::Client& c, const redis::Reply& exec, std::size_t xadd_index,
                const std::string& ckey, const std::string& ukey, const std::string& okey,
                const std::string& audit, const std::string& id) {
  if (!c.ok()) return;
  std::vector<std::vector<std::string>> cmds{
      {"DEL", ckey}, {"ZREM", ukey, id}, {"ZREM", okey, id}};
  if (exec && exec->type == REDIS_REPLY_ARRAY && exec->elements > xadd_index) {
    const redisReply* xadd = exec->element[xadd_index];
    if (xadd->type == REDIS_REPLY_STRING) cmds.push_back({"XDEL", audit, redis::to_string(xadd)});
  }
  for (const auto& cmd : cmds) {
    if (!c.append(cmd)) return;
  }
  for (std::size_t i = 0; i < cmds.size(); ++i) {
    if (!c.read_reply()) return;
  }
}

// Checks the org, resolves and checks the TTL. `cap` is max_tokens_per_user
// (0 = none).
Status issue_limits(const StoreConfig& cfg, const IssueRequest& req, const OrgRecord& org,
                    bool exists, std::int64_t now, std::int64_t& ttl, std::int64_t& cap) {
  // No org hash, no credential: a deleted org (or a typo in shortcredctl)
  // must not get working credentials.
  if (!exists) return Status::make(Code::org_not_found, "no organisation " + req.org);
  if (org.disabled_unrecognised) {
    const std::string why = "organisation " + req.org +
                            " is disabled: its field disabled holds an unrecognised value, which "
                            "counts as disabled (set it with shortcredctl org set " +
                            req.org + " --disabled 0|1)";
    if (cfg.warn) cfg.warn(why);
    return Status::make(Code::forbidden, why);
  }
  if (org.disabled) {
    return Status::make(Code::forbidden, "organisation " + req.org + " is disabled");
  }
  std::int64_t max_ttl = std::min(org.max_ttl.value_or(cfg.max_ttl), kTtlCeiling);
  if (req.max_ttl) max_ttl = std::min(max_ttl, *req.max_ttl);
  ttl = req.ttl_seconds.value_or(org.default_ttl.value_or(cfg.default_ttl));
  if (!req.ttl_seconds && req.max_ttl) ttl = std::min(ttl, max_ttl);
  if (!req.ttl_seconds && req.inherited_ttl) {
    ttl = std::clamp(*req.inherited_ttl, kMinTtlSeconds, std::max(max_ttl, kMinTtlSeconds));
  }
  cap = org.max_tokens_per_user.value_or(cfg.max_tokens_per_user);
  if (Status s = validate_ttl_field("ttl_seconds", ttl, max_ttl); !s.ok()) return s;
  if (req.expires_by_ms) {
    // Checked again by the caller before it got here, so short only by the
    // milliseconds in between.
    const std::int64_t left = (*req.expires_by_ms - now) / 1000;
    if (left < kMinTtlSeconds) {
      return Status::invalid("the id token expires in less than 60 seconds");
    }
    ttl = std::min(ttl, left);
  }
  return Status::success();
}

Status too_many(const IssueRequest& req, std::int64_t cap) {
  return Status::make(Code::too_many,
                      "user " + req.user + " already holds " + std::to_string(cap) +
                          " live credentials, the org's max_tokens_per_user; revoke some or "
                          "let them expire first");
}

// The stored credential: only the SHA-256 of the secret, never the secret.
CredentialRecord new_credential(const IssueRequest& req, const AuditInfo& who, const Minted& m,
                                std::int64_t now, std::int64_t ttl) {
  CredentialRecord rec;
  rec.user = req.user;
  rec.secret_sha256 = m.sha256_hex;
  rec.issued_at_ms = now;
  rec.expires_at_ms = now + ttl * 1000;
  rec.scope = req.scope;
  rec.client_id = req.client_id;
  rec.apikey = who.apikey;
  return rec;
}

// The commands of one issue transaction, with the keys undo_issue needs.
struct IssueWrite {
  std::string ckey, ukey, okey;
  std::vector<std::vector<std::string>> cmds;
  // The audit XADD: undo_issue finds its entry's id here, and with
  // `replaces` the DEL of the old credential comes right after it.
  std::size_t xadd_index = 0;
};

// Adds credential `id` (expiring at `exp`) to a credential index, the
// user's or the org's, and trims the index of what expired before
// `trim_to`. The index expires with its latest credential: NX sets the first
// expiry (GT does nothing on a key without one), GT only ever extends it
// (Redis >= 7.0).
void index_commands(std::vector<std::vector<std::string>>& cmds, const std::string& index_key,
                    const std::string& exp, const std::string& id, const std::string& trim_to) {
  cmds.push_back({"ZADD", index_key, exp, id});
  cmds.push_back({"ZREMRANGEBYSCORE", index_key, "-inf", trim_to});
  cmds.push_back({"PEXPIREAT", index_key, exp, "NX"});
  cmds.push_back({"PEXPIREAT", index_key, exp, "GT"});
}

IssueWrite issue_write(const StoreConfig& cfg, const IssueRequest& req, const AuditInfo& who,
                       const std::string& id, const CredentialRecord& rec, std::int64_t ttl,
                       std::int64_t now) {
  IssueWrite w;
  w.ckey = cred_key(cfg.prefix, req.org, id);
  w.ukey = user_index_key(cfg.prefix, req.org, req.user);
  w.okey = org_tokens_key(cfg.prefix, req.org);
  const std::string exp = std::to_string(rec.expires_at_ms);
  std::vector<std::string> hset{"HSET", w.ckey};
  for (auto& [k, v] : to_fields(rec)) {
    hset.push_back(std::move(k));
    hset.push_back(std::move(v));
  }
  // The org index is not WATCHed: nothing is counted in it.
  const std::string trim_to = std::to_string(now);
  w.cmds = {std::move(hset), {"PEXPIREAT", w.ckey, exp}};
  index_commands(w.cmds, w.ukey, exp, id, trim_to);
  index_commands(w.cmds, w.okey, exp, id, trim_to);
  w.cmds.push_back(audit_command(cfg.prefix, req.org, req.event, req.user, id, who,
                                 std::to_string(ttl), req.audit_extra));
  w.xadd_index = w.cmds.size() - 1;
  if (!req.replaces.empty()) {
    // Refresh with revoke_old: the old credential goes in the same
    // transaction, so the user never holds one more than the cap.
    w.cmds.push_back({"DEL", cred_key(cfg.prefix, req.org, req.replaces)});
    w.cmds.push_back({"ZREM", w.ukey, req.replaces});
    w.cmds.push_back({"ZREM", w.okey, req.replaces});
    w.cmds.push_back(audit_command(cfg.prefix, req.org, "revoke", req.user, req.replaces, who));
    w.cmds.push_back({"PUBLISH", revoked_channel(cfg.prefix),
                      format_revocation({Revocation::Kind::token, req.org, req.replaces})});
  }
  return w;
}

// Runs the issue transaction under WATCH of the user index, so the cap check
// and the write are atomic; an attempt that another issue for the same user
// interrupted (EXEC nil, nothing ran) is retried, up to kIssueAttempts. A
// transaction that failed part-way is undone, so no credential the client
// was never told about stays usable. `cap` 0 = no cap.
Status commit_issue(redis::Client& c, const StoreConfig& cfg, const IssueRequest& req,
                    const IssueWrite& w, const std::string& id, std::int64_t now, std::int64_t cap,
                    redis::Reply& exec) {
  for (int attempt = 0; attempt < kIssueAttempts; ++attempt) {
    IndexState index;
    if (Status s = watch_user_index(c, w.ukey, now, req.replaces, index); !s.ok()) return s;
    if (cap > 0 && index.live >= cap) {
      unwatch(c);
      return too_many(req, cap);
    }
    const Status s = transaction(c, w.cmds, exec);
    if (s.ok()) return s;
    if (exec && exec->type == REDIS_REPLY_NIL) continue;  // the index changed: nothing ran
    undo_issue(c, exec, w.xadd_index, w.ckey, w.ukey, w.okey, audit_key(cfg.prefix, req.org),
               id);
    return s;
  }
  return Status::make(Code::busy, "the index of user " + req.user + " in " + req.org +
                                      " kept changing during " + std::to_string(kIssueAttempts) +
                                      " issue attempts");
}

}  // namespace

Status wait_replicas(redis::Client& c, const Durability& d) {
  if (d.min_replicas <= 0) return Status::success();
  redis::Reply r =
      c.command({"WAIT", std::to_string(d.min_replicas), std::to_string(d.timeout_ms)});
  if (!r) return unavailable(c);
  if (r->type != REDIS_REPLY_INTEGER) return reply_status(c, r);
  if (r->integer >= d.min_replicas) return Status::success();
  return Status::make(Code::not_replicated,
                      std::to_string(r->integer) + " of the " + std::to_string(d.min_replicas) +
                          " replicas required (--min-replicas) confirmed the write within " +
                          std::to_string(d.timeout_ms) + " ms; retry");
}

Status issue(redis::Client& c, const StoreConfig& cfg, const IssueRequest& req,
             const AuditInfo& who, const RandomSource& rnd, Issued& out) {
  OrgRecord org;
  bool exists = false;
  if (Status s = read_org(c, cfg.prefix, req.org, org, exists); !s.ok()) return s;
  std::int64_t ttl = 0, cap = 0;
  const std::int64_t now = now_ms();
  if (Status s = issue_limits(cfg, req, org, exists, now, ttl, cap); !s.ok()) return s;

  const Minted m = mint_password(rnd);
  const CredentialRecord rec = new_credential(req, who, m, now, ttl);
  const IssueWrite w = issue_write(cfg, req, who, m.id, rec, ttl, now);
  redis::Reply exec;
  if (Status s = commit_issue(c, cfg, req, w, m.id, now, cap, exec); !s.ok()) return s;
  if (Status s = wait_replicas(c, cfg.durability); !s.ok()) {
    // Never acknowledged, so it must not work: a failover could otherwise
    // leave a credential the client was told failed, or lose one it holds.
    undo_issue(c, exec, w.xadd_index, w.ckey, w.ukey, w.okey, audit_key(cfg.prefix, req.org),
               m.id);
    return s;
  }

  out.token_id = m.id;
  out.username = req.user + "@" + req.org;
  out.password = m.full;
  out.issued_at_ms = rec.issued_at_ms;
  out.expires_at_ms = rec.expires_at_ms;
  out.ttl_seconds = ttl;
  out.scope = req.scope;
  out.client_id = req.client_id;
  // The DEL of the replaced credential follows the audit XADD (issue_write).
  out.replaced = !req.replaces.empty() && exec->element[w.xadd_index + 1]->integer == 1;
  return Status::success();
}

Status get_credential(redis::Client& c, const std::string& prefix, const std::string& org,
                      const std::string& token_id, CredentialRecord& out) {
  redis::Reply r = c.command({"HGETALL", cred_key(prefix, org, token_id)});
  if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
  auto rec = r->elements == 0 ? std::nullopt : credential_from_fields(redis::to_pairs(r.get()));
  if (!rec) return Status::make(Code::not_found, "no active credential " + token_id);
  out = std::move(*rec);
  return Status::success();
}

Status revoke_token(redis::Client& c, const std::string& prefix, const std::string& org,
                    const std::string& token_id, const AuditInfo& who) {
  const std::string ckey = cred_key(prefix, org, token_id);
  redis::Reply user = c.command({"HGET", ckey, "user"});
  if (!user) return unavailable(c);
  if (user->type == REDIS_REPLY_NIL) {
    return Status::make(Code::not_found, "no active credential " + token_id);
  }
  if (user->type != REDIS_REPLY_STRING) return reply_status(c, user);
  const std::string u = redis::to_string(user.get());
  const std::vector<std::vector<std::string>> cmds{
      {"DEL", ckey},
      {"ZREM", user_index_key(prefix, org, u), token_id},
      {"ZREM", org_tokens_key(prefix, org), token_id},
      audit_command(prefix, org, "revoke", u, token_id, who),
      {"PUBLISH", revoked_channel(prefix),
       format_revocation({Revocation::Kind::token, org, token_id})},
  };
  redis::Reply exec;
  if (Status s = transaction(c, cmds, exec); !s.ok()) return s;
  // It may have expired between HGET and DEL: then it is gone anyway.
  if (exec->element[0]->integer == 0) {
    return Status::make(Code::not_found, "no active credential " + token_id);
  }
  return Status::success();
}

Status for_each_credential(redis::Client& c, const std::string& prefix, const std::string& org,
                           const std::function<Status(const std::string&)>& visit) {
  const std::string head = cred_key(prefix, org, "");
  const std::string match = glob_escape(head) + "*";
  std::string cursor = "0";
  do {
    redis::Reply r = c.command({"SCAN", cursor, "MATCH", match, "COUNT", "1000"});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) return reply_status(c, r);
    cursor = redis::to_string(r->element[0]);
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
      ids.push_back(redis::to_string(r->element[1]->element[i]).substr(head.size()));
    }
    for (const auto& id : ids) {
      if (Status s = visit(id); !s.ok()) return s;
    }
  } while (cursor != "0");
  return Status::success();
}

Status revoke_user(redis::Client& c, const std::string& prefix, const std::string& org,
                   const std::string& user, const AuditInfo& who, std::int64_t& revoked) {
  const std::string ukey = user_index_key(prefix, org, user);
  const std::string batch_end = std::to_string(kRevokeBatch - 1);
  revoked = 0;
  // Batch by batch from the head of the index: each round trip reads at most
  // kRevokeBatch ids and removes them (UNLINK frees off the main thread), so
  // no one reply or EXEC holds Redis long whatever the index holds. The
  // index empties and Redis drops it; it is never deleted whole, so a
  // credential issued meanwhile keeps its entry (and is revoked by a later
  // round or stays findable).
  for (;;) {
    redis::Reply ids = c.command({"ZRANGE", ukey, "0", batch_end});
    if (!ids || ids->type != REDIS_REPLY_ARRAY) return reply_status(c, ids);
    const std::size_t n = ids->elements;
    const bool last = n < kRevokeBatch;
    std::vector<std::string> batch;
    for (std::size_t i = 0; i < n; ++i) batch.push_back(redis::to_string(ids->element[i]));
    // The audit names what was revoked: the credentials that still existed
    // a moment before (an expired or hand-deleted one is only a stale index
    // entry). Nothing revoked, no entry.
    std::vector<std::string> existing;
    if (Status s = existing_credentials(c, prefix, org, batch, existing); !s.ok()) return s;
    std::string live;
    for (const auto& id : existing) live += (live.empty() ? "" : " ") + id;
    std::vector<std::vector<std::string>> cmds;
    if (n > 0) {
      std::vector<std::string> unlink{"UNLINK"}, zrem{"ZREM", ukey},
          ozrem{"ZREM", org_tokens_key(prefix, org)};
      for (const auto& id : batch) {
        unlink.push_back(cred_key(prefix, org, id));
        zrem.push_back(id);
        ozrem.push_back(id);
      }
      cmds.push_back(std::move(unlink));
      cmds.push_back(std::move(zrem));
      cmds.push_back(std::move(ozrem));
    }
    if (!live.empty()) cmds.push_back(audit_command(prefix, org, "revoke_user", user, live, who));
    if (last) {
      // Published even when nothing was indexed: a credential deleted by
      // hand may still have a live session on some broker.
      cmds.push_back({"PUBLISH", revoked_channel(prefix),
                      format_revocation({Revocation::Kind::user, org, user})});
    }
    redis::Reply exec;
    if (Status s = transaction(c, cmds, exec); !s.ok()) return s;
    if (n > 0) revoked += exec->element[0]->integer;
    if (last) return Status::success();
  }
}

namespace {

Status bad_cursor() {
  return Status::invalid("cursor is not one this listing returned (pass next_cursor unchanged)");
}

// `<expiry ms>.<token id>`, as list_index_page hands it out (for the
// user's index and the org's alike).
bool parse_index_cursor(const std::string& cursor, std::int64_t& score, std::string& id) {
  const auto dot = cursor.find('.');
  std::uint64_t v = 0;
  if (dot == std::string::npos || !parse_u64(std::string_view(cursor).substr(0, dot), v) ||
      v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return false;
  }
  score = static_cast<std::int64_t>(v);
  id = cursor.substr(dot + 1);
  return validate_token_id(id) == Errc::ok;
}

struct IndexEntry {
  std::string id;
  std::string score;
};

// The index is ordered by (score, member), which is the listing's order, so
// a page starts at the cursor's score and steps over the members of that
// score up to and including the cursor's id.
Status list_index_page(redis::Client& c, const std::string& index_key, const ListRequest& req,
                       std::vector<IndexEntry>& out, std::string& next) {
  const std::int64_t now = now_ms();
  std::int64_t after_score = 0;
  std::string after_id;
  if (!req.cursor.empty() && !parse_index_cursor(req.cursor, after_score, after_id)) {
    return bad_cursor();
  }
  const bool resume = !req.cursor.empty() && after_score > now;
  const std::string from = resume ? std::to_string(after_score) : "(" + std::to_string(now);
  const std::size_t want = req.limit + 1;  // one more tells whether more remain
  for (std::size_t offset = 0;;) {
    redis::Reply r = c.command({"ZRANGE", index_key, from, "+inf", "BYSCORE", "LIMIT",
                                std::to_string(offset), std::to_string(want), "WITHSCORES"});
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0) return reply_status(c, r);
    for (std::size_t i = 0; i + 1 < r->elements && out.size() < want; i += 2) {
      IndexEntry e{redis::to_string(r->element[i]), redis::to_string(r->element[i + 1])};
      std::uint64_t score = 0;
      const bool at_cursor = resume && parse_u64(e.score, score) &&
                             static_cast<std::int64_t>(score) == after_score;
      if (at_cursor && e.id <= after_id) continue;
      out.push_back(std::move(e));
    }
    const std::size_t got = r->elements / 2;
    if (out.size() == want || got < want) break;
    offset += got;
  }
  if (out.size() > req.limit) {
    out.resize(req.limit);
    next = out.back().score + "." + out.back().id;
  }
  return Status::success();
}

}  // namespace

Status list_tokens(redis::Client& c, const std::string& prefix, const std::string& org,
                   const ListRequest& req, ListPage& out) {
  out = ListPage{};
  if (req.limit < 1 || req.limit > kMaxListLimit) {
    return Status::invalid("limit must be in 1-" + std::to_string(kMaxListLimit));
  }
  // The user's index, or the org's: both are ordered by expiry then id.
  const std::string key =
      req.user ? user_index_key(prefix, org, *req.user) : org_tokens_key(prefix, org);
  std::vector<IndexEntry> entries;
  if (Status s = list_index_page(c, key, req, entries, out.next_cursor); !s.ok()) return s;
  std::vector<std::string> ids;
  for (auto& e : entries) ids.push_back(std::move(e.id));
  // A member whose hash is gone (revoked by hand, say) is skipped; it
  // leaves the index when it expires.
  return fetch_credentials(c, prefix, org, ids, out.tokens);
}

}  // namespace shortcred::tokens
