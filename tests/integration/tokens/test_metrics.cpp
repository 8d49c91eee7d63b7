// GET /metrics of shortcred-tokend, scraped and parsed as the Prometheus text
// format 0.0.4: the method label, build info, Redis's state as the breaker
// sees it (never a Redis call per scrape), process metrics from /proc, and
// --metrics-listen.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "support/ports.hpp"
#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;

namespace {

// One scrape: every sample by its full series name (`name{labels}`). The
// parse fails the test on any line that is not a comment or a sample, on a
// sample whose family has no # TYPE before it, and on a series seen twice.
struct Scrape {
  std::map<std::string, double> samples;
  std::map<std::string, std::string> types;  // family → counter, gauge, histogram

  bool has(const std::string& series) const { return samples.count(series) != 0; }
  double at(const std::string& series) const {
    const auto it = samples.find(series);
    if (it == samples.end()) FAIL("no series " << series);
    return it->second;
  }
};

Scrape parse_exposition(const std::string& text) {
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)?\})? (\S+)$)");
  static const std::regex kType(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$)");
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .+$)");
  Scrape s;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kType)) {
      CHECK(s.types.emplace(m[1].str(), m[2].str()).second);
      continue;
    }
    if (std::regex_match(line, kHelp)) continue;
    INFO("line: " << line);
    REQUIRE(std::regex_match(line, m, kSample));
    std::string family = m[1].str();
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx(suffix);
      const std::string base =
          family.size() > sfx.size() ? family.substr(0, family.size() - sfx.size()) : "";
      if (family.ends_with(sfx) && s.types.count(base) && s.types[base] == "histogram") {
        family = base;
      }
    }
    CHECK(s.types.count(family) == 1);
    std::size_t used = 0;
    const double v = m[5].str() == "+Inf" ? HUGE_VAL : std::stod(m[5].str(), &used);
    CHECK((m[5].str() == "+Inf" || used == m[5].str().size()));
    CHECK(s.samples.emplace(m[1].str() + m[2].str(), v).second);
  }
  return s;
}

Scrape scrape(support::HttpClient& c) {
  const auto r = c.request("GET", "/metrics");
  REQUIRE(r.status == 200);
  CHECK(r.headers.at("content-type").starts_with("text/plain; version=0.0.4"));
  return parse_exposition(r.body);
}

long fds_of(pid_t pid) {
  long n = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    ++n;
  }
  return n;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

TEST_CASE("request counters carry the method, route and status", "[tokend][metrics]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  REQUIRE(env.issue(R"({"user_id":"m1"})").status == 201);
  REQUIRE(env.call("GET", "/v2/tokens").status == 200);
  REQUIRE(env.call("GET", "/v2/tokens").status == 200);
  REQUIRE(anon.request("PUT", "/v2/tokens", "{}").status == 405);
  const std::string ok =
      R"(shortcred_http_requests_total{method="GET",route="/v2/tokens",status="200"})";
  const std::string created =
      R"(shortcred_http_requests_total{method="POST",route="/v2/tokens",status="201"})";
  const std::string refused =
      R"(shortcred_http_requests_total{method="PUT",route="/v2/tokens",status="405"})";
  const std::string timed = R"(shortcred_http_request_duration_seconds_count{route="/v2/tokens"})";
  // Requests are counted once answered, each by the worker thread of its own
  // connection (env's and anon's): wait until all four have landed.
  Scrape s;
  REQUIRE(support::wait_until(
      [&] {
        s = scrape(anon);
        return s.has(created) && s.has(ok) && s.has(refused) && s.has(timed) &&
               s.at(ok) >= 2 && s.at(timed) >= 4;
      },
      2s, 10ms));
  CHECK(s.types.at("shortcred_http_requests_total") == "counter");
  CHECK(s.at(created) == 1);
  CHECK(s.at(ok) == 2);
  CHECK(s.at(refused) == 1);
  // A method httplib does not know never becomes a label value: it is refused
  // before routing and counted as "other".
  anon.request("BREW", "/v2/tokens");
  REQUIRE(support::wait_until(
      [&] {
        s = scrape(anon);
        for (const auto& [k, v] : s.samples) {
          if (k.find("method=\"BREW\"") != std::string::npos) FAIL("method label BREW: " << k);
        }
        return s.has(
            R"(shortcred_http_requests_total{method="other",route="unmatched",status="400"})");
      },
      2s, 10ms));
}

TEST_CASE("build info names the CMake project version", "[tokend][metrics]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  const Scrape s = scrape(anon);
  CHECK(s.types.at("shortcred_build_info") == "gauge");
  CHECK(s.at("shortcred_build_info{version=\"" SHORTCRED_VERSION "\"}") == 1);
  std::size_t n = 0;
  for (const auto& [k, v] : s.samples) n += k.starts_with("shortcred_build_info") ? 1 : 0;
  CHECK(n == 1);
}

TEST_CASE("process metrics describe the tokend process", "[tokend][metrics]") {
  const double before = unix_now();
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  const Scrape s = scrape(anon);
  CHECK(s.types.at("process_cpu_seconds_total") == "counter");
  CHECK(s.types.at("process_open_fds") == "gauge");
  // The scrape's own connection and the worker's sockets come and go: close.
  const long fds = fds_of(env.proc.pid());
  CHECK(s.at("process_open_fds") >= 5);
  CHECK(std::abs(s.at("process_open_fds") - static_cast<double>(fds)) <= 3);
  CHECK(s.at("process_max_fds") >= s.at("process_open_fds"));
  CHECK(s.at("process_resident_memory_bytes") > 1e6);
  CHECK(s.at("process_resident_memory_bytes") < 1e9);
  CHECK(s.at("process_cpu_seconds_total") >= 0);
  CHECK(s.at("process_cpu_seconds_total") < 30);
  // Started after `before` (the clock-tick resolution of /proc aside).
  CHECK(s.at("process_start_time_seconds") > before - 1.5);
  CHECK(s.at("process_start_time_seconds") < unix_now() + 0.5);
  // CPU time is a counter of this process: work makes it grow.
  for (int i = 0; i < 300; ++i) env.call("GET", "/v2/tokens");
  CHECK(scrape(anon).at("process_cpu_seconds_total") > s.at("process_cpu_seconds_total"));
}

TEST_CASE(
    "shortcred_redis_up follows Redis without a request, and a scrape never waits for "
    "Redis",
    "[tokend][metrics]") {
  // A long Redis timeout: a scrape that asked Redis would take that long.
  TokendEnv env({"--redis-timeout-ms", "1500"});
  support::HttpClient anon(env.base_url());
  // The startup check has answered without any API request.
  CHECK(support::wait_until([&] { return scrape(anon).at("shortcred_redis_up") == 1; }, 2s, 20ms));
  CHECK(scrape(anon).types.at("shortcred_redis_up") == "gauge");
  {
    support::FrozenRedis frozen(env.redis);
    // Nobody asks the API: the idle check (after 5 s without an exchange)
    // times out and opens the breaker. Every scrape meanwhile is immediate.
    auto slowest = 0ms;
    const bool down = support::wait_until(
        [&] {
          const auto t0 = std::chrono::steady_clock::now();
          const double up = scrape(anon).at("shortcred_redis_up");
          slowest = std::max(slowest, std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - t0));
          return up == 0;
        },
        10s, 100ms);
    CHECK(down);
    CHECK(slowest < 500ms);
    CHECK(env.issue(R"({"user_id":"u"})").status == 503);  // the breaker: at once
  }
  // Thawed: the prober's PING closes the breaker, no request needed.
  CHECK(support::wait_until([&] { return scrape(anon).at("shortcred_redis_up") == 1; }, 5s, 20ms));
  CHECK(env.issue(R"({"user_id":"u"})").status == 201);
  // A request that finds Redis gone opens the breaker at once.
  env.redis.stop();
  CHECK(env.issue(R"({"user_id":"u"})").status == 503);
  CHECK(scrape(anon).at("shortcred_redis_up") == 0);
}

TEST_CASE("a tokend started while Redis is down reports shortcred_redis_up 0",
          "[tokend][metrics]") {
  TokendEnv env;
  env.proc.stop();
  env.redis.stop();
  env.start();
  support::HttpClient anon(env.base_url());
  CHECK(support::wait_until([&] { return scrape(anon).at("shortcred_redis_up") == 0; }, 2s, 20ms));
  env.redis.start();
  CHECK(support::wait_until([&] { return scrape(anon).at("shortcred_redis_up") == 1; }, 5s, 20ms));
}

TEST_CASE("with --metrics-listen /metrics is served on its own port and the API port answers 404",
          "[tokend][metrics]") {
  const int mport = support::free_port();
  TokendEnv env({"--metrics-listen", "127.0.0.1:" + std::to_string(mport)});
  support::HttpClient anon(env.base_url());
  support::HttpClient metrics("http://127.0.0.1:" + std::to_string(mport));
  REQUIRE(env.issue(R"({"user_id":"m2"})").status == 201);
  const auto api = anon.request("GET", "/metrics");
  CHECK(api.status == 404);
  CHECK(parse_json(api.body)["error"]["code"].asString() == "not_found");
  Scrape s;
  REQUIRE(support::wait_until(
      [&] {
        s = scrape(metrics);
        return s.has(
            R"(shortcred_http_requests_total{method="GET",route="/metrics",status="404"})");
      },
      2s, 10ms));
  CHECK(s.at(R"(shortcred_http_requests_total{method="POST",route="/v2/tokens",status="201"})") ==
        1);
  CHECK(s.at("shortcred_tokens_issued_total") == 1);
  CHECK(s.has("shortcred_build_info{version=\"" SHORTCRED_VERSION "\"}"));
  // Scrapes on the metrics port are not counted as API requests.
  CHECK(!s.has(R"(shortcred_http_requests_total{method="GET",route="/metrics",status="200"})"));
  // Only /metrics there: the API is not reachable on the metrics port.
  const auto other = metrics.request("POST", "/v2/tokens", R"({"user_id":"x"})",
                                     {"Authorization: Bearer " + env.api_key});
  CHECK(other.status == 404);
  CHECK(parse_json(other.body)["error"]["code"].asString() == "not_found");
  CHECK(env.log().find("metrics on 127.0.0.1:" + std::to_string(mport)) != std::string::npos);
}

TEST_CASE("a bad or busy --metrics-listen stops startup with exit 2", "[tokend][metrics]") {
  TokendEnv env;
  const auto run = [&](std::vector<std::string> extra, std::vector<std::string> envv = {}) {
    std::vector<std::string> argv{SHORTCRED_TOKEND_PATH, "--listen",
                                  "127.0.0.1:" + std::to_string(support::free_port()), "--redis",
                                  env.redis.url()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    support::Process p(argv, env.dir / "bad.log", envv);
    REQUIRE(support::wait_until([&] { return !p.running(); }, 5s));
    const int status = p.stop();
    return std::pair{WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                     support::read_file(env.dir / "bad.log")};
  };
  auto [code, log] = run({"--metrics-listen", "nowhere"});
  CHECK(code == 2);
  CHECK(log.find("--metrics-listen 'nowhere': expected HOST:PORT") != std::string::npos);
  std::tie(code, log) = run({}, {"SHORTCRED_METRICS_LISTEN=127.0.0.1:99999"});
  CHECK(code == 2);
  CHECK(log.find("(from SHORTCRED_METRICS_LISTEN)") != std::string::npos);
  // The port of the running tokend's API: in use.
  std::tie(code, log) = run({"--metrics-listen", "127.0.0.1:" + std::to_string(env.port)});
  CHECK(code == 2);
  CHECK(log.find("--metrics-listen 127.0.0.1:" + std::to_string(env.port) +
                 ": address already in use") != std::string::npos);
  CHECK(log.find("listening on") == std::string::npos);
}

TEST_CASE("tokend help lists the metrics listener flag and its environment variable",
          "[tokend][metrics]") {
  const auto help = support::run({SHORTCRED_TOKEND_PATH, "--help"});
  CHECK(help.exit_code == 0);
  // A flag too long for the column gets a line of its own.
  CHECK(
      help.out.find("  --metrics-listen HOST:PORT\n                          serve GET /metrics") !=
      std::string::npos);
  CHECK(help.out.find("[env SHORTCRED_METRICS_LISTEN]") != std::string::npos);
}
