#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

namespace support {

// A real Sentinel deployment on free loopback ports: one master, `replicas`
// replicas of it, and `sentinels` sentinels (`redis-server --sentinel`)
// monitoring it as kMasterName with quorum 2, down-after-milliseconds
// `down_after_ms` and a failover-timeout of 4 × that, sized so a killed
// master is replaced within a few seconds on a loaded 2-core machine. Ready
// when every replica is in sync and every sentinel knows the replicas and
// the other sentinels (only then can they agree on a failover).
class RedisSentinels {
 public:
  static constexpr const char* kMasterName = "shortcred";

  explicit RedisSentinels(int replicas = 1, int sentinels = 3, int down_after_ms = 500);
  ~RedisSentinels();
  RedisSentinels(const RedisSentinels&) = delete;
  RedisSentinels& operator=(const RedisSentinels&) = delete;

  // redis-sentinel://127.0.0.1:<s1>,127.0.0.1:<s2>,…/0?master=shortcred
  std::string url() const;
  RedisServer& master() { return *servers_.front(); }  // the first master
  RedisServer& replica(std::size_t i) { return *servers_.at(i + 1); }
  // The master's "host:port" as the first sentinel that answers names it, or "".
  std::string reported_master() const;
  // A connection to the data node on `port`.
  static shortcred::redis::Connection connect_port(int port);

 private:
  bool ready() const;
  TempDir dir_;
  std::vector<std::unique_ptr<RedisServer>> servers_;
  std::vector<int> sentinel_ports_;
  std::vector<Process> sentinels_;
};

}  // namespace support
