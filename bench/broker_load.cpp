// bench/broker_load: Mosquitto throughput and connect rate with and without
// the shortcred plugin (issue 4, "Performance"). Not a test.
//
// Four brokers run side by side, each on its own port with quiet logging:
//   (a) allow_anonymous true           (b) password_file + acl_file
//   (c) the dynamic-security plugin    (d) mosquitto_shortcred.so
// and are measured in interleaved rounds (a b c d, then b c d a, …: the
// starting broker rotates) so drift of the machine hits all of them alike.
//
// Throughput: P publishers → S subscribers (each subscribed to all of them),
// QoS 0, 64-byte payloads, closed loop with a window of outstanding
// deliveries so nothing is dropped; figures = deliveries/s and the broker
// process's CPU time (all threads; utime + stime as in /proc/<pid>/stat, read
// through clock_getcpuclockid for ns resolution) per
// delivery over the same window, each as median and interquartile range over
// the rounds. CPU per delivery is much less sensitive than deliveries/s to the
// broker being descheduled on a small shared machine.
// --pin: brokers run under `taskset -c 0`, the load generator on CPU 1.
// --callgrind N: each broker once more under valgrind --tool=callgrind, for
// N/5 and then N publishes (×S deliveries); the difference of the two
// instruction totals over the difference of deliveries is the broker's
// instructions per delivery, free of scheduling noise and of start-up cost.
// Connects: sequential CONNECT/CONNACK/DISCONNECT on K threads, each with a
// fresh shortcred credential ((b) and (c) reuse one account: their cost per
// connect is the password hash, the same for any user).
// Memory: RSS of broker (d) minus broker (a) with N idle connections each
// (raw sockets, hand-written MQTT 3.1.1 CONNECT), divided by N.
// --many-brokers (DESIGN part 2) adds two shortcred brokers to every part:
//   (e) presence off (plugin_opt_presence_interval_s 0), for connects/s with
//       presence on (d) vs off (e);
//   (f) its org at pub_rate_scope global with a budget it never exhausts
//       (its own Redis), for the publish path's cost of spending leased
//       tokens vs no limit (d).
// --brokers LETTERS runs only those brokers (a and d always), e.g.
// `--brokers adef` for the many-brokers figures without (b) and (c).
// --connect-rounds N repeats the connect part N times, interleaved, the
// starting broker rotating; figures are the median [IQR] over the rounds.
#include <mosquitto.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "mqtt311_connect.hpp"
#include "quantiles.hpp"
#include "shortcred/presence.hpp"
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
  int publishers = 2, subscribers = 2, rounds = 11, connect_threads = 4;
  double seconds = 3;
  int connects = 2000;
  int sessions = 10000;
  long callgrind = 0;  // publishes for the callgrind mode; 0 = off
  bool pin = false;
  bool many_brokers = false;
  std::string plugin;
  std::string only = "abcdef";  // first letters of the brokers to run
  int connect_rounds = 1;
};

using support::Account;

struct Broker {
  std::string name;
  std::string extra_conf;  // broker-specific configuration lines
  int port = 0;
  support::Process proc;
  std::vector<Account> accounts;  // cycled by connect tests; [0] for throughput
};

const std::string kTopicBase = "org_bench/shared/bench/";
const std::string kOrg = "org_bench";

// Starts `b` with its extra_conf; `prefix` goes before the mosquitto command
// (taskset, valgrind), which then execs it, so b.proc.pid() is the broker's.
void start(Broker& b, support::TempDir& dir, const std::vector<std::string>& prefix = {},
           std::chrono::seconds startup = 10s) {
  b.port = support::free_port();
  const auto conf = dir / (b.name + ".conf");
  support::write_file(conf, "listener " + std::to_string(b.port) + " 127.0.0.1\n" +
                                "user root\npersistence false\nlog_type error\nlog_type warning\n" +
                                "log_dest file " + (dir / (b.name + ".log")).string() + "\n" +
                                "max_connections -1\n" + b.extra_conf);
  std::vector<std::string> argv = prefix;
  argv.insert(argv.end(), {support::mosquitto_binary(), "-c", conf.string()});
  b.proc = support::Process(argv, dir / (b.name + ".stderr"));
  if (!support::wait_until([&] { return support::port_open(b.port); }, startup, 10ms)) {
    throw std::runtime_error("broker " + b.name + " did not start; see " + dir.path().string());
  }
}

std::vector<Account> mint(shortcred::redis::Connection& c, int n, const std::string& user_prefix) {
  return support::write_credentials(c, kOrg, n, user_prefix);
}

mosquitto* client(const Account* a, const std::string& id) {
  mosquitto* m = mosquitto_new(id.c_str(), true, nullptr);
  if (a) mosquitto_username_pw_set(m, a->username.c_str(), a->password.c_str());
  return m;
}

// CPU time of a process (all its threads), in seconds: the kernel's
// process CPU clock (ns resolution), else utime + stime from /proc/<pid>/stat
// (clock ticks, usually 10 ms).
double cpu_seconds(pid_t pid) {
  clockid_t clk{};
  timespec ts{};
  if (clock_getcpuclockid(pid, &clk) == 0 && clock_gettime(clk, &ts) == 0) {
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may contain spaces
  if (close == std::string::npos) throw std::runtime_error("cannot read /proc/<pid>/stat");
  std::istringstream fields(stat.substr(close + 2));
  // Fields after the name start at 3 (state); utime and stime are 14 and 15.
  std::string f;
  for (int i = 3; i < 14; ++i) fields >> f;
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

void pin_self_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) throw std::runtime_error("sched_setaffinity failed");
}

struct Sample {
  double msgs_per_s = 0;
  double cpu_us_per_msg = 0;  // broker CPU per delivery
};

// Publishers and subscribers against `b`: with `seconds` > 0, a measured
// window after a warm-up; with `total` > 0 instead, exactly `total`
// publishes, waiting until all deliveries are in.
Sample drive(Broker& b, const Args& args, double seconds, long total, long window) {
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
          // Sleep rather than spin: a spinning publisher would take CPU from
          // the broker on a 2-core machine.
          std::this_thread::sleep_for(20us);
          continue;
        }
        if (total > 0 && sent.fetch_add(1) >= total) {
          sent.fetch_sub(1);
          break;
        }
        if (mosquitto_publish(m, nullptr, topic.c_str(), 64, payload.data(), 0, false) ==
            MOSQ_ERR_SUCCESS) {
          if (total == 0) sent.fetch_add(1);
        } else if (total > 0) {
          sent.fetch_sub(1);
        }
      }
      mosquitto_disconnect(m);
      mosquitto_loop_stop(m, false);
      mosquitto_destroy(m);
    });
  }
  Sample out;
  if (total > 0) {
    const long want = total * args.subscribers;
    if (!support::wait_until([&] { return delivered.load() >= want; }, 600s, 20ms)) {
      std::cerr << b.name << ": only " << delivered.load() << " of " << want << " deliveries\n";
    }
  } else {
    std::this_thread::sleep_for(500ms);  // warm-up
    const long d0 = delivered.load();
    const double c0 = cpu_seconds(b.proc.pid());
    const auto t0 = Clock::now();
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const long d1 = delivered.load();
    const double c1 = cpu_seconds(b.proc.pid());
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    out.msgs_per_s = static_cast<double>(d1 - d0) / secs;
    out.cpu_us_per_msg = d1 > d0 ? (c1 - c0) * 1e6 / static_cast<double>(d1 - d0) : 0;
  }
  running = false;
  for (auto& t : pubs) t.join();
  for (mosquitto* m : subs) {
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
  }
  return out;
}

// Instruction total ("summary:"/"totals:" line) of a callgrind output file.
double callgrind_total(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line;
  double total = -1;
  while (std::getline(in, line)) {
    for (const char* key : {"summary: ", "totals: "}) {
      if (line.rfind(key, 0) == 0) total = std::max(total, std::stod(line.substr(std::strlen(key))));
    }
  }
  if (total < 0) throw std::runtime_error("no instruction total in " + file.string());
  return total;
}

// Broker instructions for `publishes` publishes, from start to exit.
double callgrind_run(const Broker& model, support::TempDir& dir, const Args& args, long publishes) {
  Broker b;
  b.name = "cg-" + model.name + "-" + std::to_string(publishes);
  b.extra_conf = model.extra_conf;
  b.accounts = model.accounts;
  const auto out = dir / (b.name + ".callgrind");
  start(b, dir, {"valgrind", "--tool=callgrind", "--vgdb=no", "--callgrind-out-file=" + out.string()}, 120s);
  drive(b, args, 0, publishes, 200);
  const int status = b.proc.stop(120'000);
  if (!WIFEXITED(status)) std::cerr << b.name << ": broker did not exit cleanly under valgrind\n";
  return callgrind_total(out);
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
    const std::string pkt = bench::mqtt311_connect(b.name + "-m-" + std::to_string(i), a);
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
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--pin") {
      args.pin = true;
      continue;
    }
    if (k == "--many-brokers") {
      args.many_brokers = true;
      continue;
    }
    const bool has_value = i + 1 < argc;
    const std::string v = has_value ? argv[++i] : "";
    if (!has_value) args.rounds = -1;  // → usage
    else if (k == "--plugin") args.plugin = v;
    else if (k == "--seconds") args.seconds = std::stod(v);
    else if (k == "--rounds") args.rounds = std::stoi(v);
    else if (k == "--publishers") args.publishers = std::stoi(v);
    else if (k == "--subscribers") args.subscribers = std::stoi(v);
    else if (k == "--connects") args.connects = std::stoi(v);
    else if (k == "--sessions") args.sessions = std::stoi(v);
    else if (k == "--callgrind") args.callgrind = std::stol(v);
    else if (k == "--brokers") args.only = v + "ad";
    else if (k == "--connect-rounds") args.connect_rounds = std::stoi(v);
    else args.rounds = -1;
    if (args.rounds < 0) {
      std::cerr << "usage: broker_load --plugin PATH [--pin] [--seconds S] [--rounds N] [--publishers P] "
                   "[--subscribers S] [--connects N] [--sessions N] [--callgrind PUBLISHES] "
                   "[--many-brokers] [--brokers LETTERS] [--connect-rounds N]\n"
                   "  --rounds 0, --connects 0, --sessions 0 skip that part\n";
      return 2;
    }
  }
  const unsigned ncpu = std::thread::hardware_concurrency();
  if (args.pin && ncpu < 2) {
    std::cerr << "broker_load: --pin needs 2 CPUs; running unpinned\n";
    args.pin = false;
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
  std::unique_ptr<support::RedisServer> global_redis;  // (f)'s, with --many-brokers

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
  brokers["a-anonymous"].extra_conf = "allow_anonymous true\n";
  brokers["b-password_file"].extra_conf =
      "allow_anonymous false\npassword_file " + pw.string() + "\nacl_file " + (dir / "acl").string() + "\n";
  brokers["c-dynsec"].extra_conf =
      "allow_anonymous false\nplugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\n"
      "plugin_opt_config_file " + dynsec.string() + "\n";
  // A generous Redis timeout so CONNECT also succeeds under valgrind.
  brokers["d-shortcred"].extra_conf = "allow_anonymous false\nplugin " + args.plugin +
                                      "\nplugin_opt_redis_url " + redis.url() +
                                      "\nplugin_opt_redis_timeout_ms 5000\n";
  if (args.many_brokers) {
    brokers["e-sc-nopresence"].name = "e-sc-nopresence";
    brokers["e-sc-nopresence"].extra_conf =
        brokers["d-shortcred"].extra_conf + "plugin_opt_presence_interval_s 0\n";
    global_redis = std::make_unique<support::RedisServer>();
    brokers["f-sc-global"].name = "f-sc-global";
    brokers["f-sc-global"].extra_conf = "allow_anonymous false\nplugin " + args.plugin +
                                        "\nplugin_opt_redis_url " + global_redis->url() +
                                        "\nplugin_opt_redis_timeout_ms 5000\n";
  }
  for (auto it = brokers.begin(); it != brokers.end();) {
    it = args.only.find(it->first[0]) == std::string::npos ? brokers.erase(it) : std::next(it);
  }
  auto has = [&](const std::string& name) { return brokers.count(name) > 0; };
  const std::vector<std::string> broker_prefix =
      args.pin ? std::vector<std::string>{"taskset", "-c", "0"} : std::vector<std::string>{};
  for (auto& [name, b] : brokers) start(b, dir, broker_prefix);
  if (has("c-dynsec")) {
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
  if (has("b-password_file")) brokers["b-password_file"].accounts = {{"bench", "bench-password"}};
  if (has("c-dynsec")) brokers["c-dynsec"].accounts = {{"bench", "bench-password"}};
  brokers["d-shortcred"].accounts = mint(rc, 1, "bench-tp-");
  if (has("e-sc-nopresence")) brokers["e-sc-nopresence"].accounts = mint(rc, 1, "bench-tpe-");
  if (has("f-sc-global")) {
    auto rg = global_redis->connect();
    brokers["f-sc-global"].accounts = support::write_credentials(rg, kOrg, 1, "bench-tpf-");
    rg.command({"HSET", shortcred::org_key(shortcred::kDefaultKeyPrefix, kOrg), "pub_rate",
                "1000000000", "pub_rate_scope", "global"});
  }

  // The load generator (and every thread it starts from here on) on CPU 1.
  if (args.pin) pin_self_to(1);
  std::printf("%u CPUs; %s\n", ncpu,
              args.pin ? "pinned: each broker on CPU 0 (taskset -c 0), load generator on CPU 1"
                       : "not pinned (scheduler places brokers and load generator)");
  std::fflush(stdout);

  if (args.rounds > 0) {
    std::map<std::string, std::vector<double>> tp, cpu;
    std::vector<Broker*> order;
    for (auto& [name, b] : brokers) order.push_back(&b);
    for (int r = 0; r < args.rounds; ++r) {
      for (std::size_t i = 0; i < order.size(); ++i) {
        Broker& b = *order[(i + static_cast<std::size_t>(r)) % order.size()];
        const Sample v = drive(b, args, args.seconds, 0, 2000);
        tp[b.name].push_back(v.msgs_per_s);
        cpu[b.name].push_back(v.cpu_us_per_msg);
        std::fprintf(stderr, "round %2d %-16s %8.0f msg/s %6.3f CPU us/msg\n", r + 1, b.name.c_str(),
                     v.msgs_per_s, v.cpu_us_per_msg);
      }
    }
    const Stats base_tp = stats(tp["a-anonymous"]), base_cpu = stats(cpu["a-anonymous"]);
    std::printf("\nthroughput: QoS 0, 64 B, %d pub -> %d sub, %d interleaved rounds x %.1f s; median [IQR]\n",
                args.publishers, args.subscribers, args.rounds, args.seconds);
    std::printf("  %-16s %10s %19s %8s   %16s %15s %8s\n", "broker", "msg/s", "[q1 .. q3]", "vs (a)",
                "broker CPU us/msg", "[q1 .. q3]", "vs (a)");
    for (auto& [name, v] : tp) {
      const Stats t = stats(v), c = stats(cpu[name]);
      std::printf("  %-16s %10.0f [%7.0f .. %7.0f] %7.3fx   %16.3f [%5.3f .. %5.3f] %7.3fx\n", name.c_str(),
                  t.median, t.q1, t.q3, t.median / base_tp.median, c.median, c.q1, c.q3,
                  c.median / base_cpu.median);
    }
    std::printf("  (IQR/median: msg/s");
    for (auto& [name, v] : tp) {
      const Stats t = stats(v);
      std::printf(" %s %.0f%%", name.substr(0, 1).c_str(), 100 * (t.q3 - t.q1) / t.median);
    }
    std::printf("; CPU/msg");
    for (auto& [name, v] : cpu) {
      const Stats c = stats(v);
      std::printf(" %s %.0f%%", name.substr(0, 1).c_str(), 100 * (c.q3 - c.q1) / c.median);
    }
    std::printf(")\n");
    std::fflush(stdout);
  }

  // Instructions per delivery under callgrind: two runs per broker (N/5 and N
  // publishes), so start-up, connects and shutdown cancel out.
  if (args.callgrind > 0) {
    const long small = std::max(1L, args.callgrind / 5), big = args.callgrind;
    const double deliveries = static_cast<double>((big - small) * args.subscribers);
    std::map<std::string, double> ipm;
    for (auto& [name, b] : brokers) {
      const double i_small = callgrind_run(b, dir, args, small);
      const double i_big = callgrind_run(b, dir, args, big);
      ipm[name] = (i_big - i_small) / deliveries;
      std::fprintf(stderr, "callgrind %-16s %.0f / %.0f instructions for %ld / %ld publishes\n", name.c_str(),
                   i_small, i_big, small, big);
    }
    std::printf("\nbroker instructions per delivery (callgrind, (%ld - %ld publishes) x %d sub)\n", big, small,
                args.subscribers);
    for (auto& [name, v] : ipm) {
      std::printf("  %-16s %10.0f instr/msg  %.3f x (a)\n", name.c_str(), v, v / ipm["a-anonymous"]);
    }
    std::fflush(stdout);
  }

  // Connect rate: shortcred with one fresh credential per connection.
  if (args.connects > 0) {
    brokers["d-shortcred"].accounts = mint(rc, args.connects, "bench-c-");
    if (has("e-sc-nopresence")) brokers["e-sc-nopresence"].accounts = mint(rc, args.connects, "bench-ce-");
    std::vector<std::string> names;
    for (const char* n : {"b-password_file", "c-dynsec", "d-shortcred", "e-sc-nopresence"}) {
      if (has(n)) names.emplace_back(n);
    }
    std::map<std::string, std::vector<double>> rates;
    for (int r = 0; r < args.connect_rounds; ++r) {
      for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string& n = names[(i + static_cast<std::size_t>(r)) % names.size()];
        rates[n].push_back(connect_rate(brokers[n], args));
        if (args.connect_rounds > 1) {
          std::fprintf(stderr, "connect round %2d %-16s %8.0f connects/s\n", r + 1, n.c_str(), rates[n].back());
        }
      }
    }
    std::printf("\nconnects/s (%d connects on %d threads, %d interleaved round(s); median [IQR])\n",
                args.connects, args.connect_threads, args.connect_rounds);
    for (const std::string& n : names) {
      const Stats c = stats(rates[n]);
      std::printf("  %-16s %10.0f connects/s [%7.0f .. %7.0f]\n", n.c_str(), c.median, c.q1, c.q3);
    }
    if (has("e-sc-nopresence")) {
      // Same round, same Redis: presence on (d) over presence off (e).
      std::vector<double> ratio;
      for (int r = 0; r < args.connect_rounds; ++r) {
        ratio.push_back(rates["d-shortcred"][static_cast<std::size_t>(r)] /
                        rates["e-sc-nopresence"][static_cast<std::size_t>(r)]);
      }
      const Stats q = stats(ratio);
      std::printf("  presence on (d) / off (e), same round: %.3f [%.3f .. %.3f]\n", q.median, q.q1, q.q3);
    }
    std::fflush(stdout);
  }
  if (global_redis) {
    // Evidence that (f) spent leased tokens: its brokers' leases so far.
    auto rg = global_redis->connect();
    auto q = rg.command({"HGETALL", shortcred::quota_key(shortcred::kDefaultKeyPrefix, kOrg)});
    std::printf("\n(f) quota hash:");
    for (std::size_t i = 0; q && q->type == REDIS_REPLY_ARRAY && i < q->elements; ++i) {
      std::printf(" %s", shortcred::redis::to_string(q->element[i]).c_str());
    }
    std::printf("\n");
  }

  // Memory per live session: (d) minus (a) with the same number of idle clients.
  if (args.sessions <= 0) {
    mosquitto_lib_cleanup();
    return 0;
  }
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
