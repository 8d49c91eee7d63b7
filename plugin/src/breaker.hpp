// Circuit breaker for the broker thread's Redis connection. While Redis is
// known to be down, CONNECTs are refused at once instead of each waiting for
// redis_timeout_ms; after an exponentially growing pause one CONNECT is let
// through as a probe. Never fails open: "open" means refuse.
//
// One slow reply (another tenant's heavy command stalling Redis past the
// timeout) is not an outage: the breaker opens after kFailuresToOpen
// failures in a row; any success resets the count.
#pragma once

#include <algorithm>
#include <cstdint>

namespace shortcred::plugin {

class Breaker {
 public:
  static constexpr std::int64_t kFirstBackoffMs = 100;
  static constexpr std::int64_t kMaxBackoffMs = 2000;
  static constexpr int kFailuresToOpen = 3;

  // True when a Redis round trip may be attempted now: closed, or the one
  // probe is due (further CONNECTs are refused until its answer, which
  // matters where lookups run asynchronously).
  bool allow(std::int64_t now_ms) noexcept {
    if (!open_) return true;
    // A probe whose answer never came back (its attempt ended some other
    // way) does not hold the breaker shut: after the longest backoff another
    // probe may go.
    const bool probe_lost = probing_ && now_ms - probe_started_ms_ >= kMaxBackoffMs;
    if ((probing_ && !probe_lost) || now_ms < next_probe_ms_) return false;
    probing_ = true;
    probe_started_ms_ = now_ms;
    return true;
  }
  void success() noexcept {
    open_ = false;
    probing_ = false;
    failures_ = 0;
    backoff_ms_ = kFirstBackoffMs;
  }
  void failure(std::int64_t now_ms) noexcept {
    probing_ = false;
    if (open_) {
      backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
    } else if (++failures_ < kFailuresToOpen) {
      return;
    }
    open_ = true;
    next_probe_ms_ = now_ms + backoff_ms_;
  }
  // The background thread saw Redis answer again: probe at the next CONNECT.
  void hint_recovered(std::int64_t now_ms) noexcept {
    if (open_) next_probe_ms_ = std::min(next_probe_ms_, now_ms);
  }
  bool open() const noexcept { return open_; }

 private:
  bool open_ = false;
  int failures_ = 0;  // in a row, while closed
  bool probing_ = false;
  std::int64_t probe_started_ms_ = 0;
  std::int64_t backoff_ms_ = kFirstBackoffMs;
  std::int64_t next_probe_ms_ = 0;
};

}  // namespace shortcred::plugin
