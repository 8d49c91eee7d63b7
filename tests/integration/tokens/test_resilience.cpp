// Key rotation, Redis outages, graceful shutdown, and the log scan.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "shortcred/redis/connection.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;

TEST_CASE("key rotation: a revoked key is refused on the very next request", "[tokend]") {
  TokendEnv env;
  auto [id2, key2] = env.make_key(env.org);
  support::HttpClient k2(env.base_url());
  CHECK(env.issue(R"({"user_id":"a"})").status == 201);
  REQUIRE(env.ctl({"apikey", "revoke", env.key_id}).exit_code == 0);
  const auto r1 = env.issue(R"({"user_id":"a"})");
  CHECK(r1.status == 401);
  CHECK(parse_json(r1.body)["error"]["code"].asString() == "invalid_api_key");
  CHECK(k2.request("POST", "/v2/tokens", R"({"user_id":"a"})", {"Authorization: Bearer " + key2})
            .status == 201);
  CHECK(env.last_audit(env.org).at("apikey") == id2);
}

TEST_CASE("Redis down gives 503 at once and readyz 503 and the service recovers by itself",
          "[tokend]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  REQUIRE(env.issue(R"({"user_id":"a"})").status == 201);
  env.redis.stop();
  const auto t0 = std::chrono::steady_clock::now();
  const auto r = env.issue(R"({"user_id":"a"})");
  CHECK(r.status == 503);
  CHECK(parse_json(r.body)["error"]["code"].asString() == "redis_unavailable");
  CHECK(std::chrono::steady_clock::now() - t0 < 1s);
  CHECK(anon.request("GET", "/readyz").status == 503);
  CHECK(anon.request("GET", "/healthz").status == 200);
  for (int i = 0; i < 20; ++i) CHECK(env.issue(R"({"user_id":"a"})").status == 503);
  CHECK(env.proc.running());

  env.redis.start();  // empty: recreate the org and key
  auto [id, key] = env.make_key(env.org);
  env.api_key = key;
  env.key_id = id;
  CHECK(support::wait_until([&] { return anon.request("GET", "/readyz").status == 200; }, 3s,
                            20ms));
  CHECK(env.issue(R"({"user_id":"a"})").status == 201);
  const auto m = anon.request("GET", "/metrics").body;
  CHECK(m.find("shortcred_redis_errors_total 0") == std::string::npos);
}

namespace {


std::chrono::milliseconds elapsed_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               t0);
}

}  // namespace

TEST_CASE("a frozen Redis opens the breaker: one request waits the timeout, later ones get 503 "
          "at once, and the service recovers by itself",
          "[tokend]") {
  TokendEnv env({"--redis-timeout-ms", "300"});
  support::HttpClient anon(env.base_url());
  REQUIRE(env.issue(R"({"user_id":"a"})").status == 201);  // a pooled connection
  support::FrozenRedis frozen(env.redis);

  auto t0 = std::chrono::steady_clock::now();
  auto r = env.issue(R"({"user_id":"a"})");
  CHECK(r.status == 503);
  CHECK(parse_json(r.body)["error"]["code"].asString() == "redis_unavailable");
  CHECK(elapsed_since(t0) >= 250ms);
  CHECK(elapsed_since(t0) < 1000ms);
  for (int i = 0; i < 5; ++i) {
    t0 = std::chrono::steady_clock::now();
    CHECK(env.issue(R"({"user_id":"a"})").status == 503);
    CHECK(elapsed_since(t0) < 50ms);
  }
  t0 = std::chrono::steady_clock::now();
  CHECK(anon.request("GET", "/readyz").status == 503);
  CHECK(elapsed_since(t0) < 50ms);

  frozen.thaw();
  CHECK(support::wait_until([&] { return env.issue(R"({"user_id":"a"})").status == 201; }, 5s,
                            20ms));
  CHECK(anon.request("GET", "/readyz").status == 200);
}

TEST_CASE("after a Redis restart the very next request succeeds on a fresh connection",
          "[tokend]") {
  TokendEnv env;
  // Several pooled connections, all stale once Redis restarts.
  std::vector<std::unique_ptr<support::HttpClient>> clients;
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) clients.push_back(std::make_unique<support::HttpClient>(env.base_url()));
  for (auto& c : clients) {
    threads.emplace_back([&] {
      c->request("POST", "/v2/tokens", R"({"user_id":"a"})", {"Authorization: Bearer " + env.api_key});
    });
  }
  for (auto& t : threads) t.join();
  env.redis.stop();
  env.redis.start();
  auto [id, key] = env.make_key(env.org);
  env.api_key = key;
  for (int i = 0; i < 4; ++i) CHECK(env.issue(R"({"user_id":"a"})").status == 201);
}

TEST_CASE("SIGTERM finishes the in-flight request and then exits 0", "[tokend]") {
  TokendEnv env;
  const int fd = support::connect_loopback(env.port);
  REQUIRE(fd >= 0);
  const std::string body = R"({"user_id":"late"})";
  const std::string head = "POST /v2/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Authorization: Bearer " + env.api_key + "\r\nContent-Length: " +
                           std::to_string(body.size()) + "\r\n\r\n";
  send(fd, head.data(), head.size(), 0);
  send(fd, body.data(), 5, 0);  // half the body: the request is in flight
  std::this_thread::sleep_for(100ms);
  env.proc.signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  send(fd, body.data() + 5, body.size() - 5, 0);
  std::string got;
  char buf[4096];
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
    if (got.find("}") != std::string::npos && got.find("\r\n\r\n") != std::string::npos) break;
  }
  close(fd);
  CHECK(got.rfind("HTTP/1.1 201", 0) == 0);
  CHECK(support::wait_until([&] { return !env.proc.running(); }, 5s));
  const int status = env.proc.stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(env.log().find("shortcred-tokend: stopped") != std::string::npos);
}

TEST_CASE("configuration errors stop startup and name the option", "[tokend]") {
  const auto bad = [](std::vector<std::string> args, const std::string& mention,
                      std::vector<std::string> env = {}) {
    args.insert(args.begin(), SHORTCRED_TOKEND_PATH);
    const auto r = support::run(args, env);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(mention) != std::string::npos);
  };
  bad({"--listen", "nowhere"}, "--listen");
  bad({"--threads", "0"}, "--threads");
  bad({"--max-ttl", "30"}, "--max-ttl");
  bad({"--default-ttl", "7200", "--max-ttl", "3600"}, "--default-ttl");
  bad({"--log-format", "xml"}, "--log-format");
  bad({"--tls-cert", "/nonexistent"}, "--tls-cert");
  bad({"--issue-rate", "-1"}, "--issue-rate");
  bad({"--redis", "http://x"}, "--redis");
  bad({"--redis", "rediss://:hunter2@db.example.com?verify=none"},
      "--redis: verify=none is refused: the host is not a loopback address");
  bad({"--redis", "redis-sentinel://s1,s2"}, "--redis: a Sentinel URL needs ?master=NAME");
  bad({"--bogus", "1"}, "--bogus");
  bad({"--min-replicas", "-1"}, "--min-replicas");
  bad({"--replica-timeout-ms", "0"}, "--replica-timeout-ms");
  bad({"--key-prefix", "a{b}:"}, "--key-prefix");
  bad({"--key-prefix", "x}"}, "--key-prefix");
  bad({}, "SHORTCRED_THREADS", {"SHORTCRED_THREADS=many"});
  const auto help = support::run({SHORTCRED_TOKEND_PATH, "--help"});
  CHECK(help.exit_code == 0);
  for (const char* flag : {"--listen", "--redis", "--threads", "--default-ttl", "--max-ttl",
                           "--key-prefix", "--issue-rate", "--tls-cert", "--tls-key",
                           "--log-format", "SHORTCRED_REDIS_URL"}) {
    CHECK(help.out.find(flag) != std::string::npos);
  }
}

TEST_CASE("environment variables configure the service when flags are absent", "[tokend]") {
  support::RedisServer redis;
  support::TempDir dir("shortcred-tokend-env");
  const int port = support::free_port();
  ctl(redis.url(), {"--key-prefix", "custom:", "org", "create", "--id", "org_env"});
  const auto key = parse_json(ctl(redis.url(), {"--key-prefix", "custom:", "--json", "apikey",
                                                "create", "--org", "org_env"})
                                  .out)["api_key"]
                       .asString();
  support::Process p({SHORTCRED_TOKEND_PATH}, dir / "log",
                     {"SHORTCRED_LISTEN=127.0.0.1:" + std::to_string(port),
                      "SHORTCRED_REDIS_URL=" + redis.url(), "SHORTCRED_KEY_PREFIX=custom:",
                      "SHORTCRED_DEFAULT_TTL=120"});
  REQUIRE(support::wait_until([&] { return support::port_open(port); }, 5s));
  support::HttpClient http("http://127.0.0.1:" + std::to_string(port));
  const auto r = http.request("POST", "/v2/tokens", R"({"user_id":"z"})",
                              {"Authorization: Bearer " + key});
  REQUIRE(r.status == 201);
  CHECK(parse_json(r.body)["expires_in"].asInt() == 120);
  auto c = redis.connect();
  CHECK(c.command({"EXISTS", "custom:{org_env}:cred:" + parse_json(r.body)["token_id"].asString()})
            ->integer == 1);
}

TEST_CASE("logs never carry a password or a secret or an API key", "[tokend]") {
  std::vector<std::string> secrets;
  std::string log;
  {
    TokendEnv env;
    secrets.push_back(env.api_key);
    for (int i = 0; i < 5; ++i) {
      const auto v = parse_json(env.issue(R"({"user_id":"u)" + std::to_string(i) + "\"}").body);
      secrets.push_back(v["password"].asString());
      env.call("POST", "/v2/tokens/" + v["token_id"].asString() + "/refresh");
      env.call("DELETE", "/v2/tokens/" + v["token_id"].asString());
    }
    // Secrets where they do not belong: in paths, queries, bodies and headers.
    support::HttpClient http(env.base_url());
    http.request("GET", "/v2/tokens/" + secrets[1]);
    http.request("POST", "/" + env.api_key, "{}");
    http.request("GET", "/v2/tokens?user_id=" + secrets[1], "", {"Authorization: Bearer " + env.api_key});
    http.request("POST", "/v2/tokens", R"({"user_id":")" + secrets[1] + "\"}",
                 {"Authorization: Bearer " + env.api_key});
    http.request("POST", "/v2/tokens", "{}", {"Authorization: Bearer " + env.api_key + "x"});
    http.request("POST", "/v2/tokens", "{}", {"Authorization: Basic " + env.api_key});
    http.request("POST", "/v2/tokens", "{}", {"X-Api-Key: " + env.api_key});
    env.proc.stop();
    log = env.log();
  }
  CHECK(log.find("POST /v2/tokens 201") != std::string::npos);  // the log is there
  CHECK(find_secret(log, secrets).empty());
}

TEST_CASE("with the breaker open a missing or malformed API key is still a 401", "[tokend]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  env.redis.stop();
  REQUIRE(env.issue(R"({"user_id":"a"})").status == 503);  // opens the breaker
  const std::string body = R"({"user_id":"a"})";
  const auto missing = anon.request("POST", "/v2/tokens", body);
  CHECK(missing.status == 401);
  CHECK(parse_json(missing.body)["error"]["code"].asString() == "missing_api_key");
  const auto scheme = anon.request("POST", "/v2/tokens", body, {"Authorization: Basic abc"});
  CHECK(scheme.status == 401);
  CHECK(parse_json(scheme.body)["error"]["code"].asString() == "invalid_auth_scheme");
  for (const std::string& garbled :
       std::vector<std::string>{"sk_", "garbage", "sk_short_secret", env.api_key + "x"}) {
    const auto r = anon.request("GET", "/v2/tokens", "", {"Authorization: Bearer " + garbled});
    CHECK(r.status == 401);
    CHECK(parse_json(r.body)["error"]["code"].asString() == "invalid_api_key");
  }
  // A well-formed key cannot be checked: that stays a 503.
  CHECK(env.issue(body).status == 503);
  CHECK(env.call("DELETE", "/v2/tokens/0123456789abcdef").status == 503);
}
