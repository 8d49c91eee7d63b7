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
  // SIGSTOP / SIGCONT: the kernel still accepts TCP connections but no command
  // is answered, as with a hung server, so only timeouts tell.
  void freeze();
  void thaw();

  int port() const { return port_; }
  std::string url() const;  // redis://127.0.0.1:<port>/0
  shortcred::redis::Connection connect() const;
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  int port_;
  Process proc_;
};

// Freezes a RedisServer for its scope and thaws it on every exit path (a
// failed REQUIRE included), or the fixture could not stop it.
class FrozenRedis {
 public:
  explicit FrozenRedis(RedisServer& r) : redis_(&r) { r.freeze(); }
  ~FrozenRedis() { thaw(); }
  FrozenRedis(const FrozenRedis&) = delete;
  FrozenRedis& operator=(const FrozenRedis&) = delete;
  void thaw() {
    if (redis_ != nullptr) redis_->thaw();
    redis_ = nullptr;
  }

 private:
  RedisServer* redis_;
};

}  // namespace support
