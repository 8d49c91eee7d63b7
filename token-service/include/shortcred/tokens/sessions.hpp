// Presence across brokers, read side (DESIGN.md part 2, "Many brokers";
// keys in shortcred/presence.hpp): the live MQTT sessions of an org on every
// broker, and kicking one by client id. Shared by shortcred-tokend
// (GET /v2/sessions, DELETE /v2/sessions/<client id>) and shortcredctl
// (session list / kick). Members older than 3 presence intervals are stale
// (a crashed broker): never listed, and trimmed (with their hash fields) by
// each list or kick that looks.
#pragma once

#include <json/json.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/tokens/status.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {

inline constexpr int kDefaultPresenceIntervalS = 10;

struct SessionInfo {
  std::string client_id, broker, user, token;
  std::int64_t connected_at_ms = 0, seen_at_ms = 0;
  int proto = 0;
};

// Live sessions of `org` (of one user when `user` is set), oldest first.
Status list_sessions(redis::Client& c, const std::string& prefix, const std::string& org,
                     const std::optional<std::string>& user, int interval_s,
                     std::vector<SessionInfo>& out);

// Publishes `client <org> <client id>` on the revocation channel when a live
// session of `org` has that client id (the broker holding it disconnects it,
// no will), with a `session_kick` audit entry (the session's user and token,
// `client_id`) in the same transaction; not_found otherwise, so another
// org's client stays invisible.
Status kick_session(redis::Client& c, const std::string& prefix, const std::string& org,
                    const std::string& client_id, int interval_s, const AuditInfo& who);

// `{"sessions":[{"client_id","user","token","broker","proto","connected_at","seen_at"}]}`,
// times in RFC 3339.
Json::Value sessions_json(const std::vector<SessionInfo>& sessions);

}  // namespace shortcred::tokens
