#include "shortcred/redis/transport.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tls_context.hpp"

namespace shortcred::redis {
namespace {

using Clock = std::chrono::steady_clock;

std::string where(const RedisEndpoint& ep) {
  return ep.unix_path.empty() ? ep.at({ep.host, ep.port}).redacted() : ep.unix_path;
}

// Waits until `fd` is ready for `events` or `deadline` passes; false on
// timeout. EINTR restarts the wait with the time that is left.
bool wait_ready(int fd, short events, Clock::time_point deadline) {
  while (true) {
    // Rounded up: a timeout is never cut short by the millisecond grain.
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // let the next read/write report it
  }
}

int connect_unix(const std::string& path, Clock::time_point deadline, std::string& err) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    err = "the socket path is too long";
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = std::strerror(errno);
    return -1;
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
  if (errno == EAGAIN && wait_ready(fd, POLLOUT, deadline)) {
    int so = 0;
    socklen_t len = sizeof(so);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
    if (so == 0) return fd;
    errno = so;
  } else if (errno == EAGAIN) {
    errno = ETIMEDOUT;
  }
  err = std::strerror(errno);
  ::close(fd);
  return -1;
}

// Tries each address of `host` in turn within one deadline.
int connect_tcp(const std::string& host, int port, Clock::time_point deadline, std::string& err) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &list); rc != 0) {
    err = ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  err = "no address";
  for (addrinfo* a = list; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      err = std::strerror(errno);
      continue;
    }
    int so = 0;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      so = errno;
      if (so == EINPROGRESS) {
        if (wait_ready(fd, POLLOUT, deadline)) {
          socklen_t len = sizeof(so);
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
        } else {
          so = ETIMEDOUT;
        }
      }
    }
    if (so != 0) {
      err = std::strerror(so);
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(list);
  if (fd >= 0) {
    const int one = 1;  // requests are small and answered at once
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

}  // namespace

struct Transport::Tls {
  SslPtr ssl;
};

std::unique_ptr<Transport> Transport::open(const RedisEndpoint& ep,
                                           std::chrono::milliseconds timeout, std::string& err) {
  // verify=none is checked at parse time against the URL's hosts; a master
  // discovered through Sentinel is checked here, as it is only known now.
  if (ep.tls.enabled && !ep.tls.verify && !is_loopback_host(ep.host)) {
    err = "refusing TLS without verification (verify=none) to " + where(ep) +
          ": not a loopback address";
    return nullptr;
  }
  const auto deadline = Clock::now() + timeout;
  std::string why;
  const int fd = ep.unix_path.empty() ? connect_tcp(ep.host, ep.port, deadline, why)
                                      : connect_unix(ep.unix_path, deadline, why);
  if (fd < 0) {
    err = "cannot connect to " + where(ep) + ": " + why;
    return nullptr;
  }
  std::unique_ptr<Transport> t(new Transport(fd, timeout));
  if (ep.tls.enabled && !t->handshake(ep, err)) return nullptr;
  return t;
}

Transport::Transport(int fd, std::chrono::milliseconds timeout) : fd_(fd), timeout_(timeout) {}

Transport::~Transport() {
  // close_notify, best effort and non-blocking; never after a failed call
  // (OpenSSL forbids it then).
  if (tls_ && failure_ == Failure::none) SSL_shutdown(tls_->ssl.get());
  ::close(fd_);
}

bool Transport::handshake(const RedisEndpoint& ep, std::string& err) {
  SslCtxPtr ctx = tls_client_context(ep.tls, err);
  if (!ctx) {
    err = "TLS to " + where(ep) + ": " + err;
    return false;
  }
  const std::string& name = ep.tls.server_name.empty() ? ep.host : ep.tls.server_name;
  SslPtr ssl = tls_session(*ctx, fd_, name, ep.tls.verify, err);
  if (!ssl) {
    err = "TLS to " + where(ep) + ": " + err;
    return false;
  }
  const auto deadline = Clock::now() + timeout_;
  while (true) {
    ERR_clear_error();
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    const int e = SSL_get_error(ssl.get(), rc);
    const short events = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (events == 0) {
      err = "TLS handshake with " + where(ep) + " failed: " + tls_failure_text(ssl.get(), e);
      return false;
    }
    if (!wait_ready(fd_, events, deadline)) {
      err = "TLS handshake with " + where(ep) + " timed out after " +
            std::to_string(timeout_.count()) + " ms";
      return false;
    }
  }
  tls_ = std::make_unique<Tls>(Tls{std::move(ssl)});
  return true;
}

bool Transport::fail(Failure f, std::string text) {
  if (failure_ == Failure::none) {
    failure_ = f;
    error_ = std::move(text);
  }
  return false;
}

bool Transport::send(std::string_view bytes) {
  if (failure_ != Failure::none) return false;
  const auto deadline = Clock::now() + timeout_;
  while (!bytes.empty()) {
    short wait_for = POLLOUT;
    if (tls_) {
      ERR_clear_error();
      const int n = SSL_write(tls_->ssl.get(), bytes.data(), static_cast<int>(bytes.size()));
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      const int e = SSL_get_error(tls_->ssl.get(), n);
      if (e == SSL_ERROR_WANT_READ) {
        wait_for = POLLIN;
      } else if (e != SSL_ERROR_WANT_WRITE) {
        return fail(Failure::io, "TLS write failed: " + tls_failure_text(tls_->ssl.get(), e));
      }
    } else {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno != EAGAIN) return fail(Failure::io, std::strerror(errno));
    }
    if (!wait_ready(fd_, wait_for, deadline)) {
      return fail(Failure::timeout, "timed out after " + std::to_string(timeout_.count()) + " ms");
    }
  }
  return true;
}

std::size_t Transport::read_once(char* buf, std::size_t cap, bool wait) {
  if (failure_ != Failure::none) return 0;
  const auto deadline = Clock::now() + timeout_;
  while (true) {
    short wait_for = POLLIN;
    if (tls_) {
      ERR_clear_error();
      const int n = SSL_read(tls_->ssl.get(), buf, static_cast<int>(cap));
      if (n > 0) return static_cast<std::size_t>(n);
      const int e = SSL_get_error(tls_->ssl.get(), n);
      if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0)) {
        fail(Failure::closed, "Server closed the connection");
        return 0;
      }
      if (e == SSL_ERROR_WANT_WRITE) {
        wait_for = POLLOUT;
      } else if (e != SSL_ERROR_WANT_READ) {
        fail(Failure::io, "TLS read failed: " + tls_failure_text(tls_->ssl.get(), e));
        return 0;
      }
    } else {
      const ssize_t n = ::recv(fd_, buf, cap, 0);
      if (n > 0) return static_cast<std::size_t>(n);
      if (n == 0) {
        fail(Failure::closed, "Server closed the connection");
        return 0;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) {
        fail(errno == ECONNRESET ? Failure::closed : Failure::io, std::strerror(errno));
        return 0;
      }
    }
    if (!wait) return 0;
    if (!wait_ready(fd_, wait_for, deadline)) {
      fail(Failure::timeout, "timed out after " + std::to_string(timeout_.count()) + " ms");
      return 0;
    }
  }
}

std::size_t Transport::receive(char* buf, std::size_t cap) { return read_once(buf, cap, true); }

std::size_t Transport::receive_ready(char* buf, std::size_t cap) {
  return read_once(buf, cap, false);
}

bool Transport::pending() const { return tls_ && SSL_pending(tls_->ssl.get()) > 0; }

bool check_tls_files(const RedisEndpoint& ep, std::string& err) {
  if (!ep.tls.enabled) return true;
  return tls_client_context(ep.tls, err) != nullptr;
}

}  // namespace shortcred::redis
