// Our clients that went offline while Mosquitto may keep their session
// (v5 always — the plugin cannot see the Session Expiry Interval — and
// 3.1.1 with clean session 0), keyed by the `struct mosquitto *` that stays
// allocated as long as the session does. Only the SIGHUP re-check uses it:
// Mosquitto re-runs BASIC_AUTH for every client it holds, and an offline
// one must be told yes without a session (auth.cpp, recheck_on_reload) —
// but a fresh CONNECT that arrives in the same window (2.0.x serves
// WebSocket listeners between the re-check and the next tick) must be
// checked in full. A record matches only its own context, client id and
// credential, so a freed and reused pointer never passes for it.
//
// A record goes when its pointer is used by a new CONNECT (a freed context's
// memory is reused soon in a broker that accepts connections), or when its
// client id connects again. Not by age: the plugin cannot see how long
// Mosquitto keeps a session, and an offline session not recognised here
// would be refused by the re-check once its credential has expired — which
// 2.0.x answers with the double disconnect this exists to prevent. Beyond
// kMaxRecords the oldest goes (and evictions() counts it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sessions.hpp"  // StringMap

namespace shortcred::plugin {

struct OfflineSession {
  std::string client_id, org, user, token_id, secret_sha256;
  bool ext_auth = false;  // connected with method `shortcred`: no password
  std::int64_t left_ms = 0;
};

class OfflineSessions {
 public:
  static constexpr std::size_t kMaxRecords = 200'000;

  void left(const void* client, OfflineSession s);
  // The pointer now belongs to a new connection.
  void forget_client(const void* client);
  // The client id connected again: its old session was resumed or replaced.
  void forget_id(std::string_view client_id);
  const OfflineSession* find(const void* client) const;
  std::size_t size() const noexcept { return by_client_.size(); }
  std::uint64_t evictions() const noexcept { return evictions_; }

 private:
  void drop_oldest();
  std::unordered_map<const void*, OfflineSession> by_client_;
  StringMap<const void*> by_id_;
  std::uint64_t evictions_ = 0;
};

}  // namespace shortcred::plugin
