// bench/deployments: the same shortcred-tokend and mosquitto + plugin over
// each Redis deployment, in one run, so the figures compare: tokens/s
// (POST /v2/tokens, K keep-alive HTTP clients for D s) and broker
// connects/s (K threads opening fresh MQTT 3.1.1 connections with
// pre-minted credentials over raw sockets, each waiting for its CONNACK),
// both as ratios to plain TCP; then, where the deployment has a failover,
// the time from `kill -9` of the master serving the bench org to the first
// successful mint and the first accepted CONNECT. Not a test.
//
//   deployments [--duration S] [--clients K]
//
// Deployments: plain (one redis-server) and cluster (3 masters + 3
// replicas, tests/support RedisCluster).
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json/json.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "shortcred/cluster_slots.hpp"
#include "support/http_client.hpp"
#include "support/mosquitto_server.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"
#include "support/wait.hpp"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Cred {
  std::string username, password;
};

// One Redis deployment: its URL, and how to kill the master serving `org`
// (empty when it has no failover).
struct Deployment {
  std::string name;
  std::string url;
  std::function<void(const std::string& org)> kill_master;
};

struct Figures {
  double tokens_per_s = 0;
  double connects_per_s = 0;
  long mint_errors = 0, connect_errors = 0;
  double kill_to_mint_ms = -1, kill_to_connect_ms = -1;
};

std::string encode_string(const std::string& s) {
  std::string out;
  out += static_cast<char>(s.size() >> 8);
  out += static_cast<char>(s.size() & 0xFF);
  return out + s;
}

// CONNECT (MQTT 3.1.1, clean session, username + password) on a fresh
// socket; true if the CONNACK accepts it.
bool raw_connect(int port, const std::string& client_id, const Cred& c) {
  std::string var = encode_string("MQTT");
  var += '\x04';
  var += '\xC2';
  var += '\x00';
  var += '\x1E';
  const std::string payload =
      encode_string(client_id) + encode_string(c.username) + encode_string(c.password);
  std::size_t remaining = var.size() + payload.size();
  std::string packet(1, '\x10');
  do {
    char byte = static_cast<char>(remaining % 128);
    remaining /= 128;
    if (remaining > 0) byte = static_cast<char>(byte | 0x80);
    packet += byte;
  } while (remaining > 0);
  packet += var + payload;
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

class Stack {
 public:
  Stack(const std::string& url, const std::string& org) : url_(url), org_(org) {
    port_ = support::free_port();
    tokend_ = support::Process({SHORTCRED_TOKEND_PATH, "--listen",
                                "127.0.0.1:" + std::to_string(port_), "--redis", url,
                                "--threads", "16", "--redis-timeout-ms", "500", "--issue-rate", "0"},
                               dir_ / "tokend.log");
    if (!support::wait_until([&] { return support::port_open(port_); }, 10s)) {
      throw std::runtime_error("tokend did not start");
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
  std::optional<Cred> mint(support::HttpClient& h, const std::string& user) const {
    const auto r = h.request("POST", "/v2/tokens",
                             R"({"user_id":")" + user + R"(","ttl_seconds":600})",
                             {"Authorization: Bearer " + api_key_});
    if (r.status != 201) return std::nullopt;
    const Json::Value v = parse_json(r.body);
    return Cred{v["username"].asString(), v["password"].asString()};
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

// Runs `work(thread index)` on `clients` threads for `duration`; returns the
// summed counts of successes and failures.
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

Figures measure(const Deployment& d, const std::string& org, int clients,
                std::chrono::seconds duration) {
  Stack s(d.url, org);
  Figures f;
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
  {
    // Credentials for the CONNECT phase, minted beforehand (one per user).
    auto h = s.http();
    std::vector<Cred> creds;
    for (int i = 0; i < 200; ++i) {
      if (auto c = s.mint(*h, "c" + std::to_string(i))) creds.push_back(*c);
    }
    const auto [ok, failed] = run_for(clients, duration, [&](int t, long n) {
      const Cred& c = creds[static_cast<std::size_t>((t * 31 + n) % static_cast<long>(creds.size()))];
      return raw_connect(s.broker_port(), "b" + std::to_string(t) + "-" + std::to_string(n), c);
    });
    f.connects_per_s = static_cast<double>(ok) / static_cast<double>(duration.count());
    f.connect_errors = failed;
  }
  if (d.kill_master) {
    auto h = s.http();
    const auto pre = s.mint(*h, "before-kill");
    const auto killed = Clock::now();
    d.kill_master(org);
    std::optional<Cred> after;
    support::wait_until([&] { return (after = s.mint(*h, "after-kill")).has_value(); }, 30s, 10ms);
    if (after) {
      f.kill_to_mint_ms = std::chrono::duration<double, std::milli>(Clock::now() - killed).count();
    }
    if (support::wait_until([&] { return pre && raw_connect(s.broker_port(), "after", *pre); }, 30s,
                            10ms)) {
      f.kill_to_connect_ms =
          std::chrono::duration<double, std::milli>(Clock::now() - killed).count();
    }
  }
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  int clients = 8;
  std::chrono::seconds duration(5);
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--duration") duration = std::chrono::seconds(std::atoi(argv[i + 1]));
    else if (a == "--clients") clients = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: deployments [--duration S] [--clients K]\n");
      return 2;
    }
  }
  const std::string org = "org_bench";
  std::vector<std::pair<std::string, Figures>> rows;

  {
    support::RedisServer redis;
    rows.emplace_back("plain", measure({"plain", redis.url(), {}}, org, clients, duration));
  }
  {
    support::RedisCluster cluster;
    Deployment d{"cluster", cluster.url(), [&](const std::string& o) {
                   cluster.kill_hard(cluster.master_of(shortcred::key_slot(o)));
                 }};
    rows.emplace_back("cluster", measure(d, org, clients, duration));
  }

  const Figures& plain = rows.front().second;
  std::printf("| deployment | tokens/s | vs plain | connects/s | vs plain | kill -9 → mint | kill -9 → CONNECT |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto& [name, f] : rows) {
    auto ms = [](double v) { return v < 0 ? std::string("—") : std::to_string(static_cast<long>(v)) + " ms"; };
    std::printf("| %s | %.0f | %.2f | %.0f | %.2f | %s | %s |\n", name.c_str(), f.tokens_per_s,
                f.tokens_per_s / plain.tokens_per_s, f.connects_per_s,
                f.connects_per_s / plain.connects_per_s, ms(f.kill_to_mint_ms).c_str(),
                ms(f.kill_to_connect_ms).c_str());
    if (f.mint_errors + f.connect_errors > 0) {
      std::printf("  (%s: %ld failed mints, %ld failed CONNECTs)\n", name.c_str(), f.mint_errors,
                  f.connect_errors);
    }
  }
  return 0;
}
