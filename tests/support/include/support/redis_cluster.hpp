#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "shortcred/redis/connection.hpp"
#include "shortcred/redis_url.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_certs.hpp"

namespace support {

enum class ClusterTransport { plain, tls };

// A real Redis Cluster on free loopback ports: `masters` masters with
// `replicas` replicas each (`redis-cli --cluster create … --cluster-replicas
// N`; 0 for tests that need no failover, half the processes), no
// persistence, cluster-node-timeout 1000 ms so a killed master's replica
// takes over within a few seconds. Ready when every node says
// cluster_state:ok and every replica is in sync.
//
// ClusterTransport::tls: every node TLS only (`--port 0 --tls-port P`), the
// cluster bus and replication too (`--tls-cluster yes --tls-replication
// yes`), client certificates required; one set of make_test_certs for all
// nodes, whose client certificate the nodes also present to each other (the
// server certificate is for serverAuth only).
class RedisCluster {
 public:
  explicit RedisCluster(int masters = 3, int replicas = 1,
                        ClusterTransport transport = ClusterTransport::plain);
  ~RedisCluster();
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  int size() const { return static_cast<int>(ports_.size()); }
  int port(int node) const { return ports_[static_cast<std::size_t>(node)]; }
  // redis-cluster://127.0.0.1:<p0>,127.0.0.1:<p1>,… (every node a seed);
  // with TLS rediss-cluster://…?ca_file=…&cert_file=…&key_file=….
  std::string url() const;
  // url(), parsed.
  shortcred::RedisEndpoint endpoint() const;
  // A connection to one node (over TLS for a TLS cluster), not following
  // redirects.
  shortcred::redis::Connection connect(int node) const;
  std::string node_id(int node) const;

  // The node serving `slot` as master, by asking a live node; -1 if none.
  int master_of(std::uint16_t slot) const;
  // The live nodes that are masters now (each of ours serves slots).
  std::vector<int> masters() const;
  // A live replica of `master`, or -1.
  int replica_of(int master) const;
  void kill_hard(int node);
  const TestCerts& certs() const { return *certs_; }  // TLS clusters only

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
  // The node's arguments besides its port and directory: TLS or plain.
  std::vector<std::string> transport_args(int port) const;
  // The TLS options of redis-cli, empty for a plain cluster.
  std::vector<std::string> cli_tls_args() const;

  TempDir dir_;
  std::optional<TestCerts> certs_;
  std::vector<int> ports_;
  std::vector<Process> procs_;
  std::vector<bool> alive_;
};

}  // namespace support
