// Every outcome the plugin counts, declared in one list (the Envoy ext_authz
// way). Published under $SYS/broker/shortcred/<name> and logged periodically.
// Touched only on the broker thread, so plain integers suffice.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace shortcred::plugin {

#define SHORTCRED_COUNTERS(X)                              \
  X(auth_ok, "auth/ok")                                    \
  X(auth_from_memory, "auth/from_memory")                  \
  X(auth_offline_skipped, "auth/offline_skipped")          \
  X(auth_delayed, "auth/delayed")                          \
  X(auth_abandoned, "auth/abandoned")                      \
  X(auth_failed_malformed, "auth/failed/malformed")        \
  X(auth_failed_unknown_token, "auth/failed/unknown_token") \
  X(auth_failed_bad_secret, "auth/failed/bad_secret")      \
  X(auth_failed_user_mismatch, "auth/failed/user_mismatch") \
  X(auth_failed_expired, "auth/failed/expired")            \
  X(auth_failed_org_disabled, "auth/failed/org_disabled")  \
  X(auth_failed_org_missing, "auth/failed/org_missing")    \
  X(auth_failed_client_id, "auth/failed/client_id")        \
  X(auth_failed_connection_limit, "auth/failed/connection_limit") \
  X(auth_failed_redis, "auth/failed/redis_unavailable")    \
  X(auth_failed_internal, "auth/failed/internal")          \
  X(auth_throttled_address, "auth/throttled/address")      \
  X(auth_throttled_token, "auth/throttled/token")          \
  X(acl_denied_publish, "acl/denied/publish")              \
  X(acl_denied_subscribe, "acl/denied/subscribe")          \
  X(acl_denied_deliver, "acl/denied/deliver")              \
  X(acl_offline_queued, "acl/offline_queued")              \
  X(rate_limited, "rate_limited")                          \
  X(kicked_expired, "kicked/expired")                      \
  X(kicked_revoked, "kicked/revoked")                      \
  X(kicked_org_disabled, "kicked/org_disabled")            \
  X(kicked_org_missing, "kicked/org_missing")              \
  X(kicked_client, "kicked/client")                        \
  X(presence_writes, "presence/writes")                    \
  X(presence_errors, "presence/errors")                    \
  X(presence_trimmed, "presence/trimmed")                  \
  X(lease_requests, "lease/requests")                      \
  X(lease_granted, "lease/granted")                        \
  X(lease_errors, "lease/errors")                          \
  X(lease_script_loads, "lease/script_loads")              \
  X(redis_errors, "redis/errors")

struct Counters {
#define SHORTCRED_FIELD(field, path) std::uint64_t field = 0;
  SHORTCRED_COUNTERS(SHORTCRED_FIELD)
#undef SHORTCRED_FIELD

  // (path, value) for every counter, in declaration order.
  std::vector<std::pair<std::string_view, std::uint64_t>> items() const {
    return {
#define SHORTCRED_ITEM(field, path) {path, field},
        SHORTCRED_COUNTERS(SHORTCRED_ITEM)
#undef SHORTCRED_ITEM
    };
  }
};

// One log line: "auth/ok=3 auth/failed/bad_secret=1 … sessions/live=2 breaker=closed".
std::string format_counters(const Counters& c, std::size_t live_sessions, bool breaker_open);

}  // namespace shortcred::plugin
