// Presence across brokers (DESIGN.md part 2, "Many brokers"): the key names,
// field and value formats of the sessions hash and its heartbeat sets, shared
// by the plugin (writer), shortcred-tokend and shortcredctl (readers) so they
// cannot disagree. Pure formatting and parsing.
//
//   <prefix>{<org>}:sessions              hash  <broker id>|<client id> → JSON
//                                               {"user","token","connected_at","proto","broker"}
//   <prefix>{<org>}:session_seen          zset  <broker id>|<client id> → last heartbeat ms
//   <prefix>{<org>}:user_seen:<user>      zset  the same members, one user's sessions
//   <prefix>{<org>}:broker_seen:<broker>  zset  the same members, one broker's sessions
//   <prefix>{<org>}:quota                 hash  the org's global publish bucket and leases
//
// The two per-user and per-broker sets let a CONNECT count the org's and the
// user's live sessions on other brokers with O(log n) commands in its one
// round trip; they expire by themselves 3 intervals after their last refresh.
// A member whose heartbeat is older than 3 presence intervals is stale (its
// broker crashed or lost Redis) and is trimmed by whoever sees it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shortcred/errc.hpp"

namespace shortcred {

std::string sessions_key(std::string_view prefix, std::string_view org);
std::string session_seen_key(std::string_view prefix, std::string_view org);
std::string user_seen_key(std::string_view prefix, std::string_view org, std::string_view user);
std::string broker_seen_key(std::string_view prefix, std::string_view org, std::string_view broker);
std::string quota_key(std::string_view prefix, std::string_view org);

// `[A-Za-z0-9._:-]{1,64}`: never `|`, so a presence field splits on its first `|`.
Errc validate_broker_id(std::string_view id) noexcept;
// A client id as a kick names it: 1-65535 bytes (MQTT's limit), no NUL.
bool valid_kick_client_id(std::string_view id) noexcept;

std::string presence_field(std::string_view broker, std::string_view client_id);
struct PresenceField {
  std::string_view broker, client_id;
};
std::optional<PresenceField> split_presence_field(std::string_view field) noexcept;

// The hash value of one session.
struct PresenceRecord {
  std::string user, token, broker;
  std::int64_t connected_at_ms = 0;
  int proto = 0;  // MQTT protocol level: 3, 4 (3.1.1) or 5
};
std::string encode_presence(const PresenceRecord& r);

// Members whose heartbeat (ms) is below this are stale.
inline std::int64_t presence_stale_before(std::int64_t now_ms, int interval_s) noexcept {
  return now_ms - 3LL * interval_s * 1000;
}

// Atomic trim of an org's stale members: KEYS = sessions, session_seen;
// ARGV = cutoff ms. Removes each member of session_seen scored below the
// cutoff and its sessions field; returns how many. Re-reads the scores
// inside the script, so a member refreshed meanwhile is kept.
inline constexpr std::string_view kTrimStaleScript = R"lua(
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[1])
for i = 1, #stale, 500 do
  local chunk = {unpack(stale, i, math.min(i + 499, #stale))}
  redis.call('HDEL', KEYS[1], unpack(chunk))
  redis.call('ZREM', KEYS[2], unpack(chunk))
end
return #stale
)lua";

}  // namespace shortcred
