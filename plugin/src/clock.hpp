// The plugin's two clocks, shared by the broker-side files and the session
// table.
#pragma once

#include <time.h>

#include <cstdint>

namespace shortcred::plugin {

// Wall clock (credential expiry is unix ms) and a monotonic clock (buckets).
// clock_gettime: no allocation, safe on the per-message path.
inline std::int64_t wall_ms() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}
inline std::int64_t mono_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace shortcred::plugin
