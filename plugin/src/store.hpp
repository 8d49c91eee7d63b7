// The broker thread's view of Redis: one pipelined round trip per CONNECT
// (HGETALL cred + HGETALL org), bounded by redis_timeout_ms. "Could not ask"
// (Unavailable) is never confused with "no such credential" (an empty hash),
// nor with a key of the wrong type written by hand (WrongType): that refuses
// this credential or org only, it is not an outage.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "shortcred/redis/connection.hpp"
#include "shortcred/redis_url.hpp"
#include "shortcred/schema.hpp"

namespace shortcred::plugin {

class CredStore {
 public:
  enum class Status { ok, unavailable, wrong_type };

  CredStore(RedisEndpoint ep, std::chrono::milliseconds timeout, std::string prefix)
      : ep_(std::move(ep)), timeout_(timeout), prefix_(std::move(prefix)) {}

  // On ok, `cred` is empty when the credential does not exist (expired by
  // Redis, revoked, never issued). `error` is set on unavailable; it never
  // carries the Redis password.
  Status fetch(std::string_view org, std::string_view token_id, Fields& cred, Fields& org_fields,
               std::string& error);

 private:
  Status round_trip(const std::string& cred_k, const std::string& org_k, Fields& cred,
                    Fields& org_fields, std::string& error);
  RedisEndpoint ep_;
  std::chrono::milliseconds timeout_;
  std::string prefix_;
  redis::Connection conn_;
};

}  // namespace shortcred::plugin
