#include "support/redis_server.hpp"

#include <signal.h>

#include <chrono>
#include <stdexcept>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace support {

RedisServer::RedisServer() : dir_("shortcred-redis"), port_(free_port()) { start(); }

RedisServer::~RedisServer() { stop(); }

void RedisServer::start() {
  proc_ = Process({"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1",
                   "--dir", dir_.path().string(), "--save", "", "--appendonly", "no",
                   "--daemonize", "no", "--protected-mode", "no"},
                  dir_ / "redis.log");
  const bool up = wait_until(
      [&] {
        auto c = connect();
        auto r = c.command({"PING"});
        return r != nullptr && r->type == REDIS_REPLY_STATUS;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(10));
  if (!up) throw std::runtime_error("redis-server did not start; see " + (dir_ / "redis.log").string());
}

void RedisServer::stop() { proc_.stop(); }

void RedisServer::kill_hard() { proc_.kill_hard(); }

bool RedisServer::running() { return proc_.running(); }

void RedisServer::freeze() { proc_.signal(SIGSTOP); }

void RedisServer::thaw() { proc_.signal(SIGCONT); }

std::string RedisServer::url() const {
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

shortcred::redis::Connection RedisServer::connect() const {
  shortcred::RedisEndpoint ep;
  ep.port = port_;
  std::string err;
  return shortcred::redis::Connection::open(ep, std::chrono::milliseconds(1000), err);
}

}  // namespace support
