#include "connection_watchdog.hpp"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_received
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>

namespace shortcred::tokens {

using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTick = std::chrono::milliseconds(50);
// A connection served this long without sending a byte may be closed to free
// its worker for a waiting one (a client about to send is not cut).
constexpr auto kMinIdle = std::chrono::milliseconds(200);
constexpr auto kRefusalLogEvery = std::chrono::seconds(10);

// queued: accepted, no worker yet (no deadline: the client
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

// The peer's address as text (inet_ntop), "" if unknown.
std::string peer_address(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return {};
  char text[INET6_ADDRSTRLEN] = {};
  const void* raw = a.ss_family == AF_INET6
                        ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&a)->sin6_addr)
                        : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&a)->sin_addr);
  if (inet_ntop(a.ss_family, raw, text, sizeof text) == nullptr) return {};
  return text;
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
  std::string address;  // the peer's, as text
  Phase phase = Phase::queued;
  std::uint64_t baseline = 0;  // bytes received when the last response went out
  Clock::time_point idle_since{};
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
  void start_waiting(Clock::time_point now) {
    phase = Phase::waiting;
    idle_since = now;
    deadline.reset();
  }
};

namespace {
thread_local ConnectionWatchdog* t_watchdog = nullptr;
thread_local ConnectionWatchdog::Conn* t_conn = nullptr;
}  // namespace

ConnectionWatchdog::ConnectionWatchdog(ConnectionLimits limits, int listen_port,
                                       std::function<void(const std::string&)> log)
    : limits_(limits), listen_port_(listen_port), log_(std::move(log)) {
  for (int i = 0; i < limits_.workers; ++i) workers_.emplace_back([this] { work(); });
  thread_ = std::thread([this] { run(); });
}

ConnectionWatchdog::~ConnectionWatchdog() {
  stop_workers();
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ConnectionWatchdog::stop_workers() {
  {
    std::lock_guard lock(mu_);
    stopping_workers_ = true;
  }
  work_cv_.notify_all();
  for (auto& w : workers_) {
    if (w.joinable()) w.join();
  }
}

std::shared_ptr<ConnectionWatchdog::Conn> ConnectionWatchdog::adopt_new_connection(
    int& accepted_fd) {
  std::set<ino_t> known;
  {
    std::lock_guard lock(mu_);
    for (const auto& c : conns_) known.insert(c->inode);
  }
  // Every earlier accepted socket was adopted (or closed) by the single
  // accept thread before this one was accepted, so exactly one unknown socket
  // is expected. Anything else (a failed dup earlier): no deadline and no
  // address rather than wrong ones.
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
  c->address = peer_address(found);
  accepted_fd = found;
  return c;
}

void ConnectionWatchdog::admit(std::function<void()> serve) {
  int accepted_fd = -1;
  auto c = adopt_new_connection(accepted_fd);
  std::unique_lock lock(mu_);
  if (c && !c->address.empty()) {
    if (held_[c->address] >= limits_.max_per_address) {
      lock.unlock();
      return refuse(accepted_fd, c->address);  // `serve` never runs; its socket is ours to close
    }
    ++held_[c->address];
  }
  if (c) conns_.push_back(c);
  queue_.push_back(Pending{std::move(c), std::move(serve)});
  lock.unlock();
  work_cv_.notify_one();
}

void ConnectionWatchdog::refuse(int accepted_fd, const std::string& address) {
  ::close(accepted_fd);
  const auto now = Clock::now();
  std::string line;
  {
    std::lock_guard lock(mu_);
    ++refused_since_log_;
    if (now - last_refusal_log_ < kRefusalLogEvery) return;
    line = std::to_string(refused_since_log_) + " connection(s) refused, the last from " + address +
           ", which holds " + std::to_string(limits_.max_per_address) + " (--max-conns-per-ip)";
    last_refusal_log_ = now;
    refused_since_log_ = 0;
  }
  if (log_) log_(line);
}

int ConnectionWatchdog::workers_of(const std::shared_ptr<Conn>& c) const {
  if (!c) return 0;
  const auto it = served_.find(c->address);
  return it == served_.end() ? 0 : it->second;
}

// Fewest-workers address first; the oldest among equals.
std::list<ConnectionWatchdog::Pending>::iterator ConnectionWatchdog::next_in_line() {
  auto best = queue_.begin();
  int best_n = best == queue_.end() ? 0 : workers_of(best->conn);
  for (auto it = queue_.begin(); it != queue_.end() && best_n > 0; ++it) {
    if (const int n = workers_of(it->conn); n < best_n) best = it, best_n = n;
  }
  return best;
}

void ConnectionWatchdog::work() {
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait(lock, [this] { return !queue_.empty() || stopping_workers_; });
    if (queue_.empty()) return;  // stopping, and everything queued was served
    const auto it = next_in_line();
    Pending p = std::move(*it);
    queue_.erase(it);
    ++busy_;
    if (p.conn) {
      p.conn->start_waiting(Clock::now());
      ++served_[p.conn->address];
    }
    t_watchdog = this;
    t_conn = p.conn.get();
    lock.unlock();
    p.serve();
    p.serve = nullptr;
    lock.lock();
    t_watchdog = nullptr;
    t_conn = nullptr;
    --busy_;
    if (p.conn) forget(p.conn);
  }
}

void ConnectionWatchdog::forget(const std::shared_ptr<Conn>& c) {
  conns_.remove(c);  // the dup closes with the last reference
  for (auto* counts : {&held_, &served_}) {
    const auto it = counts->find(c->address);
    if (it != counts->end() && --it->second <= 0) counts->erase(it);
  }
}

void ConnectionWatchdog::head_received() {
  if (t_conn == nullptr) return;
  std::lock_guard lock(t_watchdog->mu_);
  if (t_conn->phase != Phase::waiting) return;
  t_conn->phase = Phase::receiving;
  // Bytes came faster than a tick noticed them: the clock starts now.
  if (!t_conn->deadline) t_conn->deadline = Clock::now() + t_watchdog->limits_.read_timeout;
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
  t_conn->start_waiting(Clock::now());
  t_conn->baseline = bytes_received(t_conn->fd);
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
    if (!c->deadline && bytes_received(c->fd) > c->baseline) {
      c->deadline = now + limits_.read_timeout;
    }
    if (c->deadline && now >= *c->deadline) c->shut_down();
  }
  free_a_worker(now);
}

// One worker per tick for the connection next in line, when none is free or
// about to be (see the policy in the header).
void ConnectionWatchdog::free_a_worker(Clock::time_point now) {
  if (queue_.empty()) return;
  int freeing = 0;
  for (const auto& c : conns_) freeing += c->shut && c->phase != Phase::queued ? 1 : 0;
  if (busy_ - freeing < limits_.workers) return;
  Conn* victim = nullptr;
  for (const auto& c : conns_) {
    if (c->phase != Phase::waiting || c->deadline || c->shut || now - c->idle_since < kMinIdle ||
        bytes_received(c->fd) != c->baseline) {
      continue;
    }
    if (victim == nullptr || c->idle_since < victim->idle_since) victim = c.get();
  }
  if (victim == nullptr) {
    const auto busiest =
        std::max_element(served_.begin(), served_.end(),
                         [](const auto& a, const auto& b) { return a.second < b.second; });
    if (busiest == served_.end() || busiest->second < workers_of(next_in_line()->conn) + 2) {
      return;
    }
    for (const auto& c : conns_) {
      if (c->address != busiest->first || c->shut || !c->deadline || c->phase == Phase::queued) {
        continue;
      }
      if (victim == nullptr || *c->deadline < *victim->deadline) victim = c.get();
    }
  }
  if (victim != nullptr) victim->shut_down();
}

}  // namespace shortcred::tokens
