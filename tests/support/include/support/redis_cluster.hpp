#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "shortcred/redis/connection.hpp"
#include "shortcred/redis_url.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace support {

// A real Redis Cluster on free loopback ports: `masters` masters with
// `replicas` replicas each (`redis-cli --cluster create … --cluster-replicas
// N`; 0 for tests that need no failover, half the processes), no
// persistence, cluster-node-timeout 1000 ms so a killed master's replica
// takes over within a few seconds. Ready when every node says
// cluster_state:ok and every replica is in sync.
class RedisCluster {
 public:
  explicit RedisCluster(int masters = 3, int replicas = 1);
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  int size() const { return static_cast<int>(ports_.size()); }
  int port(int node) const { return ports_[static_cast<std::size_t>(node)]; }
  // redis-cluster://127.0.0.1:<p0>,127.0.0.1:<p1>,… (every node a seed).
  std::string url() const;
  shortcred::RedisEndpoint endpoint() const;
  // A plain connection to one node.
  shortcred::redis::Connection connect(int node) const;
  std::string node_id(int node) const;

  // The node serving `slot` as master, by asking a live node; -1 if none.
  int master_of(std::uint16_t slot) const;
  // The live nodes that are masters now (each of ours serves slots).
  std::vector<int> masters() const;
  // A live replica of `master`, or -1.
  int replica_of(int master) const;
  void kill_hard(int node);

  // Moving one slot by hand, as `redis-cli --cluster reshard` does, in
  // steps a test can interleave with traffic: while it migrates, the source
  // answers -ASK for keys already moved (and for new ones); once finished,
  // every master answers -MOVED.
  void begin_migration(std::uint16_t slot, int from, int to) const;
  std::vector<std::string> keys_in_slot(int node, std::uint16_t slot) const;
  void migrate_keys(int from, int to, const std::vector<std::string>& keys) const;
  void finish_migration(std::uint16_t slot, int to) const;
  bool alive(int node) const { return alive_[static_cast<std::size_t>(node)]; }
  // Every live node reports cluster_state:ok and names the same master for
  // slot 0, 5000, 10000 and 16383, within `timeout`.
  bool wait_converged(std::chrono::milliseconds timeout) const;

 private:
  TempDir dir_;
  std::vector<int> ports_;
  std::vector<Process> procs_;
  std::vector<bool> alive_;
};

}  // namespace support
