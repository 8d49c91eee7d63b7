#include "support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>
#include <tuple>

#include "support/ports.hpp"

namespace support {

TcpProxy::TcpProxy(int target_port) : target_(target_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("tcp proxy: cannot listen");
  }
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

TcpProxy::~TcpProxy() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  for (auto [c, s] : pairs_) {
    ::close(c);
    ::close(s);
  }
  ::close(listen_fd_);
}

void TcpProxy::cut() { cut_ = true; }
void TcpProxy::restore() { cut_ = false; }

void TcpProxy::run() {
  char buf[65536];
  while (!stop_) {
    if (cut_) {
      for (auto [c, s] : pairs_) {
        ::close(c);
        ::close(s);
      }
      pairs_.clear();
    }
    std::vector<pollfd> fds{{listen_fd_, POLLIN, 0}};
    for (auto [c, s] : pairs_) {
      fds.push_back({c, POLLIN, 0});
      fds.push_back({s, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 20) <= 0) continue;
    if ((fds[0].revents & POLLIN) != 0) {
      const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) {
        const int s = cut_ ? -1 : connect_loopback(target_);
        if (s < 0) {
          ::close(c);
        } else {
          pairs_.emplace_back(c, s);
        }
      }
    }
    std::vector<std::size_t> dead;
    for (std::size_t i = 0; i + 1 < fds.size() && i / 2 < pairs_.size(); i += 2) {
      const auto [c, s] = pairs_[i / 2];
      bool closed = false;
      for (const auto& [from, to, re] : {std::tuple{c, s, fds[i + 1].revents},
                                         std::tuple{s, c, fds[i + 2].revents}}) {
        if (closed || (re & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        const ssize_t n = ::read(from, buf, sizeof buf);
        if (n <= 0 || ::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) closed = true;
      }
      if (closed) dead.push_back(i / 2);
    }
    for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
      ::close(pairs_[*it].first);
      ::close(pairs_[*it].second);
      pairs_.erase(pairs_.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }
}

}  // namespace support
