// API keys record last_used_at (RFC 3339, like created_at): written after the
// response, at most once per key per minute, shown by `shortcredctl apikey
// list`.
#include <catch2/catch.hpp>
#include <chrono>
#include <regex>
#include <sstream>

#include "shortcred/time.hpp"
#include "support/http_client.hpp"
#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;

namespace {

std::string apikey_hash(const TokendEnv& env) {
  return "shortcred:apikey:" + env.key_id;
}

std::string last_used(TokendEnv& env) {
  for (const auto& [f, v] : env.hgetall(apikey_hash(env))) {
    if (f == "last_used_at") return v;
  }
  return {};
}

// Calls of one command since the last CONFIG RESETSTAT (INFO commandstats).
long long calls(TokendEnv& env, const std::string& command) {
  auto c = env.redis.connect();
  const std::string info = shortcred::redis::to_string(c.command({"INFO", "commandstats"}).get());
  const std::regex re("cmdstat_" + command + ":calls=(\\d+)");
  std::smatch m;
  return std::regex_search(info, m, re) ? std::stoll(m[1].str()) : 0;
}

// A counter's value in /metrics, or -1 if absent.
double metric(support::HttpClient& anon, const std::string& series) {
  const std::string body = anon.request("GET", "/metrics").body;
  std::istringstream in(body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

// Requests are counted in /metrics after their last_used_at write: once
// counted, the write (or its absence) is final.
void wait_counted(support::HttpClient& anon, const std::string& series, double n) {
  REQUIRE(support::wait_until([&] { return metric(anon, series) == n; }, 2s, 10ms));
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::string kWrites = "shortcred_apikey_last_used_writes_total";
const std::string kPosts =
    R"(shortcred_http_requests_total{method="POST",route="/v2/tokens",status="201"})";
const std::string kGets =
    R"(shortcred_http_requests_total{method="GET",route="/v2/tokens",status="200"})";

}  // namespace

TEST_CASE("an API key records last_used_at once per minute and apikey list shows it",
          "[tokend][apikey]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  auto list = parse_json(env.ctl({"--json", "apikey", "list", "--org", env.org}).out);
  REQUIRE(list["keys"].size() == 1);
  CHECK(!list["keys"][0].isMember("last_used_at"));  // never used
  CHECK(env.ctl({"apikey", "list", "--org", env.org}).out.find(env.key_id) != std::string::npos);
  CHECK(env.ctl({"apikey", "list", "--org", env.org}).out.find("never") != std::string::npos);
  env.redis.connect().command({"CONFIG", "RESETSTAT"});

  const std::int64_t before = unix_now();
  REQUIRE(env.issue(R"({"user_id":"lu"})").status == 201);
  wait_counted(anon, kPosts, 1);
  const std::string first = last_used(env);
  std::int64_t t = 0;
  REQUIRE(shortcred::parse_rfc3339(first, t) == shortcred::Errc::ok);
  CHECK(first == shortcred::format_rfc3339(t));  // the created_at format
  CHECK(t >= before);
  CHECK(t <= unix_now());
  CHECK(calls(env, "eval") == 1);
  CHECK(metric(anon, kWrites) == 1);

  // More requests within the minute: no write, not even an attempt.
  REQUIRE(env.call("GET", "/v2/tokens").status == 200);
  REQUIRE(env.issue(R"({"user_id":"lu"})").status == 201);
  wait_counted(anon, kGets, 1);
  wait_counted(anon, kPosts, 2);
  CHECK(last_used(env) == first);
  CHECK(calls(env, "eval") == 1);
  CHECK(metric(anon, kWrites) == 1);

  list = parse_json(env.ctl({"--json", "apikey", "list", "--org", env.org}).out);
  CHECK(list["keys"][0]["last_used_at"].asString() == first);
  const std::string table = env.ctl({"apikey", "list", "--org", env.org}).out;
  CHECK(std::regex_search(table, std::regex("^" + env.key_id + "  \\S+Z  " + first + "  test$",
                                            std::regex::multiline)));
}

TEST_CASE("a last_used_at a minute old is rewritten, a fresh one from another process is not",
          "[tokend][apikey]") {
  TokendEnv env;
  env.redis.connect().command({"HSET", apikey_hash(env), "last_used_at", "2020-01-01T00:00:00Z"});
  {
    support::HttpClient anon(env.base_url());
    REQUIRE(env.call("GET", "/v2/tokens").status == 200);
    wait_counted(anon, kGets, 1);
    std::int64_t t = 0;
    REQUIRE(shortcred::parse_rfc3339(last_used(env), t) == shortcred::Errc::ok);
    CHECK(unix_now() - t < 5);
    CHECK(metric(anon, kWrites) == 1);
  }
  // A new process knows nothing of the last write but reads it with the key:
  // fresh, so it neither writes nor tries.
  const std::string fresh = last_used(env);
  env.proc.stop();
  env.start();
  env.redis.connect().command({"CONFIG", "RESETSTAT"});
  support::HttpClient anon(env.base_url());
  REQUIRE(env.call("GET", "/v2/tokens").status == 200);
  wait_counted(anon, kGets, 1);
  CHECK(last_used(env) == fresh);
  CHECK(calls(env, "eval") == 0);
  CHECK(metric(anon, kWrites) == 0);
}

TEST_CASE("a request with an unknown API key writes no last_used_at", "[tokend][apikey]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  const std::string other = "sk_" + std::string(16, 'z') + "_" + std::string(40, 'a');
  REQUIRE(anon.request("GET", "/v2/tokens", {}, {"Authorization: Bearer " + other}).status == 401);
  wait_counted(anon,
               R"(shortcred_http_requests_total{method="GET",route="/v2/tokens",status="401"})", 1);
  CHECK(last_used(env).empty());
  CHECK(env.hgetall("shortcred:apikey:" + std::string(16, 'z')).empty());  // not created
  CHECK(metric(anon, kWrites) == 0);
}
