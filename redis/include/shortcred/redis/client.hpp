// A connection to a Redis *deployment*, whatever its form: one server
// (redis://, unix://, rediss://), the master a Sentinel names, or a Redis
// Cluster. The API is Connection's (command, append + read_reply), so the
// stores do not care which: on a cluster every command is routed by the
// slot of its keys, redirects are followed and MULTI … EXEC run on one node
// (see cluster.hpp in redis/src for the rules).
//
// Like a Connection, a Client that hit an I/O error is unusable (ok()
// false) and its owner opens a new one; a new cluster Client reads a fresh
// slot map, so a failover is survived by reconnecting.
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/redis/connection.hpp"
#include "shortcred/redis_url.hpp"

namespace shortcred::redis {

class Cluster;

class Client {
 public:
  // On failure returns an unusable Client and sets `err` (never the
  // password).
  static Client open(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                     std::string& err);

  Client();
  ~Client();
  Client(Client&&) noexcept;
  Client& operator=(Client&&) noexcept;

  bool ok() const noexcept;
  std::string error() const;
  // The I/O error that made it unusable was a timeout (a frozen server),
  // not a closed connection (a restarted one).
  bool timed_out() const;
  bool is_cluster() const noexcept { return cluster_ != nullptr; }

  Reply command(std::initializer_list<std::string_view> argv);
  Reply command(const std::vector<std::string>& argv);
  bool append(std::initializer_list<std::string_view> argv);
  bool append(const std::vector<std::string>& argv);
  Reply read_reply();

 private:
  Connection single_;
  std::unique_ptr<Cluster> cluster_;
};

// A connection for SUBSCRIBE: the server itself, or on a cluster the first
// seed that answers (PUBLISH reaches subscribers on every node).
Connection open_subscriber(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                           std::string& err);

// What cluster clients of this process have done since it started.
struct ClusterStats {
  std::uint64_t moved = 0;          // -MOVED followed
  std::uint64_t ask = 0;            // -ASK followed
  std::uint64_t tryagain = 0;       // pauses for a migrating slot (-TRYAGAIN, -ASK under WATCH)
  std::uint64_t map_refreshes = 0;  // CLUSTER SLOTS read
  std::uint64_t node_failures = 0;  // clients made unusable by an I/O error
};
ClusterStats cluster_stats() noexcept;

}  // namespace shortcred::redis
