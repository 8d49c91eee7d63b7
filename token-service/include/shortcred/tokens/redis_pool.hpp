// Redis connections for the HTTP workers: a small pool, one connection per
// concurrently running request at most. A connection that failed is dropped,
// never returned; a new one is opened lazily on the next request. After a
// failed connect, requests fail fast for a short while (a breaker), so a
// down Redis answers 503 at once instead of every request waiting for the
// connect timeout.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "shortcred/redis/connection.hpp"
#include "shortcred/redis_url.hpp"

namespace shortcred::tokens {

class RedisPool {
 public:
  RedisPool(RedisEndpoint ep, std::chrono::milliseconds timeout,
            std::function<void()> on_error = {});

  class Lease {
   public:
    Lease(RedisPool* pool, redis::Connection c, bool reused)
        : pool_(pool), conn_(std::move(c)), reused_(reused) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::move(o.conn_)), reused_(o.reused_) {
      o.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    redis::Connection& conn() { return conn_; }
    // Taken from the idle pool (it may have gone stale since), not new.
    bool reused() const { return reused_; }

   private:
    RedisPool* pool_;
    redis::Connection conn_;
    bool reused_;
  };

  // A connected lease, or std::nullopt with `err` set (Redis unavailable).
  std::optional<Lease> acquire(std::string& err);
  // A newly opened connection; the idle ones are dropped, being probably as
  // stale as the one that just failed (Redis restarted).
  std::optional<Lease> acquire_fresh(std::string& err);

 private:
  void release(redis::Connection c);

  RedisEndpoint ep_;
  std::chrono::milliseconds timeout_;
  std::function<void()> on_error_;
  std::mutex mu_;
  std::vector<redis::Connection> idle_;
  std::chrono::steady_clock::time_point retry_after_{};
};

}  // namespace shortcred::tokens
