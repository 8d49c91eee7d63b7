// Redis connections for the HTTP workers: a small pool, one connection per
// concurrently running request at most. A connection that failed is dropped,
// never returned; a new one is opened lazily on the next request.
//
// A breaker keeps a down Redis from costing every request the full timeout.
// It opens on a failed connect and on a command that timed out or failed on
// I/O (a frozen Redis still accepts TCP connections, so connects alone do not
// tell). While it is open every acquire() fails at once and a background
// prober, not a request, pings Redis after 100 ms, then after a pause that
// doubles up to 2 s; the first answered PING closes the breaker. One
// exception: a pooled connection that the server closed (EOF, reset) only
// says that Redis restarted since it was last used, so it drops the idle
// connections without opening the breaker and the caller may retry on a
// fresh one.
//
// The prober also checks a closed breaker when no Redis exchange has
// succeeded for 5 s (at startup: at once), with one PING on a new
// connection, so up() — the metrics' shortcred_redis_up — is true to within
// seconds on an idle service too, and a Redis that died while nobody asked
// opens the breaker before a request pays the timeout.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/redis/sentinel.hpp"
#include "shortcred/redis_url.hpp"

namespace shortcred::tokens {

class RedisPool {
 public:
  RedisPool(RedisEndpoint ep, std::chrono::milliseconds timeout,
            std::function<void()> on_error = {});
  // Stops the prober; waits at most for its Redis round trip in progress.
  ~RedisPool();
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;

  class Lease {
   public:
    Lease(RedisPool* pool, redis::Client c, bool reused)
        : pool_(pool), conn_(std::move(c)), reused_(reused) {}
    Lease(Lease&& o) noexcept : pool_(o.pool_), conn_(std::move(o.conn_)), reused_(o.reused_) {
      o.pool_ = nullptr;
    }
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    redis::Client& conn() { return conn_; }
    // Taken from the idle pool (it may have gone stale since), not new.
    bool reused() const { return reused_; }

   private:
    RedisPool* pool_;
    redis::Client conn_;
    bool reused_;
  };

  // A connected lease, or std::nullopt with `err` set (Redis unavailable,
  // or the breaker is open).
  std::optional<Lease> acquire(std::string& err);
  // A newly opened connection; the idle ones are dropped, being probably as
  // stale as the one that just failed (Redis restarted).
  std::optional<Lease> acquire_fresh(std::string& err);
  // Redis answered the last exchange (a request's or the prober's) and the
  // breaker is closed. Never asks Redis.
  bool up() const;

 private:
  void release(redis::Client c);
  void failed(redis::Client& c, bool reused);
  void trip();  // opens the breaker; mu_ held
  void probe_loop();

  RedisEndpoint ep_;
  std::chrono::milliseconds timeout_;
  std::function<void()> on_error_;
  mutable std::mutex mu_;
  std::condition_variable wake_;  // the prober: the breaker opened, or stop
  std::vector<redis::Client> idle_;
  bool open_ = false;
  bool stopping_ = false;
  std::chrono::milliseconds backoff_{};
  std::chrono::steady_clock::time_point next_probe_{};
  std::chrono::steady_clock::time_point last_ok_{};  // a connection came back fine
  bool answered_ = false;                            // Redis has answered once
  std::thread prober_;  // started once everything above exists
  // Sentinel: a +switch-master drops the idle connections and, with the
  // breaker open, makes the prober try the new master at once instead of
  // after its backoff. Last, so it stops first.
  std::unique_ptr<redis::SwitchMasterWatcher> watcher_;
};

}  // namespace shortcred::tokens
