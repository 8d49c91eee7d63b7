// bench/deployments: the same shortcred-tokend and mosquitto + plugin over
// each Redis deployment, in one run, so the figures compare: tokens/s
// (POST /v2/tokens, K keep-alive HTTP clients for D s) and broker
// connects/s (K threads opening fresh MQTT 3.1.1 connections with
// pre-minted credentials over raw sockets, each waiting for its CONNACK),
// both as ratios to plain TCP in the same round; then, for the deployments
// with a failover, the time from `kill -9` of the master serving the bench
// org to the first successful mint and to the first accepted CONNECT
// (polled side by side), over N fresh deployments: median and max. Not a
// test, asserts nothing.
//
//   deployments [--duration S] [--clients K] [--rounds R] [--failovers N]
//               [--down-after-ms MS]
//
// Deployments (tests/support fixtures): plain (one redis-server), tls (one
// redis-server on a TLS port only, client certificate required, rediss://),
// sentinel (1 master + 1 replica + 3 sentinels, down-after-milliseconds MS)
// and cluster (3 masters + 3 replicas, cluster-node-timeout 1000 ms). Each
// round measures all four, the starting one rotating; --rounds 0 or
// --failovers 0 skips that part.
#include <sys/socket.h>
#include <unistd.h>

#include <json/json.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "mqtt311_connect.hpp"
#include "quantiles.hpp"
#include "shortcred/cluster_slots.hpp"
#include "support/credentials.hpp"
#include "support/http_client.hpp"
#include "support/mosquitto_server.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/redis_cluster.hpp"
#include "support/redis_sentinels.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using support::Account;

const std::vector<std::string> kKinds = {"plain", "tls", "sentinel", "cluster"};

// One live Redis deployment: the fixture that owns its servers, its URL, how
// to kill -9 the master serving `org` (empty when it has no failover), and
// the connections its one server has accepted so far (plain and tls only;
// -1 if it cannot say).
struct Deployment {
  std::shared_ptr<void> servers;
  std::string url;
  std::function<void(const std::string& org)> kill_master;
  std::function<long()> connections_received;
};

// INFO stats `total_connections_received`, the asking connection included.
long connections_received(const support::RedisServer& r) {
  auto c = r.connect();
  const std::string n = support::info_field(c, "stats", "total_connections_received");
  return n.empty() ? -1 : std::stol(n);
}

Deployment make_deployment(const std::string& kind, int down_after_ms) {
  Deployment d;
  if (kind == "plain" || kind == "tls") {
    support::RedisServerOptions o;
    o.tls = kind == "tls";
    auto r = std::make_shared<support::RedisServer>(o);
    d.url = r->url();
    d.connections_received = [p = r.get()] { return connections_received(*p); };
    d.servers = r;
  } else if (kind == "sentinel") {
    auto s = std::make_shared<support::RedisSentinels>(1, 3, down_after_ms);
    d.url = s->url();
    d.kill_master = [p = s.get()](const std::string&) { p->master().kill_hard(); };
    d.servers = s;
  } else {
    auto c = std::make_shared<support::RedisCluster>(3);
    d.url = c->url();
    d.kill_master = [p = c.get()](const std::string& org) {
      p->kill_hard(p->master_of(shortcred::key_slot(org)));
    };
    d.servers = c;
  }
  return d;
}

// CONNECT (MQTT 3.1.1, clean session, username + password) on a fresh
// socket; true if the CONNACK accepts it.
bool raw_connect(int port, const std::string& client_id, const Account& c) {
  const std::string packet = bench::mqtt311_connect(client_id, &c, 30);
  const int fd = support::connect_loopback(port, 5);
  if (fd < 0) return false;
  bool ok = ::send(fd, packet.data(), packet.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(packet.size());
  unsigned char ack[4] = {};
  std::size_t got = 0;
  while (ok && got < sizeof ack) {
    const ssize_t n = ::recv(fd, ack + got, sizeof ack - got, 0);
    ok = n > 0;
    if (ok) got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return ok && ack[0] == 0x20 && ack[3] == 0;
}

Json::Value parse_json(const std::string& text) {
  Json::Value v;
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  r->parse(text.data(), text.data() + text.size(), &v, &errs);
  return v;
}

// shortcred-tokend and a mosquitto with the plugin over one deployment, with
// an org and an API key.
class Stack {
 public:
  Stack(const std::string& url, const std::string& org) : url_(url), org_(org) {
    port_ = support::free_port();
    tokend_ = support::Process({SHORTCRED_TOKEND_PATH, "--listen",
                                "127.0.0.1:" + std::to_string(port_), "--redis", url,
                                "--threads", "16", "--redis-timeout-ms", "500", "--issue-rate", "0"},
                               dir_ / "tokend.log");
    if (!support::wait_until([&] { return support::port_open(port_); }, 10s)) {
      throw std::runtime_error("tokend did not start; see " + dir_.path().string());
    }
    broker_ = std::make_unique<support::MosquittoServer>(
        "allow_anonymous false\nplugin " SHORTCRED_PLUGIN_PATH "\nplugin_opt_redis_url " + url +
            "\n",
        true);
    ctl({"org", "create", "--id", org});
    const auto key = ctl({"--json", "apikey", "create", "--org", org, "--name", "bench"});
    api_key_ = parse_json(key.out)["api_key"].asString();
    if (api_key_.empty()) throw std::runtime_error("apikey create failed: " + key.err);
  }

  support::RunResult ctl(std::vector<std::string> args) const {
    args.insert(args.begin(), {SHORTCRED_CTL_PATH, "--redis", url_});
    return support::run(args);
  }
  std::unique_ptr<support::HttpClient> http() const {
    return std::make_unique<support::HttpClient>("http://127.0.0.1:" + std::to_string(port_));
  }
  // 201 → the credential; otherwise nullopt.
  std::optional<Account> mint(support::HttpClient& h, const std::string& user) const {
    const auto r = h.request("POST", "/v2/tokens",
                             R"({"user_id":")" + user + R"(","ttl_seconds":600})",
                             {"Authorization: Bearer " + api_key_});
    if (r.status != 201) return std::nullopt;
    const Json::Value v = parse_json(r.body);
    return Account{v["username"].asString(), v["password"].asString()};
  }
  int broker_port() const { return broker_->port(); }

 private:
  std::string url_, org_;
  support::TempDir dir_{"shortcred-bench-deploy"};
  int port_ = 0;
  support::Process tokend_;
  std::unique_ptr<support::MosquittoServer> broker_;
  std::string api_key_;
};

// Runs `work(thread index, iteration)` on `clients` threads for `duration`;
// returns the summed counts of successes and failures.
std::pair<long, long> run_for(int clients, std::chrono::seconds duration,
                              const std::function<bool(int, long)>& work) {
  std::atomic<bool> stop{false};
  std::atomic<long> ok{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < clients; ++t) {
    threads.emplace_back([&, t] {
      for (long n = 0; !stop; ++n) (work(t, n) ? ok : failed)++;
    });
  }
  std::this_thread::sleep_for(duration);
  stop = true;
  for (auto& th : threads) th.join();
  return {ok.load(), failed.load()};
}

struct Throughput {
  double tokens_per_s = 0, connects_per_s = 0;
  long mint_errors = 0, connect_errors = 0;
  // Connections Redis accepted during the CONNECT phase per accepted
  // CONNECT (-1: not known): tells whether the broker reuses its Redis
  // connections or pays a TCP (and TLS) setup per CONNECT.
  double redis_connections_per_connect = -1;
};

Throughput throughput(const Deployment& d, const Stack& s, int clients,
                      std::chrono::seconds duration) {
  Throughput f;
  {
    std::vector<std::unique_ptr<support::HttpClient>> https;
    for (int t = 0; t < clients; ++t) https.push_back(s.http());
    const auto [ok, failed] = run_for(clients, duration, [&](int t, long n) {
      return s.mint(*https[static_cast<std::size_t>(t)], "u" + std::to_string((t * 7919 + n) % 500))
          .has_value();
    });
    f.tokens_per_s = static_cast<double>(ok) / static_cast<double>(duration.count());
    f.mint_errors = failed;
  }
  // Credentials for the CONNECT phase, minted beforehand (one per user).
  auto h = s.http();
  std::vector<Account> creds;
  for (int i = 0; i < 200; ++i) {
    if (auto c = s.mint(*h, "c" + std::to_string(i))) creds.push_back(*c);
  }
  if (creds.empty()) throw std::runtime_error("no credential for the CONNECT phase");
  const long before = d.connections_received ? d.connections_received() : -1;
  const auto [ok, failed] = run_for(clients, duration, [&](int t, long n) {
    const Account& c = creds[static_cast<std::size_t>((t * 31 + n) % static_cast<long>(creds.size()))];
    return raw_connect(s.broker_port(), "b" + std::to_string(t) + "-" + std::to_string(n), c);
  });
  f.connects_per_s = static_cast<double>(ok) / static_cast<double>(duration.count());
  f.connect_errors = failed;
  const long after = d.connections_received ? d.connections_received() : -1;
  if (before >= 0 && after >= 0 && ok > 0) {
    // Less the second INFO's own connection.
    f.redis_connections_per_connect = static_cast<double>(after - before - 1) / static_cast<double>(ok);
  }
  return f;
}

struct Failover {
  double to_mint_ms = -1, to_connect_ms = -1;  // -1: no success within 30 s
};

// kill -9 of the org's master, then a fresh mint and a CONNECT with a
// credential minted before the kill, each retried every 10 ms on its own
// thread until it succeeds.
Failover failover(const Deployment& d, const Stack& s, const std::string& org) {
  auto h = s.http();
  const auto pre = s.mint(*h, "before-kill");
  if (!pre) throw std::runtime_error("no credential before the kill");
  // Replicated before the kill, so the promoted replica has it.
  std::this_thread::sleep_for(200ms);
  Failover f;
  const auto killed = Clock::now();
  auto since_kill = [&] {
    return std::chrono::duration<double, std::milli>(Clock::now() - killed).count();
  };
  d.kill_master(org);
  std::thread connect([&] {
    if (support::wait_until([&] { return raw_connect(s.broker_port(), "after-kill", *pre); }, 30s,
                            10ms)) {
      f.to_connect_ms = since_kill();
    }
  });
  if (support::wait_until([&] { return s.mint(*h, "after-kill").has_value(); }, 30s, 10ms)) {
    f.to_mint_ms = since_kill();
  }
  connect.join();
  return f;
}

std::string ms(double v) {
  return v < 0 ? std::string("none in 30 s") : std::to_string(static_cast<long>(v + 0.5)) + " ms";
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 8, rounds = 1, failovers = 3, down_after_ms = 1000;
  std::chrono::seconds duration(5);
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (a == "--duration") duration = std::chrono::seconds(v);
    else if (a == "--clients") clients = v;
    else if (a == "--rounds") rounds = v;
    else if (a == "--failovers") failovers = v;
    else if (a == "--down-after-ms") down_after_ms = v;
    else {
      std::fprintf(stderr,
                   "usage: deployments [--duration S] [--clients K] [--rounds R] [--failovers N] "
                   "[--down-after-ms MS]\n");
      return 2;
    }
  }
  const std::string org = "org_bench";

  if (rounds > 0) {
    // Per deployment: the figures of each round and their ratios to the same
    // round's plain figures.
    std::map<std::string, std::vector<double>> tokens, connects, tokens_ratio, connects_ratio,
        redis_conns;
    std::map<std::string, long> errors;
    for (int r = 0; r < rounds; ++r) {
      std::map<std::string, Throughput> round;
      for (std::size_t i = 0; i < kKinds.size(); ++i) {
        const std::string& kind = kKinds[(i + static_cast<std::size_t>(r)) % kKinds.size()];
        const Deployment d = make_deployment(kind, down_after_ms);
        const Stack s(d.url, org);
        round[kind] = throughput(d, s, clients, duration);
        std::fprintf(stderr, "round %d %-8s %7.0f tokens/s %7.0f connects/s %6.3f Redis connections/CONNECT\n",
                     r + 1, kind.c_str(), round[kind].tokens_per_s, round[kind].connects_per_s,
                     round[kind].redis_connections_per_connect);
      }
      for (const auto& [kind, f] : round) {
        tokens[kind].push_back(f.tokens_per_s);
        connects[kind].push_back(f.connects_per_s);
        tokens_ratio[kind].push_back(f.tokens_per_s / round["plain"].tokens_per_s);
        connects_ratio[kind].push_back(f.connects_per_s / round["plain"].connects_per_s);
        errors[kind] += f.mint_errors + f.connect_errors;
        if (f.redis_connections_per_connect >= 0) redis_conns[kind].push_back(f.redis_connections_per_connect);
      }
    }
    std::printf("%d clients, %ld s per phase, %d round(s); median over rounds, ratio = median of "
                "each round's ratio to plain\n\n",
                clients, static_cast<long>(duration.count()), rounds);
    std::printf("| deployment | tokens/s | vs plain | connects/s | vs plain | Redis connections / CONNECT | failed mints + CONNECTs |\n");
    std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (const std::string& kind : kKinds) {
      char conns[32] = "—";
      if (!redis_conns[kind].empty()) std::snprintf(conns, sizeof conns, "%.3f", stats(redis_conns[kind]).median);
      std::printf("| %s | %.0f | %.2f | %.0f | %.2f | %s | %ld |\n", kind.c_str(), stats(tokens[kind]).median,
                  stats(tokens_ratio[kind]).median, stats(connects[kind]).median,
                  stats(connects_ratio[kind]).median, conns, errors[kind]);
    }
    std::fflush(stdout);
  }

  if (failovers > 0) {
    std::printf("\nkill -9 of the org's master -> first success, %d fresh deployment(s) each "
                "(sentinel down-after-milliseconds %d, cluster-node-timeout 1000)\n\n",
                failovers, down_after_ms);
    std::printf("| deployment | kill -9 → mint, median | max | kill -9 → CONNECT, median | max | each (mint / CONNECT) |\n");
    std::printf("| --- | ---: | ---: | ---: | ---: | --- |\n");
    for (const std::string kind : {"sentinel", "cluster"}) {
      std::vector<double> mint, connect;
      std::string each;
      bool all = true;
      for (int n = 0; n < failovers; ++n) {
        const Deployment d = make_deployment(kind, down_after_ms);
        const Stack s(d.url, org);
        const Failover f = failover(d, s, org);
        all = all && f.to_mint_ms >= 0 && f.to_connect_ms >= 0;
        if (f.to_mint_ms >= 0) mint.push_back(f.to_mint_ms);
        if (f.to_connect_ms >= 0) connect.push_back(f.to_connect_ms);
        each += (n == 0 ? "" : ", ") + ms(f.to_mint_ms) + " / " + ms(f.to_connect_ms);
        std::fprintf(stderr, "failover %d %-8s mint %s, CONNECT %s\n", n + 1, kind.c_str(),
                     ms(f.to_mint_ms).c_str(), ms(f.to_connect_ms).c_str());
      }
      auto max_of = [](const std::vector<double>& v) {
        return v.empty() ? -1 : *std::max_element(v.begin(), v.end());
      };
      std::printf("| %s | %s | %s | %s | %s | %s%s |\n", kind.c_str(),
                  mint.empty() ? "—" : ms(stats(mint).median).c_str(), ms(max_of(mint)).c_str(),
                  connect.empty() ? "—" : ms(stats(connect).median).c_str(),
                  ms(max_of(connect)).c_str(), each.c_str(), all ? "" : " (some never succeeded)");
    }
  }
  return 0;
}
