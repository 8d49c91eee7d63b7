// Per-org counts behind the metrics' per-org series (auth failures, ACL
// denials, rate-limited publishes). Broker thread only, like Counters.
//
// An org gets a slot of its own only once its org hash has been read from
// Redis, so client-chosen org names in forged usernames cannot fill the
// table; at most kMaxTracked orgs get one. Everything else — a malformed
// username, an org never seen in Redis, orgs beyond the bound — counts in
// the overflow slot, which is always part of org="other". Slots are never
// freed, so a session keeps a plain pointer to its org's slot and the
// publish/ACL path counts with one increment, no lookup, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sessions.hpp"

namespace shortcred::plugin {

struct OrgCounts {
  std::uint64_t auth_failures = 0;  // every auth/failed/* refusal
  std::uint64_t acl_denials = 0;    // acl/denied/{publish,subscribe,deliver}
  std::uint64_t rate_limited = 0;   // rate_limited
};

class OrgCounterTable {
 public:
  static constexpr std::size_t kMaxTracked = 10000;

  // The slot of an org whose hash Redis has returned (created if absent);
  // the overflow slot once kMaxTracked orgs have one. The address is stable
  // for the table's life.
  OrgCounts& slot(std::string_view org) {
    if (auto it = slots_.find(org); it != slots_.end()) return it->second;
    if (slots_.size() >= kMaxTracked) return overflow_;
    return slots_.try_emplace(std::string(org)).first->second;
  }
  // The org's slot if it has one, else the overflow slot (never creates).
  OrgCounts& slot_or_overflow(std::string_view org) noexcept {
    auto it = slots_.find(org);
    return it == slots_.end() ? overflow_ : it->second;
  }
  const OrgCounts& overflow() const noexcept { return overflow_; }
  std::size_t size() const noexcept { return slots_.size(); }
  template <class F>
  void for_each(F&& f) const {
    for (const auto& [org, counts] : slots_) f(std::string_view(org), counts);
  }

 private:
  StringMap<OrgCounts> slots_;
  OrgCounts overflow_;
};

}  // namespace shortcred::plugin
