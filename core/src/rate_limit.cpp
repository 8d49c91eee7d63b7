#include "shortcred/rate_limit.hpp"

#include <algorithm>
#include <limits>

namespace shortcred {
namespace {

// Refill sums many small float increments; a token that is due must not be
// refused for being one rounding error short of whole.
constexpr double kEpsilon = 1e-9;

// NaN and negatives mean "no limit" rather than a bucket that never refills.
double sanitize_rate(double rate) noexcept {
  return rate > 0 ? rate : 0;
}

double effective_burst(double rate, double burst) noexcept {
  if (rate > 0 && !(burst > 0)) return std::max(1.0, rate);
  return burst;
}

}  // namespace

TokenBucket::TokenBucket(double rate, double burst, std::int64_t now_ns) noexcept
    : rate_(sanitize_rate(rate)),
      burst_(effective_burst(rate_, burst)),
      tokens_(burst_),  // starts full: a fresh connection may use its burst at once
      last_ns_(now_ns) {}

void TokenBucket::refill(std::int64_t now_ns) noexcept {
  // A clock that went backwards (a reset origin, a skewed source) credits
  // nothing and re-anchors; time is credited again once it moves forward.
  // Never a negative credit, never a bucket stuck until the old time returns.
  if (now_ns > last_ns_ && !unlimited()) {
    // Unsigned difference: now - last cannot overflow when now > last.
    const auto elapsed_ns =
        static_cast<std::uint64_t>(now_ns) - static_cast<std::uint64_t>(last_ns_);
    tokens_ = std::min(burst_, tokens_ + static_cast<double>(elapsed_ns) / 1e9 * rate_);
  }
  last_ns_ = now_ns;
}

bool TokenBucket::try_take(std::int64_t now_ns, double n) noexcept {
  if (unlimited()) return true;
  refill(now_ns);
  if (tokens_ + kEpsilon < n) return false;
  tokens_ = std::max(0.0, tokens_ - n);  // the epsilon must not go negative
  return true;
}

double TokenBucket::seconds_until(std::int64_t now_ns, double n) noexcept {
  if (unlimited()) return 0;
  refill(now_ns);
  if (tokens_ + kEpsilon >= n) return 0;
  // More than the bucket can ever hold: say so rather than promise a time.
  if (n > burst_) return std::numeric_limits<double>::infinity();
  return (n - tokens_) / rate_;
}

void TokenBucket::reconfigure(double rate, double burst, std::int64_t now_ns) noexcept {
  const bool was_unlimited = unlimited();
  refill(now_ns);  // credit the time so far at the old rate
  rate_ = sanitize_rate(rate);
  burst_ = effective_burst(rate_, burst);
  // Leaving "unlimited" starts full, like a new bucket; otherwise keep the fill.
  tokens_ = was_unlimited ? burst_ : std::min(tokens_, burst_);
}

}  // namespace shortcred
