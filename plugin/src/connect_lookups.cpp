#include "connect_lookups.hpp"

#include <utility>

namespace shortcred::plugin {

ConnectLookups::ConnectLookups(RedisEndpoint ep, std::chrono::milliseconds timeout,
                               std::string prefix)
    : store_(std::move(ep), timeout, std::move(prefix)) {}

ConnectLookups::~ConnectLookups() { stop(); }

void ConnectLookups::start() { thread_ = std::thread([this] { run(); }); }

void ConnectLookups::stop() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConnectLookups::post(std::uint64_t seq, std::string org, std::string token_id) {
  {
    std::lock_guard l(mu_);
    in_.push_back({seq, std::move(org), std::move(token_id)});
  }
  cv_.notify_one();
}

std::vector<LookupResult> ConnectLookups::take() {
  std::vector<LookupResult> out;
  if (!ready_.load(std::memory_order_acquire)) return out;
  std::lock_guard l(mu_);
  out.swap(out_);
  ready_.store(false, std::memory_order_relaxed);
  return out;
}

void ConnectLookups::run() {
  std::unique_lock l(mu_);
  while (true) {
    cv_.wait(l, [&] { return stop_ || !in_.empty(); });
    if (stop_) return;
    Request r = std::move(in_.front());
    in_.pop_front();
    l.unlock();
    LookupResult res;
    res.seq = r.seq;
    res.status = store_.fetch(r.org, r.token_id, res.cred, res.org, res.error);
    l.lock();
    out_.push_back(std::move(res));
    ready_.store(true, std::memory_order_release);
  }
}

}  // namespace shortcred::plugin
