// Live sessions of our clients, keyed by Mosquitto's `struct mosquitto *`
// (opaque here) and indexed by client id, by org and by token id. A session
// holds everything the per-message path needs — compiled policy, expiry,
// rate buckets — so ACL checks never touch Redis or allocate.
//
// Broker thread only: no locking.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "shortcred/policy.hpp"
#include "shortcred/rate_limit.hpp"
#include "shortcred/schema.hpp"

namespace shortcred::plugin {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};
template <class V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// Plugin-wide defaults that an org hash field overrides.
struct LimitDefaults {
  std::int64_t pub_rate = 0;
  std::int64_t pub_burst = 0;
  std::int64_t max_connections = 0;
};

struct Session;
struct OrgCounts;

// Org and user state (limits, buckets) outlives the last session for as long
// as its buckets take to refill: a client that reconnects after being
// rate-limited must find its bucket as it left it, not full again.
struct UserState {
  TokenBucket bucket;
  std::size_t live = 0;
  std::int64_t idle_since_ns = 0;  // monotonic; 0 while it has live sessions
};

struct OrgState {
  std::string org;
  bool disabled = false;
  std::int64_t pub_rate = 0, pub_burst = 0, max_connections = 0;
  std::int64_t user_pub_rate = 0, user_max_connections = 0;
  TokenBucket bucket;
  // pub_rate_scope global (quota_lease.hpp): the slice leased from the org's
  // Redis bucket, spent by the publish path instead of `bucket`.
  bool pub_rate_global = false;
  std::int64_t leased = 0;
  bool lease_pending = false;  // a request is with the background thread
  std::int64_t last_rate_log_ns = 0;  // 0: never logged
  std::int64_t idle_since_ns = 0;     // monotonic; 0 while it has (or never had) sessions
  std::unordered_set<Session*> sessions;
  StringMap<UserState> users;

  // Applies an org hash (absent fields take `d`), keeping bucket fill levels.
  void apply(const OrgRecord& r, const LimitDefaults& d, std::int64_t now_ns);
};

struct Session {
  const void* client = nullptr;
  std::string org, user, token_id, client_id;
  std::string secret_sha256;  // to re-check an unchanged credential from memory
  std::int64_t expires_at_ms = 0;
  bool has_scope = false;
  std::vector<Rule> scope_rules;  // parsed once at CONNECT, kept for recompiles
  std::optional<Policy> policy;
  std::uint64_t templates_generation = 0;
  OrgState* org_state = nullptr;
  UserState* user_state = nullptr;
  // The org's per-org metric counts (OrgCounterTable: never freed, so the
  // ACL path counts through this pointer with no lookup).
  OrgCounts* org_counts = nullptr;
  // Revoked or org disabled: every check denies until the tick kicks it.
  bool doomed = false;
  // Connected with MQTT 5 enhanced authentication (method `shortcred`): no
  // password field, so a SIGHUP re-check cannot compare one.
  bool ext_auth = false;
  // When its client id's owner record was last written (wall ms).
  std::int64_t owner_written_ms = 0;
  // For its presence record (shortcred/presence.hpp).
  std::int64_t connected_at_ms = 0;
  int proto = 0;
};

class SessionTable {
 public:
  Session* find(const void* client) noexcept {
    auto it = by_client_.find(client);
    return it == by_client_.end() ? nullptr : it->second.get();
  }
  Session* find_by_client_id(std::string_view id) noexcept {
    auto it = by_client_id_.find(id);
    return it == by_client_id_.end() ? nullptr : it->second;
  }
  // The org's state, created with `d` limits if absent.
  OrgState& org_state(std::string_view org);
  OrgState* find_org(std::string_view org) noexcept {
    auto it = orgs_.find(org);
    return it == orgs_.end() ? nullptr : &it->second;
  }

  // Adds `s` (replacing a session of the same client pointer), wires it to its
  // org and user state and the indexes. Returns the stored session.
  Session& insert(std::unique_ptr<Session> s);
  // Drops the session of `client`, if any. The client id index entry goes
  // only if it still points at this session: on a duplicate-client-id
  // takeover Mosquitto disconnects the old context after the new one
  // authenticated, and the new session must stay indexed.
  void erase(const void* client) { detach(client); }
  // As erase(), but hands the session over instead of destroying it. Its
  // org_state/user_state pointers stay valid until the next sweep_idle().
  std::unique_ptr<Session> detach(const void* client);
  // Forgets org and user state without sessions whose buckets have had
  // time to refill since their last session left.
  void sweep_idle(std::int64_t now_ns);
  // Points the client-id index at `s` again (after a session that had taken
  // the entry over was dropped).
  void index_client_id(Session& s) { by_client_id_[s.client_id] = &s; }
  // Gives a live session another token id (MQTT 5 re-authentication),
  // keeping the token index in step; org, user and client id are unchanged.
  void retoken(Session& s, std::string token_id);

  std::vector<Session*> by_token(std::string_view org, std::string_view token_id);
  std::vector<Session*> by_user(std::string_view org, std::string_view user);
  std::vector<Session*> by_org(std::string_view org);

  // Forgets an org's state that a refused CONNECT just created (never had
  // a session, so nothing to remember).
  void drop_org_if_unused(std::string_view org) {
    auto it = orgs_.find(org);
    if (it != orgs_.end() && it->second.sessions.empty() && it->second.users.empty() &&
        it->second.idle_since_ns == 0) {
      orgs_.erase(it);
    }
  }
  std::size_t org_count() const noexcept { return orgs_.size(); }

  std::size_t size() const noexcept { return by_client_.size(); }
  template <class F>
  void for_each(F&& f) {
    for (auto& [k, s] : by_client_) f(*s);
  }
  template <class F>
  void for_each_org(F&& f) {
    for (auto& [k, o] : orgs_) f(o);
  }

 private:
  std::unordered_map<const void*, std::unique_ptr<Session>> by_client_;
  StringMap<Session*> by_client_id_;
  std::unordered_multimap<std::string, Session*> by_token_;
  StringMap<OrgState> orgs_;
};

}  // namespace shortcred::plugin
