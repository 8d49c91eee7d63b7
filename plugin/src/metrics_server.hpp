// The plugin's optional Prometheus endpoint (plugin_opt_metrics_listen):
// one thread of its own serving plain HTTP/1.1 `GET /metrics` from the last
// snapshot the broker thread published. It never calls Mosquitto and never
// reads the plugin's live state; the broker thread never waits for it (a
// publish is a pointer swap under a mutex the server holds only to copy
// that pointer).
//
// Bounded: at most kMaxClients connections at once (more are closed as soon
// as they are accepted), a request head of at most kMaxRequestBytes, and
// kClientTimeout from accept to the last byte of the answer. Every answer
// closes its connection (`Connection: close`).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "metrics_snapshot.hpp"

namespace shortcred::plugin {

// What to answer a request head (the bytes up to and including the blank
// line): the status line's code, 0 while the head is incomplete.
struct ScrapeAnswer {
  int status = 0;  // 200 /metrics, 400 malformed, 404 other path, 405 not GET, 431 too long
};
ScrapeAnswer answer_request(std::string_view received, std::size_t max_bytes);

class MetricsServer {
 public:
  static constexpr std::size_t kMaxClients = 8;
  static constexpr std::size_t kMaxRequestBytes = 8192;
  static constexpr std::chrono::seconds kClientTimeout{5};

  MetricsServer() = default;
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds and listens on host:port (an IP literal); false with `error` set
  // (e.g. the port is in use). Called before start().
  bool listen(const std::string& host, int port, std::string& error);
  void start();
  void stop();
  // The listening socket (-1 before listen()), which the default broker id
  // must not take for the broker's first listener.
  int listen_fd() const { return listen_fd_; }

  // Broker thread: what the next scrapes show.
  void publish(std::shared_ptr<const MetricsSnapshot> snapshot);

 private:
  struct Client;
  void run();
  std::string response_for(int status);
  std::shared_ptr<const MetricsSnapshot> current();

  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() wakes the poll
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::shared_ptr<const MetricsSnapshot> snapshot_;
};

}  // namespace shortcred::plugin
