#include "shortcred/tokens/redis_pool.hpp"

#include <algorithm>

namespace shortcred::tokens {
namespace {

// The first pause is short enough that recovery is noticed within a fraction
// of a second; doubling to the cap spares a long-dead Redis a connect storm.
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);
// A closed breaker is checked when nothing has reached Redis for this long:
// one PING per idle period, so the cost is nil for a busy service.
constexpr auto kIdleCheck = std::chrono::seconds(5);

}  // namespace

RedisPool::RedisPool(RedisEndpoint ep, std::chrono::milliseconds timeout,
                     std::function<void()> on_error)
    : ep_(std::move(ep)),
      timeout_(timeout),
      on_error_(std::move(on_error)),
      prober_([this] { probe_loop(); }) {
  if (ep_.kind == RedisEndpoint::Kind::sentinel) {
    watcher_ = std::make_unique<redis::SwitchMasterWatcher>(ep_, [this](const std::string&) {
      std::lock_guard lock(mu_);
      idle_.clear();
      if (open_) next_probe_ = std::chrono::steady_clock::now();
      wake_.notify_all();
    });
  }
}

RedisPool::~RedisPool() {
  watcher_.reset();  // its callback takes mu_
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  prober_.join();
}

RedisPool::Lease::~Lease() {
  if (pool_ == nullptr) return;
  if (conn_.ok()) {
    pool_->release(std::move(conn_));
  } else {
    pool_->failed(conn_, reused_);
  }
}

std::optional<RedisPool::Lease> RedisPool::acquire(std::string& err) {
  {
    std::lock_guard lock(mu_);
    if (open_) {
      err = "Redis is unavailable (reconnecting)";
      return std::nullopt;
    }
    if (!idle_.empty()) {
      redis::Client c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c), true);
    }
  }
  redis::Client c = redis::Client::open(ep_, timeout_, err);
  if (!c.ok()) {
    if (on_error_) on_error_();
    std::lock_guard lock(mu_);
    trip();
    return std::nullopt;
  }
  return Lease(this, std::move(c), false);
}

std::optional<RedisPool::Lease> RedisPool::acquire_fresh(std::string& err) {
  {
    std::lock_guard lock(mu_);
    idle_.clear();
  }
  return acquire(err);
}

bool RedisPool::up() const {
  std::lock_guard lock(mu_);
  return answered_ && !open_;
}

void RedisPool::release(redis::Client c) {
  std::lock_guard lock(mu_);
  last_ok_ = std::chrono::steady_clock::now();
  answered_ = true;
  // While the breaker is open the prober decides when Redis is back; a
  // connection returned meanwhile is not trusted.
  if (!open_) idle_.push_back(std::move(c));
}

// A connection failed during a request (counted as a Redis error).
void RedisPool::failed(redis::Client& c, bool reused) {
  if (on_error_) on_error_();
  std::lock_guard lock(mu_);
  if (reused && !c.timed_out()) {
    idle_.clear();  // closed by the server: the others are as stale
  } else {
    trip();
  }
}

void RedisPool::trip() {
  idle_.clear();  // on a frozen Redis each would cost a request the timeout
  if (open_) return;  // the prober already owns the schedule
  open_ = true;
  backoff_ = kFirstBackoff;
  next_probe_ = std::chrono::steady_clock::now() + backoff_;
  wake_.notify_all();
}

// Runs for the pool's lifetime. Open breaker: PING on the backoff schedule
// until Redis answers. Closed: PING once nothing has reached Redis for
// kIdleCheck; a failure opens the breaker.
void RedisPool::probe_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const auto now = std::chrono::steady_clock::now();
    const auto due = open_ ? next_probe_ : last_ok_ + kIdleCheck;
    if (now < due) {
      wake_.wait_until(lock, due);  // or trip(), or stop: look again
      continue;
    }
    const bool was_open = open_;
    lock.unlock();
    std::string err;
    redis::Client c = redis::Client::open(ep_, timeout_, err);
    const bool up = c.ok() && redis::to_string(c.command({"PING"}).get()) == "PONG";
    lock.lock();
    if (!up) {
      if (!open_) {
        trip();
      } else {
        backoff_ = std::min(backoff_ * 2, kMaxBackoff);
        next_probe_ = std::chrono::steady_clock::now() + backoff_;
      }
    } else if (was_open || !open_) {  // not if a request tripped it meanwhile
      open_ = false;
      answered_ = true;
      last_ok_ = std::chrono::steady_clock::now();
      if (idle_.empty()) idle_.push_back(std::move(c));
    }
  }
}

}  // namespace shortcred::tokens
