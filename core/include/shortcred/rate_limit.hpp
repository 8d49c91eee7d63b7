// Token bucket with an injected clock (nanoseconds from any monotonic origin).
#pragma once

#include <cstdint>

namespace shortcred {

class TokenBucket {
 public:
  // rate tokens/s refilled up to `burst`; rate <= 0 means unlimited.
  // A burst <= 0 with a positive rate defaults to max(1, rate).
  TokenBucket(double rate = 0, double burst = 0, std::int64_t now_ns = 0) noexcept;

  // Takes `n` tokens if available.
  bool try_take(std::int64_t now_ns, double n = 1) noexcept;
  // Seconds until `n` tokens will be available (0 if now).
  double seconds_until(std::int64_t now_ns, double n = 1) noexcept;
  // Changes rate/burst keeping the current fill (capped at the new burst).
  void reconfigure(double rate, double burst, std::int64_t now_ns) noexcept;

  bool unlimited() const noexcept { return rate_ <= 0; }
  double rate() const noexcept { return rate_; }
  double burst() const noexcept { return burst_; }

 private:
  void refill(std::int64_t now_ns) noexcept;
  double rate_;
  double burst_;
  double tokens_;
  std::int64_t last_ns_;
};

}  // namespace shortcred
