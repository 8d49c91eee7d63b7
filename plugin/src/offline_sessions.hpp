// Our clients that went offline while Mosquitto may keep their session
// (v5 always — the plugin cannot see the Session Expiry Interval — and
// 3.1.1 with clean session 0), keyed by the `struct mosquitto *` that stays
// allocated as long as the session does. Two uses:
//
//  - The SIGHUP re-check (auth.cpp, recheck_on_reload): Mosquitto re-runs
//    BASIC_AUTH for every client it holds, and an offline one must be told
//    yes without a session — but a fresh CONNECT that arrives in the same
//    window (2.0.x serves WebSocket listeners between the re-check and the
//    next tick) must be checked in full.
//  - Messages queued for the offline session (acl.cpp): Mosquitto asks
//    ACL READ when it queues a message for it, and the record answers with
//    the policy of the session's last credential — templates and scope,
//    compiled as it was online — until that credential expires or is
//    revoked. A revoked record (revocation message, revalidation, org
//    disabled or deleted) is marked denied, its policy freed: it must still
//    be recognised by the re-check, but nothing is queued for it any more.
//
// A record matches only its own context, client id and credential, so a
// freed and reused pointer never passes for it.
//
// A record goes when its pointer is used by a new CONNECT (a freed context's
// memory is reused soon in a broker that accepts connections), or when its
// client id connects again. Not by age: the plugin cannot see how long
// Mosquitto keeps a session, and an offline session not recognised here
// would be refused by the re-check once its credential has expired — which
// 2.0.x answers with the double disconnect this exists to prevent. Beyond
// kMaxRecords the oldest goes (and evictions() counts it): messages for it
// are then answered DEFER, as for a client that is not ours.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "sessions.hpp"  // StringMap, Policy, Rule

namespace shortcred::plugin {

struct OfflineSession {
  std::string client_id, org, user, token_id, secret_sha256;
  bool ext_auth = false;  // connected with method `shortcred`: no password
  std::int64_t left_ms = 0;
  // The last credential's policy, for messages queued while offline.
  std::int64_t expires_at_ms = 0;
  bool has_scope = false;
  std::vector<Rule> scope_rules;  // kept to recompile on a template reload
  std::optional<Policy> policy;   // empty once denied
  OrgCounts* org_counts = nullptr;  // never freed (OrgCounterTable)
  // Revoked, or its org disabled or deleted: every READ is denied.
  bool denied = false;
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
  // The record of `client` only if it also names `client_id` (allocation
  // free: the ACL path calls it).
  OfflineSession* find(const void* client, std::string_view client_id) noexcept;
  // Marks the records of `org` that `pred` selects denied (revocations name
  // an org: only its records are looked at); returns how many it marked.
  template <class Pred>
  std::size_t deny_if(std::string_view org, Pred&& pred) {
    auto o = by_org_.find(org);
    if (o == by_org_.end()) return 0;
    std::size_t n = 0;
    for (const void* client : o->second) {
      OfflineSession& s = by_client_.find(client)->second;
      if (s.denied || !pred(s)) continue;
      s.denied = true;
      s.policy.reset();
      s.scope_rules = {};
      ++n;
    }
    return n;
  }
  template <class F>
  void for_each(F&& f) {
    for (auto& [k, s] : by_client_) f(s);
  }
  std::size_t size() const noexcept { return by_client_.size(); }
  std::uint64_t evictions() const noexcept { return evictions_; }

 private:
  void drop_oldest();
  void erase(std::unordered_map<const void*, OfflineSession>::iterator it);
  std::unordered_map<const void*, OfflineSession> by_client_;
  StringMap<const void*> by_id_;
  StringMap<std::unordered_set<const void*>> by_org_;
  std::uint64_t evictions_ = 0;
};

}  // namespace shortcred::plugin
