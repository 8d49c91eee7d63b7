#pragma once

#include <atomic>
#include <thread>
#include <utility>
#include <vector>

namespace support {

// A TCP forwarder on a free loopback port to 127.0.0.1:<target>, for
// cutting one client (a broker) off a server (Redis) while others keep it.
// cut(): every forwarded connection is closed and new ones are accepted and
// closed at once, as when the network path fails; restore() forwards again.
class TcpProxy {
 public:
  explicit TcpProxy(int target_port);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }
  void cut();
  void restore();

 private:
  void run();
  int target_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<bool> cut_{false};
  std::vector<std::pair<int, int>> pairs_;  // (client fd, server fd)
  std::thread thread_;
};

}  // namespace support
