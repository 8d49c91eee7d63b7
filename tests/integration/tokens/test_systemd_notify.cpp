// shortcred-tokend under systemd's Type=notify: READY=1 once it listens,
// STOPPING=1 when asked to stop, on the datagram socket in $NOTIFY_SOCKET.
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "support/ports.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;

namespace {

// A bound AF_UNIX datagram socket standing in for systemd's notify socket.
struct NotifySocket {
  int fd = -1;
  explicit NotifySocket(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0);
    timeval timeout{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~NotifySocket() { ::close(fd); }
  // The next message, or "" after 10 s.
  std::string next() const {
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }
};

}  // namespace

TEST_CASE("shortcred-tokend tells systemd READY=1 once it listens and STOPPING=1 on SIGTERM",
          "[notify]") {
  support::TempDir dir("shortcred-notify");
  const std::string path = (dir / "notify.sock").string();
  NotifySocket systemd(path);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  TokendEnv env;  // waits until the port accepts connections
  ::unsetenv("NOTIFY_SOCKET");
  CHECK(systemd.next() == "READY=1");
  CHECK(support::port_open(env.port));
  env.proc.signal(SIGTERM);
  CHECK(systemd.next() == "STOPPING=1");
}
