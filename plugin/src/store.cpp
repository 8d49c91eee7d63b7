#include "store.hpp"

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

}  // namespace

CredStore::Status CredStore::fetch(std::string_view org, std::string_view token_id, Fields& cred,
                                   Fields& org_fields, std::string& error) {
  std::vector<Lookup> one(1);
  one[0].org = org;
  one[0].token_id = token_id;
  fetch_all(one);
  cred = std::move(one[0].cred);
  org_fields = std::move(one[0].org_fields);
  error = std::move(one[0].error);
  return one[0].status;
}

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
    }
    conn_ = {};
    return false;
  };
  if (!conn_.ok()) {
    std::string err;
    conn_ = redis::Connection::open(ep_, timeout_, err);
    if (!conn_.ok()) return fail_all(err);
  }
  for (const Lookup& l : batch) {
    if (!conn_.append({"HGETALL", cred_key(prefix_, l.org, l.token_id)}) ||
        !conn_.append({"HGETALL", org_key(prefix_, l.org)})) {
      return fail_all("cannot queue commands: " + conn_.error());
    }
  }
  for (Lookup& l : batch) {
    redis::Reply rc = conn_.read_reply();
    redis::Reply ro = rc ? conn_.read_reply() : nullptr;
    if (!rc || !ro) return fail_all("Redis round trip failed: " + conn_.error());
    judge(l, rc, ro);
  }
  return true;
}

}  // namespace shortcred::plugin
