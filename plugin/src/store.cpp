#include "store.hpp"

namespace shortcred::plugin {

CredStore::Status CredStore::fetch(std::string_view org, std::string_view token_id, Fields& cred,
                                   Fields& org_fields, std::string& error) {
  const std::string ck = cred_key(prefix_, org, token_id);
  const std::string ok = org_key(prefix_, org);
  const bool reused = conn_.ok();
  Status s = round_trip(ck, ok, cred, org_fields, error);
  // A connection idle since before a Redis restart fails on first use; one
  // fresh attempt tells "stale socket" from "Redis down".
  if (s == Status::unavailable && reused) s = round_trip(ck, ok, cred, org_fields, error);
  return s;
}

CredStore::Status CredStore::round_trip(const std::string& cred_k, const std::string& org_k,
                                        Fields& cred, Fields& org_fields, std::string& error) {
  if (!conn_.ok()) {
    conn_ = redis::Connection::open(ep_, timeout_, error);
    if (!conn_.ok()) return Status::unavailable;
  }
  if (!conn_.append({"HGETALL", cred_k}) || !conn_.append({"HGETALL", org_k})) {
    error = "cannot queue commands: " + conn_.error();
    conn_ = {};
    return Status::unavailable;
  }
  redis::Reply rc = conn_.read_reply();
  redis::Reply ro = rc ? conn_.read_reply() : nullptr;
  if (!rc || !ro) {
    error = "Redis round trip failed: " + conn_.error();
    conn_ = {};
    return Status::unavailable;
  }
  // WRONGTYPE is about that key's data; any other error reply (NOAUTH,
  // LOADING, MASTERDOWN…) means Redis cannot serve us. Neither is "no credential".
  auto wrong_type = [](const redis::Reply& r) {
    return r->type == REDIS_REPLY_ERROR && std::string_view(r->str, r->len).starts_with("WRONGTYPE");
  };
  if (wrong_type(rc) || wrong_type(ro)) {
    error = wrong_type(rc) ? "the credential key is not a hash" : "the org key is not a hash";
    return Status::wrong_type;
  }
  if (rc->type != REDIS_REPLY_ARRAY || ro->type != REDIS_REPLY_ARRAY) {
    error = "unexpected Redis reply: " + redis::to_string(rc->type == REDIS_REPLY_ARRAY ? ro.get() : rc.get());
    return Status::unavailable;
  }
  cred = redis::to_pairs(rc.get());
  org_fields = redis::to_pairs(ro.get());
  return Status::ok;
}

}  // namespace shortcred::plugin
