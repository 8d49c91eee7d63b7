#pragma once

#include <chrono>
#include <thread>

namespace support {

// Polls `pred` every `step` until it holds or `timeout` passes. Tests use this
// for behavioural deadlines instead of fixed sleeps.
template <class Pred>
bool wait_until(Pred&& pred, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(step);
  }
}

}  // namespace support
