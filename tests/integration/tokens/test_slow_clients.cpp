// Slow and idle connections: a request must arrive completely within
// --read-timeout, however slowly its bytes trickle in, so a few slow clients
// cannot hold every worker; idle keep-alive connections do not delay SIGTERM.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "support/wait.hpp"
#include "support/ports.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {


// Whether the server has closed `fd`: readable with EOF or an error.
bool closed_by_server(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char c;
  return recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

// Sends a request head one byte every 300 ms, for at most `limit`; returns
// how long the server let it go on.
Clock::duration trickle(int port, std::chrono::milliseconds limit) {
  const int fd = support::connect_loopback(port);
  REQUIRE(fd >= 0);
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " +
                           std::string(200, 'a') + "\r\n\r\n";
  const auto t0 = Clock::now();
  for (std::size_t i = 0; Clock::now() - t0 < limit && i < head.size(); ++i) {
    if (send(fd, &head[i], 1, MSG_NOSIGNAL) != 1) break;
    if (closed_by_server(fd, 300ms)) break;
  }
  const auto took = Clock::now() - t0;
  close(fd);
  return took;
}

}  // namespace

TEST_CASE("a client trickling its request head is disconnected after the read timeout",
          "[tokend]") {
  TokendEnv env;  // --read-timeout 1
  CHECK(trickle(env.port, 5s) < 2s);
  CHECK(env.proc.running());
}

TEST_CASE("slow clients cannot hold every worker: a fresh request is still answered",
          "[tokend]") {
  TokendEnv env({"--threads", "2"});
  std::thread a([&] { trickle(env.port, 5s); });
  std::thread b([&] { trickle(env.port, 5s); });
  std::this_thread::sleep_for(100ms);  // both workers are now busy with a trickler
  support::HttpClient fresh(env.base_url(), 4000);
  const auto t0 = Clock::now();
  const auto r = fresh.request("GET", "/healthz");
  const auto took = Clock::now() - t0;
  a.join();
  b.join();
  CHECK(r.status == 200);
  CHECK(took < 2500ms);
}

TEST_CASE("SIGTERM does not wait for idle keep-alive connections", "[tokend]") {
  TokendEnv env({"--idle-timeout", "30"});
  const int fd = support::connect_loopback(env.port);
  REQUIRE(fd >= 0);
  const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  REQUIRE(send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::string got;
  char buf[1024];
  REQUIRE(support::wait_until(
      [&] {
        const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
        return got.find("ok\n") != std::string::npos;
      },
      2s));
  // The connection stays open and idle; SIGTERM must not wait 30 s for it.
  env.proc.signal(SIGTERM);
  CHECK(support::wait_until([&] { return !env.proc.running(); }, 1500ms));
  close(fd);
  const int status = env.proc.stop();
  CHECK(WIFEXITED(status));
}
