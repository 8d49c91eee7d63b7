// Process-wide Sentinel state shared by every Connection of a Sentinel
// endpoint, and the +switch-master watcher.
//
// A generation number stands for "the master as last discovered". It moves
// on when any connection of this process loses its master (a connection
// error, -READONLY, -MASTERDOWN) or a sentinel announces +switch-master; a
// connection opened under an older generation reports ok() == false, so its
// owner replaces it and the replacement asks the sentinels again. Owners
// (the tokend pool, the plugin's connections) need no Sentinel code of
// their own.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "shortcred/redis_url.hpp"

namespace shortcred::redis {

std::uint64_t sentinel_generation() noexcept;
// A connection to the discovered master failed or the master refused to act
// as one: every connection rediscovers.
void note_master_lost() noexcept;

struct SentinelCounters {
  std::uint64_t discoveries = 0;     // masters found and confirmed by ROLE
  std::uint64_t master_changes = 0;  // … at an address other than the one before
  std::uint64_t masters_lost = 0;    // note_master_lost() calls
  std::uint64_t switch_master_events = 0;  // +switch-master seen by a watcher
};
SentinelCounters sentinel_counters() noexcept;

// Subscribes to +switch-master on one sentinel of `ep` after another (its own
// thread, reconnecting with backoff) and, for events about ep.master_name,
// moves the generation on and calls `on_switch` with the event text (on the
// watcher's thread: it must only hand the news on). Does nothing for other
// endpoint kinds.
class SwitchMasterWatcher {
 public:
  SwitchMasterWatcher(RedisEndpoint ep, std::function<void(const std::string&)> on_switch);
  ~SwitchMasterWatcher();  // stops within ~100 ms
  SwitchMasterWatcher(const SwitchMasterWatcher&) = delete;
  SwitchMasterWatcher& operator=(const SwitchMasterWatcher&) = delete;

 private:
  void run();
  RedisEndpoint ep_;
  std::function<void(const std::string&)> on_switch_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace shortcred::redis
