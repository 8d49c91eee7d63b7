#include "support/ports.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>

namespace support {
namespace {

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

bool bindable(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const sockaddr_in a = loopback(port);
  const bool ok = bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// The ports to choose from: the larger stretch outside the kernel's
// ephemeral range (net.ipv4.ip_local_port_range), which is where outgoing
// connections take their local port from.
struct Range {
  int lo;
  int hi;  // exclusive
};

Range candidate_range() {
  int eph_lo = 32768;
  int eph_hi = 60999;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> eph_lo >> eph_hi;
  const Range below{10000, eph_lo};
  const Range above{eph_hi + 1, 65536};
  return below.hi - below.lo >= above.hi - above.lo ? below : above;
}

// Holds `port` for this process: an exclusive flock() on a file named after
// it, which every test process checks, and which goes away with the process.
// The descriptor stays open on purpose (the lock is the reservation).
bool reserve(int port) {
  static const std::filesystem::path dir = [] {
    const auto d = std::filesystem::temp_directory_path() / "shortcred-ports";
    std::filesystem::create_directories(d);
    chmod(d.c_str(), 01777);  // shared by root and unprivileged test runs
    return d;
  }();
  const int fd = open((dir / std::to_string(port)).c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return false;
  }
  return true;
}

}  // namespace

int free_port_pair(int offset) {
  static std::mutex mu;
  static std::mt19937 pick{std::random_device{}()};
  std::lock_guard lock(mu);
  const Range r = candidate_range();
  if (r.hi - r.lo - offset < 1000) throw std::runtime_error("no port range outside the ephemeral ports");
  std::uniform_int_distribution<int> any(r.lo, r.hi - offset - 1);
  for (int attempt = 0; attempt < 500; ++attempt) {
    const int port = any(pick);
    if (!bindable(port) || (offset != 0 && !bindable(port + offset))) continue;
    if (!reserve(port)) continue;
    if (offset == 0 || reserve(port + offset)) return port;
    // `port` stays reserved: never handed out, harmless.
  }
  throw std::runtime_error("no free loopback port found");
}

int free_port() { return free_port_pair(0); }

int connect_loopback(int port, int recv_timeout_s) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in a = loopback(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  if (recv_timeout_s > 0) {
    timeval tv{recv_timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  return fd;
}

bool port_open(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a = loopback(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace support
