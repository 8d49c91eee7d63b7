// Worker starvation (issue 13, finding 3): connections from one address that
// sit idle or trickle a byte at a time, and reconnect as soon as they are
// closed, must not keep other addresses' requests from being served, and one
// address cannot hold more than --max-conns-per-ip connections.
// Loopback is all of 127.0.0.0/8 on Linux: attackers connect from 127.0.0.1,
// the legitimate client from 127.0.0.2.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A TCP connection to 127.0.0.1:port from `source` (any port); -1 on failure.
int connect_from(const char* source, int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in local{};
  local.sin_family = AF_INET;
  inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &peer.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof peer) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whether the server closed `fd` within `wait` (EOF or an error).
bool closed_within(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char buf[256];
  return recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0;
}

enum class Attack { idle, trickle };

// `n` connections from 127.0.0.1, each reopened as soon as the server closes
// it; idle ones send nothing, tricklers send an endless request head one byte
// every 100 ms.
class Attackers {
 public:
  Attackers(int port, int n, Attack kind) {
    for (int i = 0; i < n; ++i) {
      threads_.emplace_back([this, port, kind, i] {
        // Staggered, so the first connects are not lost to a full accept queue.
        std::this_thread::sleep_for(i * 10ms);
        loop(port, kind);
      });
    }
  }
  ~Attackers() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  int connects() const { return connects_; }

 private:
  void loop(int port, Attack kind) {
    const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    while (!stop_) {
      const int fd = connect_from("127.0.0.1", port);
      if (fd < 0) {
        std::this_thread::sleep_for(5ms);
        continue;
      }
      ++connects_;
      for (std::size_t i = 0; !stop_; ++i) {
        if (kind == Attack::trickle) {
          const char c = i < head.size() ? head[i] : 'a';
          if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) break;
        }
        if (closed_within(fd, 100ms)) break;
      }
      close(fd);
    }
  }

  std::atomic<bool> stop_{false};
  std::atomic<int> connects_{0};
  std::vector<std::thread> threads_;
};

struct Served {
  bool ok = false;
  Clock::duration took{};
  std::string got;
};

// One `GET /healthz` on a fresh connection from 127.0.0.2, given up after 5 s.
Served healthz_from_other_address(int port) {
  Served s;
  const auto t0 = Clock::now();
  const int fd = connect_from("127.0.0.2", port);
  if (fd < 0) return s;
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  if (send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char buf[1024];
    while (Clock::now() - t0 < 5s && s.got.find("\r\n\r\nok\n") == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      s.got.append(buf, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  s.took = Clock::now() - t0;
  s.ok = s.got.rfind("HTTP/1.1 200 ", 0) == 0 && s.got.find("\r\n\r\nok\n") != std::string::npos;
  return s;
}

// Starts tokend with `flags` (read and idle timeouts at their defaults, 5 s,
// so a starved request would wait seconds), `attackers` connections from
// 127.0.0.1 doing `kind`, then four sequential requests from 127.0.0.2.
void check_served_despite(Attack kind, int attackers, std::vector<std::string> flags) {
  flags.insert(flags.end(), {"--read-timeout", "5", "--idle-timeout", "5"});
  TokendEnv env(flags);
  Attackers attack(env.port, attackers, kind);
  // Let the attackers take every worker first.
  REQUIRE(support::wait_until([&] { return attack.connects() >= attackers; }, 5s));
  std::this_thread::sleep_for(500ms);
  for (int i = 0; i < 4; ++i) {
    INFO("request " << i + 1);
    const Served s = healthz_from_other_address(env.port);
    INFO(s.got);
    CHECK(s.ok);
    CHECK(s.took < 2s);
  }
  CHECK(env.proc.running());
}

}  // namespace

TEST_CASE("with --threads 8, eight idle reconnecting connections from one address do not "
          "starve another address",
          "[tokend][starvation]") {
  check_served_despite(Attack::idle, 8, {"--threads", "8"});
}

TEST_CASE("with --threads 8, eight trickling reconnecting connections from one address do not "
          "starve another address",
          "[tokend][starvation]") {
  check_served_despite(Attack::trickle, 8, {"--threads", "8"});
}

TEST_CASE("with the default threads, 64 idle reconnecting connections from one address do not "
          "starve another address",
          "[tokend][starvation]") {
  check_served_despite(Attack::idle, 64, {"--threads", "64"});
}

TEST_CASE("with the default threads, 64 trickling reconnecting connections from one address do "
          "not starve another address",
          "[tokend][starvation]") {
  check_served_despite(Attack::trickle, 64, {"--threads", "64"});
}

TEST_CASE("one address holds at most --max-conns-per-ip connections, the next is closed at once",
          "[tokend][starvation]") {
  TokendEnv env({"--max-conns-per-ip", "3", "--idle-timeout", "5"});
  // The fixture's readiness probes count until the server has seen them close.
  std::this_thread::sleep_for(300ms);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(connect_from("127.0.0.1", env.port));
  for (int fd : held) REQUIRE(fd >= 0);
  std::this_thread::sleep_for(100ms);
  for (int fd : held) CHECK_FALSE(closed_within(fd, 0ms));
  const int over = connect_from("127.0.0.1", env.port);
  REQUIRE(over >= 0);
  CHECK(closed_within(over, 1000ms));
  close(over);
  // Another address is not counted against 127.0.0.1.
  const Served s = healthz_from_other_address(env.port);
  CHECK(s.ok);
  // A slot given back can be used again.
  close(held.back());
  held.pop_back();
  std::this_thread::sleep_for(200ms);
  const int again = connect_from("127.0.0.1", env.port);
  REQUIRE(again >= 0);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  CHECK(send(again, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[512];
  pollfd p{again, POLLIN, 0};
  while (poll(&p, 1, 2000) > 0) {
    const ssize_t n = recv(again, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  CHECK(got.rfind("HTTP/1.1 200 ", 0) == 0);
  close(again);
  for (int fd : held) close(fd);
}

TEST_CASE("a bad --max-conns-per-ip names the option and stops startup", "[tokend][starvation]") {
  const auto r = support::run({SHORTCRED_TOKEND_PATH, "--max-conns-per-ip", "0"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--max-conns-per-ip") != std::string::npos);
}
