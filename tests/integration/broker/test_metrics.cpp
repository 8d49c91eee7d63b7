// The plugin's Prometheus endpoint (plugin_opt_metrics_listen): off by
// default, the series a real connect / deny / rate-limit sequence produces,
// the per-org top-N, option checking, and the breaker's background view.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "broker_env.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

constexpr int kNotAuthorized = 0x87;

std::string metrics_opts(int port, const std::string& more = "") {
  return "plugin_opt_metrics_listen 127.0.0.1:" + std::to_string(port) + "\n" + more;
}

struct Scraper {
  explicit Scraper(int port) : http("http://127.0.0.1:" + std::to_string(port)) {}
  support::HttpResponse get(const std::string& path = "/metrics") { return http.request("GET", path); }
  // The value of one series (`name{labels}` exactly as rendered), or -1 if absent.
  double value(const std::string& series) {
    const support::HttpResponse r = get();
    if (r.status != 200) return -1;
    std::istringstream in(r.body);
    for (std::string line; std::getline(in, line);) {
      if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ') {
        return std::stod(line.substr(series.size() + 1));
      }
    }
    return -1;
  }
  // Polls until `series` shows `want` (the tick hands over a snapshot once a second).
  bool shows(const std::string& series, double want, std::chrono::milliseconds within = 3s) {
    return support::wait_until([&] { return value(series) == want; }, within, 50ms);
  }
  support::HttpClient http;
};

// TCP ports `pid` listens on, from its socket inodes and /proc/net/tcp{,6}.
std::set<int> listening_ports(pid_t pid) {
  std::set<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(fd_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      char target[128];
      const ssize_t n = readlink((fd_dir + "/" + e->d_name).c_str(), target, sizeof target - 1);
      if (n <= 0) continue;
      const std::string t(target, static_cast<std::size_t>(n));
      if (t.starts_with("socket:[")) inodes.insert(t.substr(8, t.size() - 9));
    }
    closedir(d);
  }
  std::set<int> ports;
  for (const char* table : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + table);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream f(line);
      std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
      f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
      if (state == "0A" && inodes.count(inode) != 0) {
        ports.insert(std::stoi(local.substr(local.rfind(':') + 1), nullptr, 16));
      }
    }
  }
  return ports;
}

}  // namespace

TEST_CASE("without metrics_listen the broker listens on its MQTT port only", "[metrics]") {
  BrokerEnv e;
  CHECK(listening_ports(e.mosq->pid()) == std::set<int>{e.port()});
}

TEST_CASE("with metrics_listen the endpoint listens and shows what a connect, a denial and a "
          "rate limit counted",
          "[metrics]") {
  const int port = support::free_port();
  BrokerEnv e(metrics_opts(port));
  CHECK(listening_ports(e.mosq->pid()) == std::set<int>{e.port(), port});
  Scraper m(port);
  const support::HttpResponse first = m.get();
  REQUIRE(first.status == 200);
  CHECK(first.headers.at("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  CHECK(first.body.find("# TYPE shortcred_broker_auth_ok_total counter\n") != std::string::npos);
  CHECK(first.body.find("shortcred_broker_build_info{version=\"") != std::string::npos);

  e.set_org("orgM", {{"pub_rate", "1"}, {"pub_burst", "1"}});
  const Cred c = e.mint("orgM", "max");
  auto cl = e.connect(c, "max-1");
  Cred wrong = c;
  wrong.password.back() = wrong.password.back() == 'a' ? 'b' : 'a';
  int rc = 0;
  e.connect(wrong, "max-2", 5, &rc);
  CHECK(rc == kNotAuthorized);
  CHECK(cl->subscribe("orgOther/users/x/#") == kNotAuthorized);
  int refused = 0;
  for (int i = 0; i < 5; ++i) refused += cl->publish("orgM/users/max/t", "x", 1) == kNotAuthorized;
  REQUIRE(refused >= 3);  // a 1/s bucket of 1: at most one refill during the loop

  CHECK(m.shows("shortcred_broker_auth_ok_total", 1));
  CHECK(m.shows("shortcred_broker_auth_failures_total{reason=\"bad_secret\"}", 1));
  CHECK(m.shows("shortcred_broker_acl_denials_total{access=\"subscribe\"}", 1));
  CHECK(m.shows("shortcred_broker_rate_limited_total", refused));
  CHECK(m.shows("shortcred_broker_sessions_live", 1));
  CHECK(m.shows("shortcred_broker_org_auth_failures_total{org=\"orgM\"}", 1));
  CHECK(m.shows("shortcred_broker_org_acl_denials_total{org=\"orgM\"}", 1));
  CHECK(m.shows("shortcred_broker_org_rate_limited_total{org=\"orgM\"}", refused));
  CHECK(m.shows("shortcred_broker_org_rate_limited_total{org=\"other\"}", 0));
  CHECK(m.shows("shortcred_broker_breaker_open", 0));
  // The metrics socket is opened before Mosquitto's listeners, so it has the
  // lowest descriptor: the default broker id must still name the MQTT port.
  const std::string id_line = "shortcred: broker id ", log = e.mosq->log();
  const std::size_t at = log.find(id_line);
  REQUIRE(at != std::string::npos);
  const std::size_t from = at + id_line.size();
  CHECK(log.substr(from, log.find(' ', from) - from).ends_with(":" + std::to_string(e.port())));
  cl->disconnect();
  CHECK(m.shows("shortcred_broker_sessions_live", 0));
}

TEST_CASE("the endpoint answers only GET /metrics and bounds the request", "[metrics]") {
  const int port = support::free_port();
  BrokerEnv e(metrics_opts(port));
  Scraper m(port);
  CHECK(m.get("/metrics?x=1").status == 200);
  CHECK(m.get("/").status == 404);
  CHECK(m.get("/metricsx").status == 404);
  const support::HttpResponse post = m.http.request("POST", "/metrics", "{}");
  CHECK(post.status == 405);
  CHECK(post.headers.at("allow") == "GET");
  // A head that never ends within 8 KiB is refused, not buffered.
  const int fd = support::connect_loopback(port, 5);
  REQUIRE(fd >= 0);
  const std::string huge = "GET /metrics HTTP/1.1\r\nX-Filler: " + std::string(9000, 'a');
  CHECK(::send(fd, huge.data(), huge.size(), MSG_NOSIGNAL) > 0);
  char buf[256] = {};
  const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
  ::close(fd);
  CHECK(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0).starts_with("HTTP/1.1 431 "));
  // Idle connections beyond the limit are turned away; the endpoint still answers.
  std::vector<int> idle;
  for (int i = 0; i < 12; ++i) idle.push_back(support::connect_loopback(port, 1));
  for (int fd_i : idle) ::close(fd_i);
  CHECK(support::wait_until([&] { return m.get().status == 200; }, 6s, 100ms));
}

TEST_CASE("per-org series keep the top metrics_top_orgs orgs and sum the rest as other",
          "[metrics]") {
  const int port = support::free_port();
  BrokerEnv e(metrics_opts(port, "plugin_opt_metrics_top_orgs 2\n"));
  Scraper m(port);
  const std::vector<std::pair<std::string, int>> orgs = {{"orgA", 3}, {"orgB", 2}, {"orgC", 1}};
  for (const auto& [org, denials] : orgs) {
    auto cl = e.connect(e.mint(org, "u"), org + "-u");
    for (int i = 0; i < denials; ++i) CHECK(cl->subscribe("elsewhere/#") == kNotAuthorized);
    cl->disconnect();
  }
  CHECK(m.shows("shortcred_broker_org_acl_denials_total{org=\"orgA\"}", 3));
  CHECK(m.shows("shortcred_broker_org_acl_denials_total{org=\"orgB\"}", 2));
  CHECK(m.shows("shortcred_broker_org_acl_denials_total{org=\"other\"}", 1));
  CHECK(m.value("shortcred_broker_org_acl_denials_total{org=\"orgC\"}") == -1);
  CHECK(m.value("shortcred_broker_acl_denials_total{access=\"subscribe\"}") == 6);
}

TEST_CASE("bad metrics option values stop the broker at startup with a message", "[metrics]") {
  const std::string listen_err = "plugin_opt_metrics_listen '";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plugin_opt_metrics_listen localhost:9234\n", listen_err + "localhost:9234' is invalid"},
      {"plugin_opt_metrics_listen 127.0.0.1\n", listen_err + "127.0.0.1' is invalid"},
      {"plugin_opt_metrics_listen 127.0.0.1:0\n", listen_err + "127.0.0.1:0' is invalid"},
      {"plugin_opt_metrics_listen 127.0.0.1:65536\n", listen_err + "127.0.0.1:65536' is invalid"},
      {"plugin_opt_metrics_listen ::1:9234\n", listen_err + "::1:9234' is invalid"},
      {"plugin_opt_metrics_top_orgs -1\n", "plugin_opt_metrics_top_orgs '-1' is invalid"},
      {"plugin_opt_metrics_top_orgs 1001\n", "plugin_opt_metrics_top_orgs '1001' is invalid"},
  };
  for (const auto& [opts, expect] : cases) {
    INFO(opts);
    BrokerEnv e(opts, "", false);
    CHECK_FALSE(e.mosq->running());
    CHECK(e.mosq->log().find(expect) != std::string::npos);
  }
  // A port in use: refused with the address and the reason.
  const int taken = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int port = support::free_port();
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  REQUIRE(bind(taken, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(taken, 1) == 0);
  BrokerEnv e(metrics_opts(port), "", false);
  close(taken);
  CHECK_FALSE(e.mosq->running());
  CHECK(e.mosq->log().find("plugin_opt_metrics_listen 127.0.0.1:" + std::to_string(port) +
                           ": cannot listen: Address already in use") != std::string::npos);
}

TEST_CASE("a stopped Redis opens the reported breaker from the background view without any "
          "CONNECT, and its return closes it",
          "[metrics][breaker]") {
  const int port = support::free_port();
  BrokerEnv e(metrics_opts(port, "plugin_opt_sys_interval 1\n"));
  Scraper m(port);
  auto sys = e.observer("$SYS/broker/shortcred/breaker/#");
  REQUIRE(m.shows("shortcred_broker_redis_up{connection=\"background\"}", 1));
  CHECK(m.value("shortcred_broker_breaker_open") == 0);
  e.redis->stop();
  // The subscriber sees the connection drop at once; a snapshot a second.
  CHECK(m.shows("shortcred_broker_breaker_open", 1, 3s));
  CHECK(m.value("shortcred_broker_redis_up{connection=\"background\"}") == 0);
  CHECK(m.value("shortcred_broker_redis_up{connection=\"connect\"}") == 1);  // no CONNECT tried
  CHECK(sys->wait_message("$SYS/broker/shortcred/breaker/state", "open", 3s));
  CHECK(sys->wait_message("$SYS/broker/shortcred/breaker/background", "open", 3s));
  CHECK(e.mosq->log().find("breaker=open") != std::string::npos);
  e.redis->start();
  // Resubscribed within the subscriber's backoff (at most 2 s).
  CHECK(m.shows("shortcred_broker_breaker_open", 0, 5s));
  CHECK(sys->wait_message("$SYS/broker/shortcred/breaker/state", "closed", 3s));
}

TEST_CASE("a frozen Redis opens the reported breaker without any CONNECT: the quiet "
          "subscription's PING goes unanswered",
          "[metrics][breaker]") {
  const int port = support::free_port();
  BrokerEnv e(metrics_opts(port));
  Scraper m(port);
  REQUIRE(m.shows("shortcred_broker_redis_up{connection=\"background\"}", 1));
  support::FrozenRedis frozen(*e.redis);
  const auto frozen_at = std::chrono::steady_clock::now();
  // At most 2 s of quiet before the PING, 1 s for its answer, a snapshot a
  // second: 4 s, and a margin for a loaded machine.
  const bool opened = m.shows("shortcred_broker_breaker_open", 1, 6s);
  const auto waited = std::chrono::steady_clock::now() - frozen_at;
  const std::string log = e.mosq->log();
  INFO("waited " << std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()
                 << " ms; log tail:\n" << log.substr(log.size() > 1500 ? log.size() - 1500 : 0));
  CHECK(opened);
  CHECK(m.value("shortcred_broker_redis_up{connection=\"background\"}") == 0);
  CHECK(support::wait_until(
      [&] { return e.mosq->log().find("no answer to PING within 1 s") != std::string::npos; }, 3s));
}
