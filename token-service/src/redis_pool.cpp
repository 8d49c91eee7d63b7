#include "shortcred/tokens/redis_pool.hpp"

namespace shortcred::tokens {
namespace {
// Long enough to spare a down Redis a connect storm, short enough that
// recovery is noticed within a fraction of a second.
constexpr auto kBreakerWindow = std::chrono::milliseconds(100);
}  // namespace

RedisPool::RedisPool(RedisEndpoint ep, std::chrono::milliseconds timeout,
                     std::function<void()> on_error)
    : ep_(std::move(ep)), timeout_(timeout), on_error_(std::move(on_error)) {}

RedisPool::Lease::~Lease() {
  if (pool_ == nullptr) return;
  if (conn_.ok()) {
    pool_->release(std::move(conn_));
  } else if (pool_->on_error_) {
    pool_->on_error_();  // the connection failed during this request
  }
}

std::optional<RedisPool::Lease> RedisPool::acquire(std::string& err) {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      redis::Connection c = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(c), true);
    }
    if (std::chrono::steady_clock::now() < retry_after_) {
      err = "Redis is unavailable (reconnecting)";
      return std::nullopt;
    }
  }
  redis::Connection c = redis::Connection::open(ep_, timeout_, err);
  if (!c.ok()) {
    std::lock_guard lock(mu_);
    retry_after_ = std::chrono::steady_clock::now() + kBreakerWindow;
    if (on_error_) on_error_();
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

void RedisPool::release(redis::Connection c) {
  std::lock_guard lock(mu_);
  idle_.push_back(std::move(c));
}

}  // namespace shortcred::tokens
