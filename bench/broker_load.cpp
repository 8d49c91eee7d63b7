// bench/broker_load: Mosquitto throughput and connect rate with and without
// the shortcred plugin (issue 4, "Performance"). Not a test.
//
// Four brokers run side by side, each on its own port with quiet logging:
//   (a) allow_anonymous true           (b) password_file + acl_file
//   (c) the dynamic-security plugin    (d) mosquitto_shortcred.so
// and are measured in interleaved rounds (a b c d a b c d …) so drift of the
// machine hits all of them alike.
//
// Throughput: P publishers → S subscribers (each subscribed to all of them),
// QoS 0, 64-byte payloads, closed loop with a window of outstanding
// deliveries so nothing is dropped; figure = deliveries/s.
// Connects: sequential CONNECT/CONNACK/DISCONNECT on K threads, each with a
// fresh shortcred credential ((b) and (c) reuse one account: their cost per
// connect is the password hash, the same for any user).
// Memory: RSS of broker (d) minus broker (a) with N idle connections each
// (raw sockets, hand-written MQTT 3.1.1 CONNECT), divided by N.
#include <mosquitto.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "shortcred/schema.hpp"
#include "shortcred/secrets.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  int publishers = 2, subscribers = 2, rounds = 3, connect_threads = 4;
  double seconds = 5;
  int connects = 2000;
  int sessions = 10000;
  std::string plugin;
};

struct Account {
  std::string username, password;
};

struct Broker {
  std::string name;
  int port = 0;
  support::Process proc;
  std::vector<Account> accounts;  // cycled by connect tests; [0] for throughput
};

const std::string kTopicBase = "org_bench/shared/bench/";
const std::string kOrg = "org_bench";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void start(Broker& b, support::TempDir& dir, const std::string& extra) {
  b.port = support::free_port();
  const auto conf = dir / (b.name + ".conf");
  support::write_file(conf, "listener " + std::to_string(b.port) + " 127.0.0.1\n" +
                                "user root\npersistence false\nlog_type error\nlog_type warning\n" +
                                "log_dest file " + (dir / (b.name + ".log")).string() + "\n" +
                                "max_connections -1\n" + extra);
  b.proc = support::Process({"mosquitto", "-c", conf.string()}, dir / (b.name + ".stderr"));
  if (!support::wait_until([&] { return support::port_open(b.port); }, 10s, 10ms)) {
    throw std::runtime_error("broker " + b.name + " did not start; see " + dir.path().string());
  }
}

std::vector<Account> mint(shortcred::redis::Connection& c, int n, const std::string& user_prefix) {
  std::vector<Account> out;
  const auto rnd = shortcred::openssl_random();
  for (int i = 0; i < n; ++i) {
    const auto m = shortcred::mint_password(rnd);
    shortcred::CredentialRecord r;
    r.user = user_prefix + std::to_string(i);
    r.secret_sha256 = m.sha256_hex;
    r.issued_at_ms = now_ms();
    r.expires_at_ms = r.issued_at_ms + 3'600'000;
    std::vector<std::string> argv{"HSET", shortcred::cred_key("shortcred:", kOrg, m.id)};
    for (auto& [k, v] : shortcred::to_fields(r)) {
      argv.push_back(k);
      argv.push_back(v);
    }
    c.append(argv);
    out.push_back({r.user + "@" + kOrg, m.full});
    if (i % 500 == 499 || i == n - 1) {
      for (int j = i - (i % 500); j <= i; ++j) c.read_reply();
    }
  }
  return out;
}

mosquitto* client(const Account* a, const std::string& id) {
  mosquitto* m = mosquitto_new(id.c_str(), true, nullptr);
  if (a) mosquitto_username_pw_set(m, a->username.c_str(), a->password.c_str());
  return m;
}

// One throughput run against `b`; returns deliveries per second.
double throughput(Broker& b, const Args& args) {
  std::atomic<long> delivered{0};
  std::atomic<bool> running{true};
  std::vector<mosquitto*> subs;
  const Account* acc = b.accounts.empty() ? nullptr : &b.accounts[0];
  for (int s = 0; s < args.subscribers; ++s) {
    mosquitto* m = client(acc, b.name + "-sub-" + std::to_string(s));
    mosquitto_user_data_set(m, &delivered);
    mosquitto_message_callback_set(m, [](mosquitto*, void* obj, const mosquitto_message*) {
      static_cast<std::atomic<long>*>(obj)->fetch_add(1, std::memory_order_relaxed);
    });
    if (mosquitto_connect(m, "127.0.0.1", b.port, 60) != MOSQ_ERR_SUCCESS) {
      throw std::runtime_error(b.name + ": subscriber cannot connect");
    }
    mosquitto_subscribe(m, nullptr, (kTopicBase + "#").c_str(), 0);
    mosquitto_loop_start(m);
    subs.push_back(m);
  }
  std::this_thread::sleep_for(300ms);  // SUBACKs in (a bench, not a test)
  std::atomic<long> sent{0};
  const long window = 2000;
  std::vector<std::thread> pubs;
  const std::string payload(64, 'x');
  for (int p = 0; p < args.publishers; ++p) {
    pubs.emplace_back([&, p] {
      mosquitto* m = client(acc, b.name + "-pub-" + std::to_string(p));
      mosquitto_connect(m, "127.0.0.1", b.port, 60);
      mosquitto_loop_start(m);
      const std::string topic = kTopicBase + std::to_string(p);
      while (running.load(std::memory_order_relaxed)) {
        if (sent.load() * args.subscribers - delivered.load() > window) {
          std::this_thread::yield();
          continue;
        }
        if (mosquitto_publish(m, nullptr, topic.c_str(), 64, payload.data(), 0, false) ==
            MOSQ_ERR_SUCCESS) {
          sent.fetch_add(1);
        }
      }
      mosquitto_disconnect(m);
      mosquitto_loop_stop(m, false);
      mosquitto_destroy(m);
    });
  }
  std::this_thread::sleep_for(500ms);  // warm-up
  const long d0 = delivered.load();
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(args.seconds));
  const long d1 = delivered.load();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  running = false;
  for (auto& t : pubs) t.join();
  for (mosquitto* m : subs) {
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
  }
  return static_cast<double>(d1 - d0) / secs;
}

// Sequential CONNECT → CONNACK → DISCONNECT on K threads; connects per second.
double connect_rate(Broker& b, const Args& args) {
  std::atomic<int> next{0}, ok{0};
  const int n = args.connects;
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int k = 0; k < args.connect_threads; ++k) {
    threads.emplace_back([&, k] {
      for (int i = next++; i < n; i = next++) {
        const Account* a = b.accounts.empty() ? nullptr : &b.accounts[static_cast<std::size_t>(i) % b.accounts.size()];
        mosquitto* m = client(a, b.name + "-c-" + std::to_string(k) + "-" + std::to_string(i));
        if (mosquitto_connect(m, "127.0.0.1", b.port, 60) == MOSQ_ERR_SUCCESS) {
          // Wait for CONNACK: loop until connected or an error.
          bool done = false;
          mosquitto_user_data_set(m, &done);
          mosquitto_connect_callback_set(m, [](mosquitto*, void* obj, int rc) {
            *static_cast<bool*>(obj) = true;
            (void)rc;
          });
          for (int spin = 0; spin < 1000 && !done; ++spin) {
            if (mosquitto_loop(m, 10, 1) != MOSQ_ERR_SUCCESS) break;
          }
          if (done) ++ok;
          mosquitto_disconnect(m);
          mosquitto_loop(m, 1, 1);
        }
        mosquitto_destroy(m);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (ok != n) std::cerr << b.name << ": only " << ok << " of " << n << " connects succeeded\n";
  return ok / secs;
}

long rss_kb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// A hand-written MQTT 3.1.1 CONNECT (clean session, keepalive 0).
std::string connect_packet(const std::string& id, const Account* a) {
  auto str = [](const std::string& s) {
    return std::string{static_cast<char>(s.size() >> 8), static_cast<char>(s.size() & 0xff)} + s;
  };
  std::string vh = str("MQTT") + '\x04' + static_cast<char>(a ? 0xC2 : 0x02) + std::string("\0\0", 2);
  std::string pl = str(id) + (a ? str(a->username) + str(a->password) : "");
  std::string body = vh + pl;
  std::string pkt(1, '\x10');
  std::size_t len = body.size();
  do {
    unsigned char byte = len % 128;
    len /= 128;
    if (len) byte |= 0x80;
    pkt += static_cast<char>(byte);
  } while (len);
  return pkt + body;
}

// Opens n idle connections; returns the broker's RSS growth in kB.
long memory_for(Broker& b, int n, std::vector<int>& fds) {
  const long before = rss_kb(b.proc.pid());
  for (int i = 0; i < n; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(b.port));
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      throw std::runtime_error("connect failed at " + std::to_string(i));
    }
    const Account* a = b.accounts.empty() ? nullptr : &b.accounts[static_cast<std::size_t>(i) % b.accounts.size()];
    const std::string pkt = connect_packet(b.name + "-m-" + std::to_string(i), a);
    if (::send(fd, pkt.data(), pkt.size(), 0) != static_cast<ssize_t>(pkt.size())) throw std::runtime_error("send");
    char ack[4];
    if (::recv(fd, ack, 4, MSG_WAITALL) != 4 || ack[3] != 0) {
      throw std::runtime_error(b.name + ": CONNACK refused at " + std::to_string(i));
    }
    fds.push_back(fd);
  }
  std::this_thread::sleep_for(500ms);
  return rss_kb(b.proc.pid()) - before;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--plugin") args.plugin = v;
    else if (k == "--seconds") args.seconds = std::stod(v);
    else if (k == "--rounds") args.rounds = std::stoi(v);
    else if (k == "--publishers") args.publishers = std::stoi(v);
    else if (k == "--subscribers") args.subscribers = std::stoi(v);
    else if (k == "--connects") args.connects = std::stoi(v);
    else if (k == "--sessions") args.sessions = std::stoi(v);
    else {
      std::cerr << "usage: broker_load --plugin PATH [--seconds S] [--rounds N] [--publishers P] "
                   "[--subscribers S] [--connects N] [--sessions N]\n";
      return 2;
    }
  }
  if (args.plugin.empty()) {
    std::cerr << "broker_load: --plugin PATH/mosquitto_shortcred.so is required\n";
    return 2;
  }
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;  // children inherit it (10 000 sessions)
  setrlimit(RLIMIT_NOFILE, &rl);
  mosquitto_lib_init();

  support::TempDir dir("shortcred-bench");
  support::RedisServer redis;
  auto rc = redis.connect();

  // (b) password_file + acl_file
  const auto pw = dir / "passwd";
  support::write_file(pw, "");
  support::run({"mosquitto_passwd", "-b", pw.string(), "bench", "bench-password"});
  support::write_file(dir / "acl", "user bench\ntopic readwrite org_bench/shared/#\n");
  // (c) dynamic security: init the file, then add a client and role over MQTT.
  const auto dynsec = dir / "dynsec.json";
  support::run({"mosquitto_ctrl", "dynsec", "init", dynsec.string(), "admin", "admin-password"});

  std::map<std::string, Broker> brokers;
  for (const char* n : {"a-anonymous", "b-password_file", "c-dynsec", "d-shortcred"}) brokers[n].name = n;
  start(brokers["a-anonymous"], dir, "allow_anonymous true\n");
  start(brokers["b-password_file"], dir,
        "allow_anonymous false\npassword_file " + pw.string() + "\nacl_file " + (dir / "acl").string() + "\n");
  start(brokers["c-dynsec"], dir,
        "allow_anonymous false\nplugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\n"
        "plugin_opt_config_file " + dynsec.string() + "\n");
  start(brokers["d-shortcred"], dir,
        "allow_anonymous false\nplugin " + args.plugin + "\nplugin_opt_redis_url " + redis.url() + "\n");
  {
    const std::string p = std::to_string(brokers["c-dynsec"].port);
    auto ctl = [&](std::vector<std::string> a) {
      std::vector<std::string> full{"mosquitto_ctrl", "-h", "127.0.0.1", "-p", p, "-u", "admin", "-P", "admin-password", "dynsec"};
      full.insert(full.end(), a.begin(), a.end());
      auto r = support::run(full);
      if (r.exit_code != 0) std::cerr << "mosquitto_ctrl failed: " << r.out << r.err << "\n";
    };
    ctl({"createClient", "bench", "-p", "bench-password"});
    ctl({"createRole", "bench"});
    ctl({"addRoleACL", "bench", "publishClientSend", "org_bench/shared/#", "allow", "5"});
    ctl({"addRoleACL", "bench", "subscribePattern", "org_bench/shared/#", "allow", "5"});
    ctl({"addClientRole", "bench", "bench", "5"});
  }
  brokers["b-password_file"].accounts = {{"bench", "bench-password"}};
  brokers["c-dynsec"].accounts = {{"bench", "bench-password"}};
  brokers["d-shortcred"].accounts = mint(rc, 1, "bench-tp-");

  std::map<std::string, std::vector<double>> tp;
  for (int r = 0; r < args.rounds; ++r) {
    for (auto& [name, b] : brokers) {
      const double v = throughput(b, args);
      tp[name].push_back(v);
      std::cerr << "round " << r + 1 << " " << name << ": " << static_cast<long>(v) << " msg/s\n";
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double base = median(tp["a-anonymous"]);
  std::printf("\nthroughput (QoS 0, 64 B, %d pub -> %d sub, median of %d x %.0f s)\n",
              args.publishers, args.subscribers, args.rounds, args.seconds);
  for (auto& [name, v] : tp) {
    std::printf("  %-16s %10.0f msg/s  %.3f x (a)\n", name.c_str(), median(v), median(v) / base);
  }

  // Connect rate: shortcred with one fresh credential per connection.
  brokers["d-shortcred"].accounts = mint(rc, args.connects, "bench-c-");
  std::printf("\nconnects/s (%d connects on %d threads)\n", args.connects, args.connect_threads);
  for (const char* n : {"b-password_file", "c-dynsec", "d-shortcred"}) {
    std::printf("  %-16s %10.0f connects/s\n", n, connect_rate(brokers[n], args));
  }

  // Memory per live session: (d) minus (a) with the same number of idle clients.
  brokers["d-shortcred"].accounts = mint(rc, args.sessions, "bench-m-");
  std::vector<int> fds;
  const long anon_kb = memory_for(brokers["a-anonymous"], args.sessions, fds);
  for (int fd : fds) ::close(fd);
  fds.clear();
  const long sc_kb = memory_for(brokers["d-shortcred"], args.sessions, fds);
  std::printf("\nmemory with %d idle connections: (a) +%ld kB, (d) +%ld kB -> plugin %.0f bytes/session\n",
              args.sessions, anon_kb, sc_kb, (sc_kb - anon_kb) * 1024.0 / args.sessions);
  for (int fd : fds) ::close(fd);
  mosquitto_lib_cleanup();
  return 0;
}
