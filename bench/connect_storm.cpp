// bench/connect_storm: on Mosquitto 2.1, what a CONNECT storm does to the
// delivery latency of clients that are already connected, with the plugin's
// CONNECT lookups off the broker thread (plugin_opt_delayed_auth auto: delayed
// basic auth, a worker thread does the Redis round trip) and on it
// (plugin_opt_delayed_auth off: a synchronous pipelined round trip inside
// MOSQ_EVT_BASIC_AUTH). Not a test.
//
// Each run starts a fresh broker ($SHORTCRED_MOSQUITTO) with the plugin in the
// requested mode, checks the plugin's load line says that mode (it throws
// otherwise), and connects
//   - R receivers (libmosquitto, MQTT 3.1.1, one credential each, users uN of
//     org_bench) subscribed to org_bench/shared/ping, served by a few poll()
//     threads rather than a thread per client;
//   - one publisher (its own credential) sending QoS 0 at a fixed rate, the
//     payload carrying steady_clock::now() in ns taken just before the send.
// Latency of a delivery = steady_clock at the receiver's message callback −
// that timestamp. Deliveries are put in a phase by their send time:
//   baseline: a window of B s with nothing else going on;
//   storm:    from the first storm CONNECT to the last CONNACK, while K threads
//             open fresh connections with fresh credentials (N in all,
//             pre-minted): raw TCP socket, hand-written MQTT 3.1.1 CONNECT,
//             wait for the CONNACK, close; the next one at once.
// The modes run in interleaved rounds (delayed then sync, then sync then
// delayed, …) so drift of the machine hits both alike; figures are median and
// interquartile range over the rounds, ratios are taken within a run (storm vs
// the same run's baseline) or within a round (delayed vs sync).
//
// --redis-delay-ms D (> 0) puts an in-process TCP proxy between the broker and
// Redis that holds every forwarded chunk for D ms in each direction (a round
// trip then costs ≥ 2·D), to model a managed Redis a network hop away.
#include <mosquitto.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mqtt311_connect.hpp"
#include "quantiles.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"
#include "support/credentials.hpp"
#include "support/mosquitto_server.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string plugin;
  int rounds = 5;
  int receivers = 100;
  int receiver_threads = 2;
  double rate = 200;  // publishes per second
  double baseline_s = 3;
  int connects = 5000;
  int storm_threads = 8;
  int redis_delay_ms = 0;
  int redis_timeout_ms = 0;  // 0: the plugin's default (50 ms)
};

using support::Account;

const std::string kOrg = "org_bench";
const std::string kTopic = "org_bench/shared/ping";

std::int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

// CPU time of a process (all its threads) in seconds.
double cpu_seconds(pid_t pid) {
  clockid_t clk{};
  timespec ts{};
  if (clock_getcpuclockid(pid, &clk) != 0 || clock_gettime(clk, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<Account> mint(shortcred::redis::Connection& c, int n, const std::string& user_prefix) {
  return support::write_credentials(c, kOrg, n, user_prefix);
}

// ---------------------------------------------------------------------------
// A TCP proxy that delays every chunk it forwards by a fixed time, per
// direction and in order. Two threads per direction: one reads (and stamps
// the chunk), one sleeps until the chunk is due and writes it.

class DelayProxy {
 public:
  DelayProxy(int upstream_port, std::chrono::milliseconds delay) : upstream_(upstream_port), delay_(delay) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    port_ = support::free_port();
    sockaddr_in sa = loopback(port_);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("delay proxy: cannot listen");
    }
    threads_.emplace_back([this] { accept_loop(); });
  }
  ~DelayProxy() {
    stop_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    {
      std::lock_guard l(mu_);
      for (auto& d : dirs_) {
        ::shutdown(d->from, SHUT_RDWR);
        ::shutdown(d->to, SHUT_RDWR);
        std::lock_guard dl(d->mu);
        d->eof = true;
        d->cv.notify_all();
      }
    }
    // accept_loop adds threads only while !stop_, under mu_; join outside it.
    for (std::size_t i = 0;; ++i) {
      std::thread t;
      {
        std::lock_guard l(mu_);
        if (i >= threads_.size()) break;
        t = std::move(threads_[i]);
      }
      if (t.joinable()) t.join();
    }
    for (int fd : fds_) ::close(fd);
    ::close(listen_fd_);
  }
  DelayProxy(const DelayProxy&) = delete;
  DelayProxy& operator=(const DelayProxy&) = delete;

  int port() const { return port_; }

 private:
  struct Chunk {
    Clock::time_point due;
    std::string data;
  };
  struct Direction {
    int from = -1, to = -1;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Chunk> q;
    bool eof = false;
  };

  static sockaddr_in loopback(int port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sa;
  }

  void accept_loop() {
    while (!stop_) {
      const int down = ::accept(listen_fd_, nullptr, nullptr);
      if (down < 0) {
        if (stop_) return;
        continue;
      }
      const int up = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in sa = loopback(upstream_);
      if (::connect(up, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        ::close(up);
        ::close(down);
        continue;
      }
      const int one = 1;
      ::setsockopt(down, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ::setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      std::lock_guard l(mu_);
      if (stop_) {
        ::close(up);
        ::close(down);
        return;
      }
      fds_.push_back(down);
      fds_.push_back(up);
      for (auto [from, to] : {std::pair{down, up}, std::pair{up, down}}) {
        auto d = std::make_shared<Direction>();
        d->from = from;
        d->to = to;
        dirs_.push_back(d);
        threads_.emplace_back([this, d] { read_side(*d); });
        threads_.emplace_back([this, d] { write_side(*d); });
      }
    }
  }

  void read_side(Direction& d) {
    char buf[16384];
    while (true) {
      const ssize_t n = ::recv(d.from, buf, sizeof buf, 0);
      std::lock_guard l(d.mu);
      if (n <= 0) {
        d.eof = true;
        d.cv.notify_all();
        return;
      }
      d.q.push_back({Clock::now() + delay_, std::string(buf, static_cast<std::size_t>(n))});
      d.cv.notify_all();
    }
  }

  void write_side(Direction& d) {
    std::unique_lock l(d.mu);
    while (true) {
      d.cv.wait(l, [&] { return d.eof || !d.q.empty(); });
      if (d.q.empty()) break;  // eof and drained
      Chunk c = std::move(d.q.front());
      d.q.pop_front();
      l.unlock();
      std::this_thread::sleep_until(c.due);
      std::size_t off = 0;
      while (off < c.data.size()) {
        const ssize_t w = ::send(d.to, c.data.data() + off, c.data.size() - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += static_cast<std::size_t>(w);
      }
      l.lock();
    }
    ::shutdown(d.to, SHUT_WR);
    ::shutdown(d.from, SHUT_RD);
  }

  int upstream_;
  std::chrono::milliseconds delay_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<std::shared_ptr<Direction>> dirs_;
  std::vector<int> fds_;
};

// ---------------------------------------------------------------------------
// Receivers: libmosquitto clients without their own threads, driven by
// poll() loops, each loop serving every T-th client.

struct Sample {
  std::int64_t sent_ns;
  std::int64_t latency_ns;
};

struct ReceiverLoop;

struct Receiver {
  mosquitto* m = nullptr;
  ReceiverLoop* loop = nullptr;
  std::atomic<int>* subscribed = nullptr;
};

struct ReceiverLoop {
  std::vector<Receiver*> clients;
  std::vector<Sample> samples;
  std::thread thread;
};

void on_message(mosquitto*, void* obj, const mosquitto_message* msg) {
  const std::int64_t now = mono_ns();
  if (msg->payloadlen < 8) return;
  std::int64_t sent = 0;
  std::memcpy(&sent, msg->payload, sizeof sent);
  static_cast<Receiver*>(obj)->loop->samples.push_back({sent, now - sent});
}

void run_loop(ReceiverLoop& loop, const std::atomic<bool>& running) {
  std::vector<pollfd> fds(loop.clients.size());
  auto last_misc = Clock::now();
  while (running.load(std::memory_order_relaxed)) {
    for (std::size_t i = 0; i < fds.size(); ++i) {
      mosquitto* m = loop.clients[i]->m;
      fds[i] = {mosquitto_socket(m), static_cast<short>(POLLIN | (mosquitto_want_write(m) ? POLLOUT : 0)), 0};
    }
    if (::poll(fds.data(), fds.size(), 50) < 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      mosquitto* m = loop.clients[i]->m;
      if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) {
        // libmosquitto reads one packet per call and never reads ahead, so
        // whatever the kernel still holds is further packets.
        for (int k = 0; k < 256; ++k) {
          if (mosquitto_loop_read(m, 1) != MOSQ_ERR_SUCCESS) break;
          int left = 0;
          if (::ioctl(fds[i].fd, FIONREAD, &left) != 0 || left <= 0) break;
        }
      }
      if ((fds[i].revents & POLLOUT) && mosquitto_want_write(m)) mosquitto_loop_write(m, 1);
    }
    if (Clock::now() - last_misc > 1s) {
      for (Receiver* r : loop.clients) mosquitto_loop_misc(r->m);
      last_misc = Clock::now();
    }
  }
}

// ---------------------------------------------------------------------------
// One storm connect: raw socket, MQTT 3.1.1 CONNECT, CONNACK, close.

enum class ConnectResult { accepted, refused, failed };

ConnectResult storm_connect(int port, const std::string& id, const Account& a) {
  const int fd = support::connect_loopback(port, 30);
  if (fd < 0) return ConnectResult::failed;
  const std::string pkt = bench::mqtt311_connect(id, &a, 60);
  ConnectResult res = ConnectResult::failed;
  unsigned char ack[4];
  if (::send(fd, pkt.data(), pkt.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(pkt.size()) &&
      ::recv(fd, ack, 4, MSG_WAITALL) == 4 && ack[0] == 0x20) {
    res = ack[3] == 0 ? ConnectResult::accepted : ConnectResult::refused;
  }
  ::close(fd);
  return res;
}

// ---------------------------------------------------------------------------

struct Pct {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;  // µs
  std::size_t n = 0;
};

Pct percentiles(std::vector<double> v) {
  Pct p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto rank = [&](double q) {  // nearest rank
    auto i = static_cast<std::size_t>(q * static_cast<double>(v.size()));
    return v[std::min(i, v.size() - 1)];
  };
  p.p50 = rank(0.5);
  p.p99 = rank(0.99);
  p.p999 = rank(0.999);
  p.max = v.back();
  return p;
}

struct RunResult {
  double storm_s = 0, connects_per_s = 0;
  int accepted = 0, refused = 0, failed = 0;
  Pct connect;                 // CONNECT → CONNACK, µs
  Pct storm, baseline;         // delivery latency, µs
  double storm_loss = 0, baseline_loss = 0;  // fraction of expected deliveries missing
  double broker_cpu_us_per_connect = 0;
  double broker_cpu_baseline = 0, broker_cpu_storm = 0;  // CPU s per wall s (1 = one core)
};

struct Mode {
  std::string name;        // "delayed" / "sync"
  std::string option;      // plugin_opt_delayed_auth value
  std::string log_phrase;  // what the load line must say
};

const Mode kModes[] = {
    {"delayed", "auto", "CONNECT lookups off the broker thread (delayed auth)"},
    {"sync", "off", "CONNECT lookups on the broker thread"},
};

std::string loaded_line(const std::string& log) {
  const auto at = log.find("shortcred: loaded");
  if (at == std::string::npos) return "";
  return log.substr(at, log.find('\n', at) - at);
}

RunResult run_once(const Args& args, const Mode& mode, support::TempDir& dir, shortcred::redis::Connection& rc,
                   int redis_port, const std::string& tag) {
  // Fresh credentials for this run (outside every measured window).
  const auto clients = mint(rc, args.receivers + 1, tag + "-u");
  const auto storm_accounts = mint(rc, args.connects, tag + "-s");

  const int port = support::free_port();
  const auto log = dir / (tag + ".log");
  const auto conf = dir / (tag + ".conf");
  // log_type notice for the plugin's load line; connection_messages false
  // keeps the broker's per-connection notices out of the storm.
  std::string c = "listener " + std::to_string(port) + " 127.0.0.1\nuser root\npersistence false\n" +
                  "log_type error\nlog_type warning\nlog_type notice\nconnection_messages false\n" +
                  "log_dest file " + log.string() + "\nmax_connections -1\nallow_anonymous false\n" +
                  "plugin " + args.plugin + "\nplugin_opt_redis_url redis://127.0.0.1:" +
                  std::to_string(redis_port) + "/0\nplugin_opt_delayed_auth " + mode.option + "\n";
  if (args.redis_timeout_ms > 0) c += "plugin_opt_redis_timeout_ms " + std::to_string(args.redis_timeout_ms) + "\n";
  support::write_file(conf, c);
  support::Process broker({support::mosquitto_binary(), "-c", conf.string()}, dir / (tag + ".stderr"));
  if (!support::wait_until([&] { return support::port_open(port); }, 10s, 10ms)) {
    throw std::runtime_error("broker " + tag + " did not start; see " + dir.path().string());
  }
  std::string line;
  support::wait_until([&] { return !(line = loaded_line(support::read_file(log))).empty(); }, 5s, 10ms);
  if (line.find(mode.log_phrase) == std::string::npos) {
    throw std::runtime_error("mode " + mode.name + " asked for, but the plugin's load line is: '" + line +
                             "' (want '" + mode.log_phrase + "')");
  }

  // Receivers.
  std::atomic<int> subscribed{0};
  std::atomic<bool> receiving{true};
  std::vector<std::unique_ptr<Receiver>> receivers;
  std::vector<ReceiverLoop> loops(static_cast<std::size_t>(args.receiver_threads));
  for (auto& l : loops) l.samples.reserve(4'000'000 / loops.size());
  for (int i = 0; i < args.receivers; ++i) {
    auto r = std::make_unique<Receiver>();
    r->loop = &loops[static_cast<std::size_t>(i) % loops.size()];
    r->subscribed = &subscribed;
    r->m = mosquitto_new((tag + "-r" + std::to_string(i)).c_str(), true, r.get());
    const Account& a = clients[static_cast<std::size_t>(i)];
    mosquitto_username_pw_set(r->m, a.username.c_str(), a.password.c_str());
    mosquitto_connect_callback_set(r->m, [](mosquitto* m, void*, int rc) {
      if (rc == 0) mosquitto_subscribe(m, nullptr, kTopic.c_str(), 0);
    });
    mosquitto_subscribe_callback_set(r->m, [](mosquitto*, void* obj, int, int n, const int* granted) {
      if (n == 1 && granted[0] == 0) static_cast<Receiver*>(obj)->subscribed->fetch_add(1);
    });
    mosquitto_message_callback_set(r->m, on_message);
    if (mosquitto_connect(r->m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
      throw std::runtime_error("receiver cannot connect");
    }
    r->loop->clients.push_back(r.get());
    receivers.push_back(std::move(r));
  }
  for (auto& l : loops) l.thread = std::thread([&l, &receiving] { run_loop(l, receiving); });
  if (!support::wait_until([&] { return subscribed.load() == args.receivers; }, 20s, 10ms)) {
    receiving = false;
    for (auto& l : loops) l.thread.join();
    throw std::runtime_error("only " + std::to_string(subscribed.load()) + " receivers subscribed");
  }

  // Publisher: fixed rate, its own thread, libmosquitto without a loop thread
  // (a publish is written to the socket by the calling thread).
  std::atomic<bool> publishing{true};
  std::vector<std::int64_t> sent;  // send timestamps
  sent.reserve(static_cast<std::size_t>(args.rate * 600));
  std::atomic<bool> pub_ready{false};
  std::string pub_error;
  std::thread publisher([&] {
    mosquitto* m = mosquitto_new((tag + "-pub").c_str(), true, &pub_ready);
    const Account& a = clients.back();
    mosquitto_username_pw_set(m, a.username.c_str(), a.password.c_str());
    mosquitto_connect_callback_set(m, [](mosquitto*, void* obj, int rc) {
      if (rc == 0) static_cast<std::atomic<bool>*>(obj)->store(true);
    });
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) pub_error = "publisher cannot connect";
    for (int i = 0; i < 500 && pub_error.empty() && !pub_ready; ++i) mosquitto_loop(m, 10, 1);
    if (!pub_ready && pub_error.empty()) pub_error = "publisher got no CONNACK";
    const auto period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / args.rate));
    const auto t0 = Clock::now();
    for (long k = 0; pub_error.empty() && publishing.load(std::memory_order_relaxed); ++k) {
      std::this_thread::sleep_until(t0 + period * k);
      char payload[16] = {};
      const std::int64_t ts = mono_ns();
      std::memcpy(payload, &ts, sizeof ts);
      std::memcpy(payload + 8, &k, sizeof k);
      if (mosquitto_publish(m, nullptr, kTopic.c_str(), sizeof payload, payload, 0, false) == MOSQ_ERR_SUCCESS) {
        sent.push_back(ts);
      }
      mosquitto_loop(m, 0, 1);  // PINGRESP, keepalive
    }
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    pub_ready = true;
  });
  support::wait_until([&] { return pub_ready.load() || !pub_error.empty(); }, 10s, 5ms);

  std::this_thread::sleep_for(1s);  // warm-up
  const double bcpu0 = cpu_seconds(broker.pid());
  const std::int64_t base0 = mono_ns();
  std::this_thread::sleep_for(std::chrono::duration<double>(args.baseline_s));
  const std::int64_t base1 = mono_ns();
  const double bcpu1 = cpu_seconds(broker.pid());

  // Storm.
  std::atomic<int> next{0}, accepted{0}, refused{0}, failed{0};
  std::vector<std::vector<double>> connect_us(static_cast<std::size_t>(args.storm_threads));
  const double cpu0 = cpu_seconds(broker.pid());
  const std::int64_t storm0 = mono_ns();
  std::vector<std::thread> storm;
  for (int k = 0; k < args.storm_threads; ++k) {
    storm.emplace_back([&, k] {
      auto& lat = connect_us[static_cast<std::size_t>(k)];
      for (int i = next++; i < args.connects; i = next++) {
        const auto t = Clock::now();
        const ConnectResult r =
            storm_connect(port, tag + "-c" + std::to_string(i), storm_accounts[static_cast<std::size_t>(i)]);
        lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
        (r == ConnectResult::accepted ? accepted : r == ConnectResult::refused ? refused : failed)++;
      }
    });
  }
  for (auto& t : storm) t.join();
  const std::int64_t storm1 = mono_ns();
  const double cpu1 = cpu_seconds(broker.pid());

  std::this_thread::sleep_for(500ms);  // tail
  publishing = false;
  publisher.join();
  std::this_thread::sleep_for(300ms);  // the last deliveries in
  receiving = false;
  for (auto& l : loops) l.thread.join();
  for (auto& r : receivers) {
    mosquitto_disconnect(r->m);
    mosquitto_destroy(r->m);
  }
  broker.stop();
  if (!pub_error.empty()) throw std::runtime_error(pub_error);

  RunResult out;
  out.storm_s = static_cast<double>(storm1 - storm0) * 1e-9;
  out.connects_per_s = args.connects / out.storm_s;
  out.accepted = accepted;
  out.refused = refused;
  out.failed = failed;
  out.broker_cpu_storm = (cpu1 - cpu0) / out.storm_s;
  out.broker_cpu_baseline = (bcpu1 - bcpu0) / (static_cast<double>(base1 - base0) * 1e-9);
  // Net of the deliveries going on meanwhile (the baseline's CPU rate).
  out.broker_cpu_us_per_connect = (out.broker_cpu_storm - out.broker_cpu_baseline) * out.storm_s * 1e6 / args.connects;
  std::vector<double> all_connect;
  for (auto& v : connect_us) all_connect.insert(all_connect.end(), v.begin(), v.end());
  out.connect = percentiles(std::move(all_connect));
  std::vector<double> in_storm, in_base;
  for (auto& l : loops) {
    for (const Sample& s : l.samples) {
      const double us = static_cast<double>(s.latency_ns) * 1e-3;
      if (s.sent_ns >= storm0 && s.sent_ns <= storm1) in_storm.push_back(us);
      else if (s.sent_ns >= base0 && s.sent_ns < base1) in_base.push_back(us);
    }
  }
  auto expected = [&](std::int64_t a, std::int64_t b) {
    return static_cast<double>(std::count_if(sent.begin(), sent.end(), [&](auto t) { return t >= a && t <= b; })) *
           args.receivers;
  };
  const double want_storm = expected(storm0, storm1), want_base = expected(base0, base1 - 1);
  out.storm = percentiles(std::move(in_storm));
  out.baseline = percentiles(std::move(in_base));
  out.storm_loss = want_storm > 0 ? 1 - static_cast<double>(out.storm.n) / want_storm : 0;
  out.baseline_loss = want_base > 0 ? 1 - static_cast<double>(out.baseline.n) / want_base : 0;
  return out;
}

std::string fmt(const Stats& s, const char* f) {
  char a[32], b[32], c[32], buf[128];
  std::snprintf(a, sizeof a, f, s.median);
  std::snprintf(b, sizeof b, f, s.q1);
  std::snprintf(c, sizeof c, f, s.q3);
  std::snprintf(buf, sizeof buf, "%s [%s .. %s]", a, b, c);
  return buf;
}

int usage() {
  std::cerr << "usage: connect_storm --plugin PATH/mosquitto_shortcred.so [--rounds N] [--receivers R]\n"
               "         [--receiver-threads T] [--rate MSG_PER_S] [--baseline-s S] [--connects N]\n"
               "         [--storm-threads K] [--redis-delay-ms D] [--redis-timeout-ms MS]\n"
               "  the broker is $SHORTCRED_MOSQUITTO (must be 2.1 for the delayed mode)\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    try {
      if (k == "--plugin") args.plugin = v;
      else if (k == "--rounds") args.rounds = std::stoi(v);
      else if (k == "--receivers") args.receivers = std::stoi(v);
      else if (k == "--receiver-threads") args.receiver_threads = std::stoi(v);
      else if (k == "--rate") args.rate = std::stod(v);
      else if (k == "--baseline-s") args.baseline_s = std::stod(v);
      else if (k == "--connects") args.connects = std::stoi(v);
      else if (k == "--storm-threads") args.storm_threads = std::stoi(v);
      else if (k == "--redis-delay-ms") args.redis_delay_ms = std::stoi(v);
      else if (k == "--redis-timeout-ms") args.redis_timeout_ms = std::stoi(v);
      else return usage();
    } catch (const std::exception&) {
      return usage();
    }
  }
  if (args.plugin.empty() || args.rounds < 1 || args.receivers < 1 || args.receiver_threads < 1 ||
      args.rate <= 0 || args.connects < 1 || args.storm_threads < 1 || args.redis_delay_ms < 0) {
    return usage();
  }
  args.receiver_threads = std::min(args.receiver_threads, args.receivers);
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  mosquitto_lib_init();

  try {
    support::TempDir dir("shortcred-storm");
    support::RedisServer redis;
    auto rc = redis.connect();
    // Every credential belongs to an existing org (a missing org hash refuses).
    if (shortcred::redis::is_error(rc.command({"HSET", shortcred::org_key("shortcred:", kOrg), "name", kOrg}))) {
      throw std::runtime_error("cannot write the org hash");
    }
    std::unique_ptr<DelayProxy> proxy;
    if (args.redis_delay_ms > 0) {
      proxy = std::make_unique<DelayProxy>(redis.port(), std::chrono::milliseconds(args.redis_delay_ms));
    }
    const int redis_port = proxy ? proxy->port() : redis.port();

    std::printf("connect_storm: %s, %u CPUs; %d receivers on %d poll thread(s), 1 publisher at %.0f msg/s "
                "QoS 0; storm of %d fresh CONNECTs on %d threads; baseline %.1f s; Redis %s; %d rounds\n",
                support::mosquitto_binary().c_str(), std::thread::hardware_concurrency(), args.receivers,
                args.receiver_threads, args.rate, args.connects, args.storm_threads, args.baseline_s,
                args.redis_delay_ms > 0 ? ("behind a +" + std::to_string(args.redis_delay_ms) +
                                           " ms/direction delay proxy").c_str()
                                        : "direct (loopback)",
                args.rounds);
    std::fflush(stdout);

    std::map<std::string, std::vector<RunResult>> results;
    for (int r = 0; r < args.rounds; ++r) {
      for (std::size_t i = 0; i < std::size(kModes); ++i) {
        const Mode& mode = kModes[(i + static_cast<std::size_t>(r)) % std::size(kModes)];
        const std::string tag = "r" + std::to_string(r + 1) + "-" + mode.name;
        const RunResult x = run_once(args, mode, dir, rc, redis_port, tag);
        results[mode.name].push_back(x);
        std::fprintf(stderr,
                     "round %d %-7s storm %.2f s (%.0f conn/s; %d ok %d refused %d failed; CONNACK p50 %.0f "
                     "p99 %.0f us; broker %.0f CPU us/conn) | delivery us: storm p50 %.0f p99 %.0f p99.9 %.0f "
                     "max %.0f (n %zu, loss %.2f%%) | baseline p50 %.0f p99 %.0f p99.9 %.0f max %.0f "
                     "(n %zu, loss %.2f%%)\n",
                     r + 1, mode.name.c_str(), x.storm_s, x.connects_per_s, x.accepted, x.refused, x.failed,
                     x.connect.p50, x.connect.p99, x.broker_cpu_us_per_connect, x.storm.p50, x.storm.p99,
                     x.storm.p999, x.storm.max, x.storm.n, 100 * x.storm_loss, x.baseline.p50, x.baseline.p99,
                     x.baseline.p999, x.baseline.max, x.baseline.n, 100 * x.baseline_loss);
      }
    }

    auto col = [&](const std::string& mode, auto field) {
      std::vector<double> v;
      for (const RunResult& x : results[mode]) v.push_back(field(x));
      return stats(v);
    };
    std::printf("\nmedian [q1 .. q3] over %d rounds; latencies in us\n", args.rounds);
    std::printf("%-34s %-28s %-28s\n", "", "delayed (auto)", "sync (off)");
    auto row = [&](const char* label, const char* f, auto field) {
      std::printf("%-34s %-28s %-28s\n", label, fmt(col("delayed", field), f).c_str(),
                  fmt(col("sync", field), f).c_str());
    };
    row("storm duration, s", "%.2f", [](const RunResult& x) { return x.storm_s; });
    row("connects/s", "%.0f", [](const RunResult& x) { return x.connects_per_s; });
    row("refused + failed connects", "%.0f", [](const RunResult& x) { return double(x.refused + x.failed); });
    row("CONNECT->CONNACK p50", "%.0f", [](const RunResult& x) { return x.connect.p50; });
    row("CONNECT->CONNACK p99", "%.0f", [](const RunResult& x) { return x.connect.p99; });
    row("broker CPU us/connect (net)", "%.0f", [](const RunResult& x) { return x.broker_cpu_us_per_connect; });
    row("broker CPU, cores, baseline", "%.2f", [](const RunResult& x) { return x.broker_cpu_baseline; });
    row("broker CPU, cores, storm", "%.2f", [](const RunResult& x) { return x.broker_cpu_storm; });
    row("storm delivery p50", "%.0f", [](const RunResult& x) { return x.storm.p50; });
    row("storm delivery p99", "%.0f", [](const RunResult& x) { return x.storm.p99; });
    row("storm delivery p99.9", "%.0f", [](const RunResult& x) { return x.storm.p999; });
    row("storm delivery max", "%.0f", [](const RunResult& x) { return x.storm.max; });
    row("storm deliveries lost, %", "%.2f", [](const RunResult& x) { return 100 * x.storm_loss; });
    row("baseline delivery p50", "%.0f", [](const RunResult& x) { return x.baseline.p50; });
    row("baseline delivery p99", "%.0f", [](const RunResult& x) { return x.baseline.p99; });
    row("baseline delivery p99.9", "%.0f", [](const RunResult& x) { return x.baseline.p999; });
    row("baseline delivery max", "%.0f", [](const RunResult& x) { return x.baseline.max; });
    row("storm p99 / same run's baseline p99", "%.2f",
        [](const RunResult& x) { return x.baseline.p99 > 0 ? x.storm.p99 / x.baseline.p99 : 0; });
    std::vector<double> ratio, ratio_norm;
    for (std::size_t r = 0; r < results["delayed"].size(); ++r) {
      const RunResult &d = results["delayed"][r], &s = results["sync"][r];
      ratio.push_back(d.storm.p99 / s.storm.p99);
      ratio_norm.push_back((d.storm.p99 / d.baseline.p99) / (s.storm.p99 / s.baseline.p99));
    }
    std::printf("\nstorm p99, delayed / sync (same round): %s\n", fmt(stats(ratio), "%.3f").c_str());
    std::printf("  each over its own baseline p99:       %s\n", fmt(stats(ratio_norm), "%.3f").c_str());
  } catch (const std::exception& e) {
    std::cerr << "connect_storm: " << e.what() << "\n";
    mosquitto_lib_cleanup();
    return 1;
  }
  mosquitto_lib_cleanup();
  return 0;
}
