#include "connect_lookups.hpp"

#include <utility>

namespace shortcred::plugin {

ConnectLookups::ConnectLookups(RedisEndpoint ep, std::chrono::milliseconds timeout,
                               std::string prefix, BrokerWake* wake)
    : store_(std::move(ep), timeout, std::move(prefix)), wake_(wake) {}

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

void ConnectLookups::post(std::uint64_t seq, CredStore::Lookup lookup) {
  {
    std::lock_guard l(mu_);
    in_.push_back({seq, std::move(lookup)});
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
    // Everything queued goes in one pipelined round trip: a CONNECT storm
    // costs round trips per batch, not per client.
    std::vector<std::uint64_t> seqs;
    std::vector<CredStore::Lookup> batch;
    while (!in_.empty() && batch.size() < kMaxBatch) {
      seqs.push_back(in_.front().seq);
      batch.push_back(std::move(in_.front().lookup));
      in_.pop_front();
    }
    l.unlock();
    store_.fetch_all(batch);
    l.lock();
    for (std::size_t i = 0; i < batch.size(); ++i) out_.push_back({seqs[i], std::move(batch[i])});
    ready_.store(true, std::memory_order_release);
    if (wake_ != nullptr) wake_->wake();
  }
}

}  // namespace shortcred::plugin
