#include "metrics_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <vector>

namespace shortcred::plugin {
namespace {

using Clock = std::chrono::steady_clock;

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    default: return "Request Header Fields Too Large";
  }
}

}  // namespace

// The request line is `METHOD SP TARGET SP HTTP/1.x`; headers are read only
// to find their end (nothing in them changes the answer) and any body is
// ignored. The query string, if any, is not part of the path.
ScrapeAnswer answer_request(std::string_view received, std::size_t max_bytes) {
  const auto head_end = received.find("\r\n\r\n");
  if (head_end == std::string_view::npos || head_end + 4 > max_bytes) {
    return {received.size() >= max_bytes ? 431 : 0};
  }
  const std::string_view line = received.substr(0, received.find("\r\n"));
  const auto sp1 = line.find(' ');
  const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos ||
      !line.substr(sp2 + 1).starts_with("HTTP/1.")) {
    return {400};
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (method != "GET") return {405};
  return {target.substr(0, target.find('?')) == "/metrics" ? 200 : 404};
}

struct MetricsServer::Client {
  int fd = -1;
  std::string in, out;
  std::size_t sent = 0;
  Clock::time_point deadline;
};

MetricsServer::~MetricsServer() { stop(); }

bool MetricsServer::listen(const std::string& host, int port, std::string& error) {
  const bool v6 = host.find(':') != std::string::npos;
  sockaddr_storage ss{};
  socklen_t len = 0;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET6, host.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<std::uint16_t>(port));
    inet_pton(AF_INET, host.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  const int fd = ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  if (fd < 0 || ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      (v6 && ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || ::listen(fd, 64) != 0) {
    error = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    return false;
  }
  listen_fd_ = fd;
  return true;
}

void MetricsServer::start() {
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  stop_ = false;
  thread_ = std::thread([this] {
    // Signals (SIGTERM, SIGHUP) are the broker thread's: delivered there
    // they wake its loop at once.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    run();
  });
}

void MetricsServer::stop() {
  stop_ = true;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(wake_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
  for (int* fd : {&listen_fd_, &wake_fd_}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

void MetricsServer::publish(std::shared_ptr<const MetricsSnapshot> snapshot) {
  std::lock_guard lock(mu_);
  snapshot_.swap(snapshot);
  // `snapshot` now holds the previous one; it is freed after the lock is
  // released (or by the server thread, if a scrape is still rendering it).
}

std::shared_ptr<const MetricsSnapshot> MetricsServer::current() {
  std::lock_guard lock(mu_);
  return snapshot_;
}

std::string MetricsServer::response_for(int status) {
  std::string body;
  std::string_view type = "text/plain; charset=utf-8";
  if (status == 200) {
    const auto snap = current();
    body = snap != nullptr ? render_metrics(*snap) : std::string();
    type = "text/plain; version=0.0.4; charset=utf-8";
  } else {
    body = std::string(reason_phrase(status)) + "\n";
  }
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
                  "\r\nContent-Type: " + std::string(type) +
                  "\r\nContent-Length: " + std::to_string(body.size()) +
                  (status == 405 ? "\r\nAllow: GET" : "") + "\r\nConnection: close\r\n\r\n";
  return r + body;
}

void MetricsServer::run() {
  std::vector<Client> clients;
  std::vector<pollfd> fds;
  char buf[4096];
  while (!stop_) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    auto wait = std::chrono::milliseconds(1000);
    const auto now = Clock::now();
    for (const Client& c : clients) {
      fds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::max(c.deadline - now, Clock::duration::zero())));
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(wait.count()) + 1) < 0 && errno != EINTR) {
      break;
    }
    if (stop_) break;

    for (std::size_t i = 0; i < clients.size(); ++i) {
      Client& c = clients[i];
      const short ev = fds[i + 2].revents;
      bool done = Clock::now() >= c.deadline || (ev & (POLLERR | POLLNVAL)) != 0;
      if (!done && c.out.empty() && (ev & (POLLIN | POLLHUP)) != 0) {
        const std::size_t room = kMaxRequestBytes - c.in.size();
        const ssize_t n = ::recv(c.fd, buf, std::min(room, sizeof buf), 0);
        if (n > 0) {
          c.in.append(buf, static_cast<std::size_t>(n));
          if (const int status = answer_request(c.in, kMaxRequestBytes).status; status != 0) {
            c.out = response_for(status);
          }
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          done = true;  // the client went away (or the read failed) before a whole head
        }
      }
      if (!done && !c.out.empty()) {
        const ssize_t n = ::send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
        if (n > 0) c.sent += static_cast<std::size_t>(n);
        done = c.sent == c.out.size() || (n < 0 && errno != EAGAIN && errno != EINTR);
      }
      if (done) {
        ::close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(clients, [](const Client& c) { return c.fd < 0; });

    if ((fds[1].revents & POLLIN) == 0) continue;
    while (true) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) break;
      if (clients.size() >= kMaxClients) {
        ::close(fd);  // bounded: a scraper beyond the limit is turned away at once
        continue;
      }
      clients.push_back({fd, {}, {}, 0, Clock::now() + kClientTimeout});
    }
  }
  for (const Client& c : clients) ::close(c.fd);
}

}  // namespace shortcred::plugin
