#pragma once

#include <memory>
#include <string>

#include "shortcred/redis/connection.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace support {

// A real redis-server on a free loopback port in its own temp dir, no
// persistence. stop()/start() keep the port, for outage tests.
class RedisServer {
 public:
  RedisServer();
  ~RedisServer();

  void start();
  void stop();        // SIGTERM and wait
  void kill_hard();   // SIGKILL
  bool running();

  int port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:<port>/0
  shortcred::redis::Connection connect() const;
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  int port_;
  Process proc_;
};

}  // namespace support
