// The plugin's CONNECT lookups: one pipelined round trip (HGETALL cred +
// HGETALL org per credential, GET of the client id's owner, and with
// presence the org's and the user's live sessions on other brokers),
// bounded by redis_timeout_ms. "Could not ask"
// (Unavailable) is never confused with "no such credential" (an empty hash),
// nor with a key of the wrong type written by hand (WrongType): that refuses
// this credential or org only, it is not an outage.
//
// The broker thread looks one credential up (2.0); the ConnectLookups worker
// (2.1) looks up everything queued at once, in the same round trip.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/redis_url.hpp"
#include "shortcred/schema.hpp"

namespace shortcred::plugin {

class CredStore {
 public:
  enum class Status { ok, unavailable, wrong_type };

  // Live (non-stale) sessions on other brokers, for connection caps across
  // brokers: one MULTI/EXEC of the org's session_seen count minus this
  // broker's (broker_seen), and the user's members not of this broker
  // (user_seen), so the counts are of one instant.
  struct Presence {
    std::string broker_id, user;        // in; broker_id empty: not asked
    std::int64_t stale_before_ms = 0;   // in
    std::int64_t org_elsewhere = 0, user_elsewhere = 0;  // out, when counted
    // out: false when Redis answered the lookup but not the counts (an error
    // reply: a hand-written key of another type, a Cluster slot being
    // migrated mid-transaction). The caps then count this broker only: a
    // limit on resources, not access, is not worth refusing valid credentials.
    bool counted = false;
  };
  struct Lookup {
    std::string org, token_id;  // in
    std::string client_id;      // in: also read its owner (empty: do not)
    Presence presence;          // in/out
    Status status = Status::unavailable;
    Fields cred, org_fields;  // on ok; `cred` empty: no such credential
    std::optional<std::string> owner;  // on ok: the client id's owner record, if any
    std::string error;        // otherwise; never carries the Redis password
    bool shared_failure = false;  // failed with the batch's first lookup, in one round trip
  };

  CredStore(RedisEndpoint ep, std::chrono::milliseconds timeout, std::string prefix)
      : ep_(std::move(ep)), timeout_(timeout), prefix_(std::move(prefix)) {}

  // Every lookup of `batch` in one pipelined round trip.
  void fetch_all(std::vector<Lookup>& batch);

 private:
  bool round_trip(std::vector<Lookup>& batch);
  RedisEndpoint ep_;
  std::chrono::milliseconds timeout_;
  std::string prefix_;
  redis::Client conn_;
};

}  // namespace shortcred::plugin
