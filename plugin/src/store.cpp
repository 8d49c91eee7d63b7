#include "store.hpp"

#include <algorithm>

#include "shortcred/client_owner.hpp"
#include "shortcred/presence.hpp"

namespace shortcred::plugin {
namespace {

// WRONGTYPE is about that key's data; any other error reply (NOAUTH,
// LOADING, MASTERDOWN…) means Redis cannot serve us.
bool wrong_type(const redis::Reply& r) {
  return r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("WRONGTYPE");
}

void judge(CredStore::Lookup& l, const redis::Reply& rc, const redis::Reply& ro) {
  if (wrong_type(rc) || wrong_type(ro)) {
    l.status = CredStore::Status::wrong_type;
    l.error = wrong_type(rc) ? "the credential key is not a hash" : "the org key is not a hash";
  } else if (rc->type != REDIS_REPLY_ARRAY || ro->type != REDIS_REPLY_ARRAY) {
    l.status = CredStore::Status::unavailable;
    l.error = "unexpected Redis reply: " +
              redis::to_string(rc->type == REDIS_REPLY_ARRAY ? ro.get() : rc.get());
  } else {
    l.status = CredStore::Status::ok;
    l.cred = redis::to_pairs(rc.get());
    l.org_fields = redis::to_pairs(ro.get());
  }
}

bool append_presence(redis::Client& c, const std::string& prefix, const CredStore::Lookup& l) {
  const CredStore::Presence& p = l.presence;
  const std::string cutoff = std::to_string(p.stale_before_ms);
  return c.append({"MULTI"}) && c.append({"ZCOUNT", session_seen_key(prefix, l.org), cutoff, "+inf"}) &&
         c.append({"ZCOUNT", broker_seen_key(prefix, l.org, p.broker_id), cutoff, "+inf"}) &&
         c.append({"ZRANGEBYSCORE", user_seen_key(prefix, l.org, p.user), cutoff, "+inf"}) &&
         c.append({"EXEC"});
}

// The replies of append_presence: false on I/O failure. An EXEC that did
// not answer three counts leaves `counted` false (see CredStore::Presence).
bool read_presence(redis::Client& c, CredStore::Lookup& l) {
  redis::Reply exec;
  for (int i = 0; i < 5; ++i) {
    exec = c.read_reply();
    if (!exec) return false;
  }
  if (l.status != CredStore::Status::ok) return true;
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements != 3 ||
      exec->element[0]->type != REDIS_REPLY_INTEGER || exec->element[1]->type != REDIS_REPLY_INTEGER ||
      exec->element[2]->type != REDIS_REPLY_ARRAY) {
    return true;
  }
  CredStore::Presence& p = l.presence;
  p.org_elsewhere = std::max<long long>(0, exec->element[0]->integer - exec->element[1]->integer);
  const std::string mine = p.broker_id + "|";
  p.user_elsewhere = 0;
  const redisReply* members = exec->element[2];
  for (std::size_t i = 0; i < members->elements; ++i) {
    if (!redis::to_string(members->element[i]).starts_with(mine)) ++p.user_elsewhere;
  }
  p.counted = true;
  return true;
}

}  // namespace

void CredStore::fetch_all(std::vector<Lookup>& batch) {
  const bool reused = conn_.ok();
  // A connection idle since before a Redis restart fails on first use; one
  // fresh attempt tells "stale socket" from "Redis down".
  if (!round_trip(batch) && reused) round_trip(batch);
}

bool CredStore::round_trip(std::vector<Lookup>& batch) {
  auto fail_all = [&](const std::string& why) {
    for (Lookup& l : batch) {
      l.status = Status::unavailable;
      l.error = why;
      l.shared_failure = &l != &batch.front();
    }
    conn_ = {};
    return false;
  };
  for (Lookup& l : batch) {  // a retry starts afresh
    l.cred.clear();
    l.org_fields.clear();
    l.owner.reset();
    l.presence.org_elsewhere = l.presence.user_elsewhere = 0;
    l.presence.counted = false;
    l.error.clear();
    l.shared_failure = false;
  }
  if (!conn_.ok()) {
    std::string err;
    conn_ = redis::Client::open(ep_, timeout_, err);
    if (!conn_.ok()) return fail_all(err);
  }
  for (const Lookup& l : batch) {
    if (!conn_.append({"HGETALL", cred_key(prefix_, l.org, l.token_id)}) ||
        !conn_.append({"HGETALL", org_key(prefix_, l.org)}) ||
        (!l.client_id.empty() && !conn_.append({"GET", client_owner_key(prefix_, l.client_id)})) ||
        (!l.presence.broker_id.empty() && !append_presence(conn_, prefix_, l))) {
      return fail_all("cannot queue commands: " + conn_.error());
    }
  }
  for (Lookup& l : batch) {
    redis::Reply rc = conn_.read_reply();
    redis::Reply ro = rc ? conn_.read_reply() : nullptr;
    redis::Reply rw = ro && !l.client_id.empty() ? conn_.read_reply() : nullptr;
    if (!rc || !ro || (!l.client_id.empty() && !rw)) {
      return fail_all("Redis round trip failed: " + conn_.error());
    }
    judge(l, rc, ro);
    if (!l.presence.broker_id.empty() && !read_presence(conn_, l)) {
      return fail_all("Redis round trip failed: " + conn_.error());
    }
    if (l.status != Status::ok || !rw) continue;
    if (rw->type == REDIS_REPLY_STRING) {
      l.owner = std::string(rw->str, rw->len);
    } else if (rw->type != REDIS_REPLY_NIL) {
      l.owner = std::string();  // not a string: unparsable, refused as foreign
    }
  }
  return true;
}

}  // namespace shortcred::plugin
