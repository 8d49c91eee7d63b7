// Per-tenant bounds on what one API key can make Redis do (issue 13, finding
// 4): a cap on live credentials per user, a default issuance rate, paginated
// listing and revocation in bounded batches. Real redis-server and tokend.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tokend_env.hpp"

using namespace tokens_test;

namespace {

std::string user_key(const std::string& user) {
  return "shortcred:{org_test}:user:" + user;
}

long long zcard(TokendEnv& env, const std::string& key) {
  auto c = env.redis.connect();
  return c.command({"ZCARD", key})->integer;
}

std::string token_id(const support::HttpResponse& r) {
  return parse_json(r.body)["token_id"].asString();
}

void check_too_many(const support::HttpResponse& r) {
  CHECK(r.status == 429);
  const auto v = parse_json(r.body);
  CHECK(v["error"]["code"].asString() == "too_many_tokens");
  CHECK(v["error"]["message"].asString().find("max_tokens_per_user") != std::string::npos);
  CHECK(r.body.find("tkn_") == std::string::npos);
}

}  // namespace

TEST_CASE("issuing over max_tokens_per_user is 429 too_many_tokens and writes nothing",
          "[tokend][bounds]") {
  TokendEnv env;
  REQUIRE(env.ctl({"org", "set", env.org, "--max_tokens_per_user", "3"}).exit_code == 0);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const auto r = env.issue(R"({"user_id":"alice"})");
    REQUIRE(r.status == 201);
    ids.push_back(token_id(r));
  }
  const auto before = env.snapshot();  // the audit stream's length included
  check_too_many(env.issue(R"({"user_id":"alice"})"));
  CHECK(env.snapshot() == before);
  // The cap is per user: bob is not affected.
  CHECK(env.issue(R"({"user_id":"bob"})").status == 201);
  // A revoked credential frees its place…
  REQUIRE(env.call("DELETE", "/v2/tokens/" + ids[0]).status == 204);
  CHECK(env.issue(R"({"user_id":"alice"})").status == 201);
  check_too_many(env.issue(R"({"user_id":"alice"})"));
  // …and so does an expired one (its index entry is older than now).
  auto c = env.redis.connect();
  REQUIRE(c.command({"ZADD", user_key("alice"), "XX", "1000", ids[1]}));
  CHECK(env.issue(R"({"user_id":"alice"})").status == 201);
  CHECK(zcard(env, user_key("alice")) == 3);  // the expired entry was trimmed
}

TEST_CASE("refresh with revoke_old replaces a credential at the cap and without it counts",
          "[tokend][bounds]") {
  TokendEnv env;
  REQUIRE(env.ctl({"org", "set", env.org, "--max_tokens_per_user", "2"}).exit_code == 0);
  const std::string a = token_id(env.issue(R"({"user_id":"carol"})"));
  REQUIRE(env.issue(R"({"user_id":"carol"})").status == 201);
  check_too_many(env.call("POST", "/v2/tokens/" + a + "/refresh"));
  const auto r = env.call("POST", "/v2/tokens/" + a + "/refresh", R"({"revoke_old":true})");
  REQUIRE(r.status == 201);
  CHECK(env.pttl("shortcred:{org_test}:cred:" + a) == -2);
  CHECK(zcard(env, user_key("carol")) == 2);
  const auto audit = env.last_audit(env.org);
  CHECK(audit.at("event") == "revoke");
  CHECK(audit.at("token") == a);
  // The replacement is at the cap too: it cannot be refreshed without revoke_old.
  check_too_many(env.call("POST", "/v2/tokens/" + token_id(r) + "/refresh"));
}

TEST_CASE("the cap holds under concurrent issues for one user", "[tokend][bounds]") {
  TokendEnv env({"--issue-rate", "0"});
  REQUIRE(env.ctl({"org", "set", env.org, "--max_tokens_per_user", "5"}).exit_code == 0);
  std::atomic<int> created{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      support::HttpClient http(env.base_url());
      for (int i = 0; i < 4; ++i) {
        const auto r = http.request("POST", "/v2/tokens", R"({"user_id":"dave"})",
                                    {"Authorization: Bearer " + env.api_key});
        (r.status == 201 ? created : r.status == 429 ? refused : other)++;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(created == 5);
  CHECK(refused == 27);
  CHECK(other == 0);
  CHECK(zcard(env, user_key("dave")) == 5);
}

TEST_CASE("max_tokens_per_user defaults to 100 and 0 lifts the cap", "[tokend][bounds]") {
  TokendEnv env({"--issue-rate", "0"});
  for (int i = 0; i < 100; ++i) REQUIRE(env.issue(R"({"user_id":"erin"})").status == 201);
  check_too_many(env.issue(R"({"user_id":"erin"})"));
  REQUIRE(env.ctl({"org", "set", env.org, "--max_tokens_per_user", "0"}).exit_code == 0);
  CHECK(env.issue(R"({"user_id":"erin"})").status == 201);
  CHECK(zcard(env, user_key("erin")) == 101);
}

TEST_CASE("shortcredctl token mint over max_tokens_per_user exits 1 with too_many_tokens",
          "[ctl][bounds]") {
  TokendEnv env;
  auto set = env.ctl({"--json", "org", "set", env.org, "--max_tokens_per_user", "1"});
  REQUIRE(set.exit_code == 0);
  CHECK(parse_json(set.out)["max_tokens_per_user"].asString() == "1");
  CHECK(env.ctl({"org", "set", env.org, "--max_tokens_per_user", "-1"}).exit_code == 2);
  REQUIRE(env.ctl({"token", "mint", "--org", env.org, "--user", "fay"}).exit_code == 0);
  const auto before = env.snapshot();
  const auto r = env.ctl({"--json", "token", "mint", "--org", env.org, "--user", "fay"});
  CHECK(r.exit_code == 1);
  CHECK(parse_json(r.out)["error"]["code"].asString() == "too_many_tokens");
  CHECK(r.err.find("max_tokens_per_user") != std::string::npos);
  CHECK(env.snapshot() == before);
  // tokend reads the same field.
  check_too_many(env.issue(R"({"user_id":"fay"})"));
}

TEST_CASE("issuance is limited to 50 per second per API key by default", "[tokend][bounds]") {
  TokendEnv env;  // no --issue-rate
  int created = 0, limited = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 120; ++i) {
    const auto r = env.issue(R"({"user_id":"u)" + std::to_string(i) + R"("})");
    if (r.status == 201) ++created;
    if (r.status == 429) {
      ++limited;
      CHECK(parse_json(r.body)["error"]["code"].asString() == "rate_limited");
      CHECK(r.headers.count("retry-after") == 1);
    }
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(created + limited == 120);
  CHECK(created >= 50);                                       // the burst
  CHECK(created <= 50 + static_cast<int>(elapsed * 50) + 1);  // then 50/s
  CHECK(limited > 0);
  const auto help = support::run({SHORTCRED_TOKEND_PATH, "--help"});
  CHECK(help.out.find("burst N (default 50; 0 = unlimited)") != std::string::npos);
  // 0 still means unlimited.
  TokendEnv unlimited({"--issue-rate", "0"});
  for (int i = 0; i < 120; ++i) {
    REQUIRE(unlimited.issue(R"({"user_id":"u)" + std::to_string(i) + R"("})").status == 201);
  }
}
