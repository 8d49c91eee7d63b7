// CONNECT lookups off the broker thread (Mosquitto 2.1 delayed basic auth).
// The broker thread posts (org, token id) under a sequence number; a worker
// thread looks up everything queued in one pipelined round trip
// (CredStore::fetch_all, on a connection of its own) and hands the results
// back.
// The broker thread collects results at MOSQ_EVT_TICK and finishes the
// authentication there: the worker never touches sessions or Mosquitto.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker_wake.hpp"
#include "store.hpp"

namespace shortcred::plugin {

struct LookupResult {
  std::uint64_t seq = 0;
  CredStore::Lookup lookup;
};

class ConnectLookups {
 public:
  static constexpr std::size_t kMaxBatch = 256;

  // `wake` (may be null) is told when results are ready.
  ConnectLookups(RedisEndpoint ep, std::chrono::milliseconds timeout, std::string prefix,
                 BrokerWake* wake);
  ~ConnectLookups();
  ConnectLookups(const ConnectLookups&) = delete;
  ConnectLookups& operator=(const ConnectLookups&) = delete;

  void start();
  void stop();

  // Broker thread: queue a lookup (its org, token_id and client_id set).
  void post(std::uint64_t seq, CredStore::Lookup lookup);
  // Broker thread: the finished lookups (cheap when there are none).
  std::vector<LookupResult> take();

 private:
  void run();

  CredStore store_;
  BrokerWake* wake_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<LookupResult> in_;
  std::vector<LookupResult> out_;
  std::atomic<bool> ready_{false};  // out_ may be non-empty; set under mu_
};

}  // namespace shortcred::plugin
