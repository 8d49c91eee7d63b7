#include "connection_watchdog.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_received
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <set>
#include <vector>

namespace shortcred::tokens {

using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTick = std::chrono::milliseconds(50);

// queued: accepted, no worker yet (httplib's queue; no deadline: the client
// is not the one being slow). waiting: between requests, or before the first.
// receiving: a request has begun and its deadline runs. handling: the
// request is in; we are answering it.
enum class Phase { queued, waiting, receiving, handling };

std::uint64_t bytes_received(int fd) {
  tcp_info ti{};
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) return 0;
  return ti.tcpi_bytes_received;
}

int local_port(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
  if (a.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&a)->sin_port);
  if (a.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&a)->sin6_port);
  return -1;
}

// A connected TCP socket accepted on `port` (not the listening socket itself).
bool accepted_on(int fd, int port) {
  if (local_port(fd) != port) return false;
  int listening = 0;
  socklen_t len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening) return false;
  sockaddr_storage peer{};
  socklen_t plen = sizeof peer;
  return getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0;
}

}  // namespace

struct ConnectionWatchdog::Conn {
  int fd = -1;  // our dup of httplib's descriptor
  ino_t inode = 0;
  Phase phase = Phase::queued;
  std::uint64_t baseline = 0;  // bytes received when the last response went out
  std::optional<Clock::time_point> deadline;
  bool shut = false;

  Conn() = default;
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
  void shut_down() {
    ::shutdown(fd, SHUT_RDWR);
    shut = true;
  }
};

namespace {
thread_local ConnectionWatchdog* t_watchdog = nullptr;
thread_local ConnectionWatchdog::Conn* t_conn = nullptr;
}  // namespace

ConnectionWatchdog::ConnectionWatchdog(std::chrono::milliseconds read_timeout, int listen_port)
    : read_timeout_(read_timeout), listen_port_(listen_port), thread_([this] { run(); }) {}

ConnectionWatchdog::~ConnectionWatchdog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::shared_ptr<ConnectionWatchdog::Conn> ConnectionWatchdog::adopt_new_connection() {
  std::set<ino_t> known;
  {
    std::lock_guard lock(mu_);
    for (const auto& c : conns_) known.insert(c->inode);
  }
  // Every earlier accepted socket was adopted by the (single) accept thread
  // before this one was accepted, so exactly one unknown socket is expected.
  // Anything else (a failed dup earlier): no deadline rather than a wrong one.
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return nullptr;
  int found = -1;
  ino_t inode = 0;
  int candidates = 0;
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    struct stat st{};
    if (fd == dirfd(dir) || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) continue;
    if (known.count(st.st_ino) != 0 || !accepted_on(fd, listen_port_)) continue;
    ++candidates;
    found = fd;
    inode = st.st_ino;
  }
  closedir(dir);
  if (candidates != 1) return nullptr;
  auto c = std::make_shared<Conn>();
  c->fd = fcntl(found, F_DUPFD_CLOEXEC, 0);
  if (c->fd < 0) return nullptr;
  c->inode = inode;
  std::lock_guard lock(mu_);
  conns_.push_back(c);
  return c;
}

void ConnectionWatchdog::serve(const std::shared_ptr<Conn>& c,
                               const std::function<void()>& serve) {
  struct Scope {
    ConnectionWatchdog& wd;
    const std::shared_ptr<Conn>& c;
    ~Scope() {
      t_watchdog = nullptr;
      t_conn = nullptr;
      if (!c) return;
      std::lock_guard lock(wd.mu_);
      wd.conns_.remove(c);  // the dup closes with the last reference
    }
  } scope{*this, c};
  if (c) {
    std::lock_guard lock(mu_);
    c->phase = Phase::waiting;
    t_watchdog = this;
    t_conn = c.get();
  }
  serve();
}

void ConnectionWatchdog::head_received() {
  if (t_conn == nullptr) return;
  std::lock_guard lock(t_watchdog->mu_);
  if (t_conn->phase != Phase::waiting) return;
  t_conn->phase = Phase::receiving;
  // Bytes came faster than a tick noticed them: the clock starts now.
  if (!t_conn->deadline) t_conn->deadline = Clock::now() + t_watchdog->read_timeout_;
}

void ConnectionWatchdog::request_received() {
  if (t_conn == nullptr) return;
  std::lock_guard lock(t_watchdog->mu_);
  t_conn->phase = Phase::handling;
  t_conn->deadline.reset();
}

void ConnectionWatchdog::response_written() {
  if (t_conn == nullptr) return;
  std::lock_guard lock(t_watchdog->mu_);
  t_conn->phase = Phase::waiting;
  t_conn->baseline = bytes_received(t_conn->fd);
  t_conn->deadline.reset();
}

void ConnectionWatchdog::close_idle() {
  std::lock_guard lock(mu_);
  for (const auto& c : conns_) {
    if (c->phase == Phase::waiting && !c->deadline && !c->shut &&
        bytes_received(c->fd) == c->baseline) {
      c->shut_down();
    }
  }
}

void ConnectionWatchdog::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, kTick);
    if (!stopping_) tick();
  }
}

void ConnectionWatchdog::tick() {
  const auto now = Clock::now();
  for (const auto& c : conns_) {
    if (c->shut || (c->phase != Phase::waiting && c->phase != Phase::receiving)) continue;
    if (!c->deadline && bytes_received(c->fd) > c->baseline) c->deadline = now + read_timeout_;
    if (c->deadline && now >= *c->deadline) c->shut_down();
  }
}

}  // namespace shortcred::tokens
