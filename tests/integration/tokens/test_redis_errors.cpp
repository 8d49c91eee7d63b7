// Redis error replies: "cannot serve now" (LOADING, BUSY, OOM…) is a 503 like
// an unreachable Redis; an error about the data (WRONGTYPE…) is a 500 with a
// generic message, the detail in the log. Either way an issue that failed
// leaves no credential, no index entry and no audit entry behind.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <thread>

#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;

namespace {

long long count_keys(TokendEnv& env, const std::string& pattern) {
  auto c = env.redis.connect();
  return static_cast<long long>(c.command({"KEYS", pattern})->elements);
}

void check_internal_error(const support::HttpResponse& r) {
  CHECK(r.status == 500);
  const auto v = parse_json(r.body);
  CHECK(v["error"]["code"].asString() == "internal_error");
  CHECK(v["error"]["message"].asString() == "the credential store failed");
  CHECK(r.body.find("tkn_") == std::string::npos);
}

}  // namespace

TEST_CASE("a user index of the wrong type: issuing is a 500 that writes nothing", "[tokend]") {
  TokendEnv env;
  const std::string ukey = "shortcred:{org_test}:user:alice";
  auto c = env.redis.connect();
  REQUIRE(c.command({"SET", ukey, "x"}));
  const auto before = env.snapshot();

  check_internal_error(env.issue(R"({"user_id":"alice"})"));
  CHECK(count_keys(env, "shortcred:{org_test}:cred:*") == 0);
  CHECK(env.snapshot() == before);  // no cred hash, no audit entry
  CHECK(env.pttl(ukey) == -1);      // and no expiry put on the foreign key
  // Listing and revoking that user fail the same way.
  check_internal_error(env.call("GET", "/v2/tokens?user_id=alice"));
  check_internal_error(env.call("DELETE", "/v2/users/alice/tokens"));
  CHECK(env.snapshot() == before);
  // Other users are not affected.
  CHECK(env.issue(R"({"user_id":"bob"})").status == 201);
  CHECK(support::wait_until(
      [&] { return env.log().find("is a string, not a sorted set") != std::string::npos; }, 2s));
}

TEST_CASE("an error inside EXEC undoes the issue: no usable credential stays behind",
          "[tokend]") {
  TokendEnv env;
  // The audit XADD is the last command of the transaction, so the cred hash
  // and the index entry are written before it fails.
  const std::string audit = "shortcred:{org_test}:audit";
  auto c = env.redis.connect();
  REQUIRE(c.command({"DEL", audit}));
  REQUIRE(c.command({"SET", audit, "x"}));
  const auto before = env.snapshot();

  check_internal_error(env.issue(R"({"user_id":"carol"})"));
  CHECK(count_keys(env, "shortcred:{org_test}:cred:*") == 0);
  CHECK(count_keys(env, "shortcred:{org_test}:user:*") == 0);
  CHECK(env.snapshot() == before);
  CHECK(support::wait_until(
      [&] { return env.log().find("store error: Redis error: WRONGTYPE") != std::string::npos; },
      2s));
  support::HttpClient anon(env.base_url());
  CHECK(anon.request("GET", "/metrics").body.find("shortcred_redis_errors_total 1") !=
        std::string::npos);
}

TEST_CASE("Redis busy running a script is a 503, like an unreachable Redis", "[tokend]") {
  TokendEnv env;
  REQUIRE(env.issue(R"({"user_id":"dan"})").status == 201);
  auto c = env.redis.connect();
  REQUIRE(c.command({"CONFIG", "SET", "busy-reply-threshold", "50"}));
  // Blocks Redis for 1.5 s; every other client gets "BUSY …" meanwhile.
  std::thread script([&] {
    support::run({"redis-cli", "-p", std::to_string(env.redis.port()), "EVAL",
                  "local t = redis.call('TIME') "
                  "local s = t[1] * 1000000 + t[2] "
                  "repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - s > 1500000",
                  "0"});
  });
  support::HttpResponse r;
  const bool busy = support::wait_until(
      [&] {
        r = env.issue(R"({"user_id":"dan"})");
        return r.status != 201;
      },
      1s, 20ms);
  script.join();
  REQUIRE(busy);
  CHECK(r.status == 503);
  CHECK(parse_json(r.body)["error"]["code"].asString() == "redis_unavailable");
  CHECK(env.issue(R"({"user_id":"dan"})").status == 201);
}
