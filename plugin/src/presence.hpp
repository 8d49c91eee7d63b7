// Presence across brokers (shortcred/presence.hpp has the keys): the writer
// that keeps this broker's sessions in the org's `sessions` hash and its
// heartbeat sets. The broker thread tells it who joined and left; the
// background thread writes, in one MULTI/EXEC per org so an org's keys
// change together (and stay in one Cluster slot):
//  - a join at once (the background thread is nudged), a leave at once;
//  - every presence_interval_s, a heartbeat that re-writes every session
//    of this broker (so a field lost to an outage or trimmed while this
//    broker was cut off comes back), then trims the stale members of those
//    orgs (kTrimStaleScript, EVALSHA).
// A failed write is retried after a second: leaves are kept until written,
// joins are in the heartbeat anyway.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/redis/script.hpp"
#include "shortcred/redis_url.hpp"

namespace shortcred::plugin {

// What one pass wrote, for the broker's counters.
struct PresenceStats {
  std::uint64_t writes = 0;   // sessions written (joins and heartbeats) and removed
  std::uint64_t errors = 0;   // failed passes
  std::uint64_t trimmed = 0;  // stale members (of any broker) removed
};

class PresenceWriter {
 public:
  PresenceWriter(RedisEndpoint ep, std::string prefix, int interval_s);

  // Broker thread. The broker id is set once, before the first join.
  void set_broker_id(std::string id);
  void joined(std::string org, std::string user, std::string client_id, std::string json);
  void left(std::string org, std::string user, std::string client_id);

  // Background thread: writes what is due at `now_ms` (wall clock). A
  // failure's text goes to `error` (once per outage).
  void run_due(std::int64_t now_ms, PresenceStats& stats, std::string& error);

 private:
  // A join or a leave, in the order the broker thread saw them (a client
  // id that leaves and joins again must end up present).
  struct Op {
    bool join = true;
    std::string org, user, client_id, json;
  };
  struct Entry {
    std::string user, json;
  };
  using Key = std::pair<std::string, std::string>;  // (org, client id)
  struct Leave {
    std::string org, user, client_id;
  };

  bool write(const std::map<Key, const Entry*>& joins, std::int64_t now_ms, PresenceStats& stats,
             std::string& error);
  void trim(const std::vector<std::string>& orgs, std::int64_t now_ms, PresenceStats& stats);

  RedisEndpoint ep_;
  std::string prefix_;
  int interval_s_;

  std::mutex mu_;  // guards the two below (the broker thread posts)
  std::string broker_id_;
  std::vector<Op> ops_;

  // Background thread only.
  std::string me_;                       // broker id, copied once set
  std::map<Key, Entry> live_;            // this broker's sessions
  std::vector<Key> unwritten_joins_;     // joined since the last successful write
  std::vector<Leave> unwritten_leaves_;  // left, not yet removed from Redis
  std::int64_t next_beat_ms_ = 0;
  std::int64_t retry_at_ms_ = 0;
  bool failing_ = false;
  redis::Client conn_;
  redis::Script trim_script_;
};

}  // namespace shortcred::plugin
