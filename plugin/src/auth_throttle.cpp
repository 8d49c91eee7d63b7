#include "auth_throttle.hpp"

#include <algorithm>

namespace shortcred::plugin {

AuthThrottle::Verdict AuthThrottle::check(std::string_view address, std::string_view credential,
                                          std::int64_t now_ns) {
  if (auto t = tokens_.find(credential); t != tokens_.end() && now_ns < t->second) {
    t->second = now_ns + token_hold_ns_;
    return Verdict::token_refused;
  }
  auto a = addresses_.find(address);
  if (a == addresses_.end() || now_ns >= a->second.blocked_until_ns) return Verdict::ask_redis;
  if (now_ns - a->second.last_probe_ns >= kProbeIntervalNs) {
    a->second.last_probe_ns = now_ns;
    return Verdict::ask_redis;
  }
  return Verdict::address_blocked;
}

bool AuthThrottle::failed(std::string_view address, std::string_view credential, bool dead,
                          std::int64_t now_ns) {
  if (dead && token_hold_ns_ > 0 && tokens_.size() < kMaxEntries) {
    tokens_.insert_or_assign(std::string(credential), now_ns + token_hold_ns_);
  }
  if (per_address_ <= 0) return false;
  auto it = addresses_.find(address);
  if (it == addresses_.end()) {
    if (addresses_.size() >= kMaxEntries) return false;  // full: untracked, still asks Redis
    const double burst = per_address_;
    it = addresses_.emplace(std::string(address), Address{TokenBucket(burst / 60.0, burst, now_ns)})
             .first;
  }
  Address& a = it->second;
  if (a.failures.try_take(now_ns)) return false;
  const bool starts = now_ns >= a.blocked_until_ns;
  a.block_ns = a.block_ns == 0 ? kFirstBlockNs : std::min(a.block_ns * 2, kMaxBlockNs);
  a.blocked_until_ns = now_ns + a.block_ns;
  // The next lookup while blocked is due a probe interval after this failure.
  a.last_probe_ns = now_ns;
  return starts;
}

void AuthThrottle::succeeded(std::string_view address) {
  if (auto it = addresses_.find(address); it != addresses_.end()) {
    it->second.blocked_until_ns = 0;
    it->second.block_ns = 0;
  }
}

void AuthThrottle::sweep(std::int64_t now_ns) {
  std::erase_if(tokens_, [&](const auto& t) { return now_ns >= t.second; });
  for (auto it = addresses_.begin(); it != addresses_.end();) {
    Address& a = it->second;
    // Nothing to remember once unblocked with a full bucket again.
    const bool idle = now_ns >= a.blocked_until_ns &&
                      a.failures.seconds_until(now_ns, a.failures.burst()) <= 0;
    it = idle ? addresses_.erase(it) : std::next(it);
  }
}

}  // namespace shortcred::plugin
