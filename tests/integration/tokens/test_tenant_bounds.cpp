// Per-tenant bounds on what one API key can make Redis do (issue 13, finding
// 4): a cap on live credentials per user, a default issuance rate, paginated
// listing and revocation in bounded batches. Real redis-server and tokend.
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
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

namespace {

// Walks GET /v2/tokens?<query>&limit=<limit> to the end; returns the token
// ids in order and the page sizes.
std::vector<std::string> walk_pages(TokendEnv& env, const std::string& query, int limit,
                                    std::vector<int>& sizes) {
  std::vector<std::string> ids;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    std::string path = "/v2/tokens?limit=" + std::to_string(limit) + query;
    if (!cursor.empty()) path += "&cursor=" + cursor;
    const auto r = env.call("GET", path);
    REQUIRE(r.status == 200);
    const auto v = parse_json(r.body);
    sizes.push_back(static_cast<int>(v["tokens"].size()));
    for (const auto& t : v["tokens"]) ids.push_back(t["token_id"].asString());
    if (!v.isMember("next_cursor")) return ids;
    cursor = v["next_cursor"].asString();
    REQUIRE(!cursor.empty());
  }
  FAIL("listing did not end");
  return ids;
}

std::vector<std::string> index_order(TokendEnv& env, const std::string& user) {
  auto c = env.redis.connect();
  auto r = c.command({"ZRANGE", user_key(user), "0", "-1"});
  std::vector<std::string> ids;
  for (size_t i = 0; i < r->elements; ++i)
    ids.push_back(shortcred::redis::to_string(r->element[i]));
  return ids;
}

}  // namespace

TEST_CASE("GET /v2/tokens?user_id pages by limit and cursor in expiry then id order",
          "[tokend][bounds]") {
  TokendEnv env({"--issue-rate", "0"});
  for (int i = 0; i < 9; ++i) REQUIRE(env.issue(R"({"user_id":"gus"})").status == 201);
  REQUIRE(env.issue(R"({"user_id":"hal"})").status == 201);
  // Five of them share one expiry, so a cursor has to step over ties.
  const auto all = index_order(env, "gus");
  REQUIRE(all.size() == 9);
  auto c = env.redis.connect();
  for (int i = 2; i < 7; ++i)
    REQUIRE(c.command({"ZADD", user_key("gus"), "XX", "9000000000000", all[i]}));
  const auto ordered = index_order(env, "gus");  // (expiry, id), as Redis orders it

  std::vector<int> sizes;
  CHECK(walk_pages(env, "&user_id=gus", 2, sizes) == ordered);
  CHECK(sizes == std::vector<int>{2, 2, 2, 2, 1});
  sizes.clear();
  CHECK(walk_pages(env, "&user_id=gus", 9, sizes) == ordered);
  CHECK(sizes == std::vector<int>{9});  // exactly limit: no next_cursor
  // A credential revoked while paging is skipped; the cursor still works.
  const auto first = parse_json(env.call("GET", "/v2/tokens?user_id=gus&limit=3").body);
  REQUIRE(first["tokens"].size() == 3);
  REQUIRE(env.call("DELETE", "/v2/tokens/" + first["tokens"][2]["token_id"].asString()).status ==
          204);
  const auto second = parse_json(
      env.call("GET", "/v2/tokens?user_id=gus&limit=3&cursor=" + first["next_cursor"].asString())
          .body);
  REQUIRE(second["tokens"].size() == 3);
  CHECK(second["tokens"][0]["token_id"].asString() == ordered[3]);
}

TEST_CASE("GET /v2/tokens defaults to 100 per page and refuses bad limits and cursors",
          "[tokend][bounds]") {
  TokendEnv env({"--issue-rate", "0"});
  REQUIRE(env.ctl({"org", "set", env.org, "--max_tokens_per_user", "0"}).exit_code == 0);
  for (int i = 0; i < 101; ++i) REQUIRE(env.issue(R"({"user_id":"ida"})").status == 201);
  auto v = parse_json(env.call("GET", "/v2/tokens?user_id=ida").body);
  CHECK(v["tokens"].size() == 100);
  CHECK(v.isMember("next_cursor"));
  v = parse_json(env.call("GET", "/v2/tokens?user_id=ida&limit=1000").body);
  CHECK(v["tokens"].size() == 101);
  CHECK_FALSE(v.isMember("next_cursor"));
  for (const char* q :
       {"limit=0", "limit=1001", "limit=ten", "limit=", "limit=5&limit=6", "user_id=ida&cursor=x",
        "user_id=ida&cursor=1.abc", "cursor=12ab", "cursor=42", "cursor=1.0123456789ABCDEF"}) {
    CAPTURE(q);
    const auto r = env.call("GET", std::string("/v2/tokens?") + q);
    CHECK(r.status == 422);
    CHECK(parse_json(r.body)["error"]["code"].asString() == "invalid_field");
  }
  const auto r = env.call("GET", "/v2/tokens?page=2");
  CHECK(r.status == 400);
  CHECK(parse_json(r.body)["error"]["message"].asString().find("limit, cursor") !=
        std::string::npos);
}

TEST_CASE("GET /v2/tokens without user_id pages the org index by limit", "[tokend][bounds]") {
  TokendEnv env({"--issue-rate", "0"});
  std::set<std::string> issued;
  for (int i = 0; i < 40; ++i) {
    const auto r = env.issue(R"({"user_id":"u)" + std::to_string(i % 7) + R"("})");
    REQUIRE(r.status == 201);
    issued.insert(token_id(r));
  }
  std::vector<int> sizes;
  const auto ids = walk_pages(env, "", 10, sizes);
  CHECK(std::set<std::string>(ids.begin(), ids.end()) == issued);
  CHECK(ids.size() == issued.size());  // nothing twice
  CHECK(sizes == std::vector<int>{10, 10, 10, 10});
}

TEST_CASE("shortcredctl token list pages with --limit and --cursor", "[ctl][bounds]") {
  TokendEnv env({"--issue-rate", "0"});
  for (int i = 0; i < 3; ++i) REQUIRE(env.issue(R"({"user_id":"jo"})").status == 201);
  const auto ordered = index_order(env, "jo");
  auto r = env.ctl({"--json", "token", "list", "--org", env.org, "--user", "jo", "--limit", "2"});
  REQUIRE(r.exit_code == 0);
  auto v = parse_json(r.out);
  REQUIRE(v["tokens"].size() == 2);
  CHECK(v["tokens"][0]["token_id"].asString() == ordered[0]);
  const std::string cursor = v["next_cursor"].asString();
  REQUIRE(!cursor.empty());
  r = env.ctl({"token", "list", "--org", env.org, "--user", "jo", "--limit", "1"});
  CHECK(r.out.find("(more: --cursor ") != std::string::npos);
  r = env.ctl({"--json", "token", "list", "--org", env.org, "--user", "jo", "--limit", "2",
               "--cursor", cursor});
  REQUIRE(r.exit_code == 0);
  v = parse_json(r.out);
  REQUIRE(v["tokens"].size() == 1);
  CHECK(v["tokens"][0]["token_id"].asString() == ordered[2]);
  CHECK_FALSE(v.isMember("next_cursor"));
  CHECK(env.ctl({"token", "list", "--org", env.org, "--limit", "0"}).exit_code == 2);
  CHECK(env.ctl({"token", "list", "--org", env.org, "--limit", "1001"}).exit_code == 2);
  r = env.ctl({"--json", "token", "list", "--org", env.org, "--user", "jo", "--cursor", "zz"});
  CHECK(r.exit_code == 2);
  CHECK(parse_json(r.out)["error"]["code"].asString() == "invalid_field");
}

namespace {

// Writes `n` credentials of `user` straight into Redis (as an issue would),
// pipelined: faster than minting them through the API.
void seed_credentials(TokendEnv& env, const std::string& user, int n) {
  auto c = env.redis.connect();
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  const std::string exp = std::to_string(now + 600'000);
  for (int i = 0; i < n; ++i) {
    char id[17];
    std::snprintf(id, sizeof id, "s%015d", i);
    const std::string ckey = "shortcred:{org_test}:cred:" + std::string(id);
    REQUIRE(c.append({"HSET", ckey, "user", user, "secret_sha256", std::string(64, 'a'),
                      "issued_at", std::to_string(now), "expires_at", exp}));
    REQUIRE(c.append({"PEXPIREAT", ckey, exp}));
    REQUIRE(c.append({"ZADD", user_key(user), exp, id}));
  }
  for (int i = 0; i < 3 * n; ++i) REQUIRE(c.read_reply());
}

long long command_calls(TokendEnv& env, const std::string& command) {
  auto c = env.redis.connect();
  const std::string info = shortcred::redis::to_string(c.command({"INFO", "commandstats"}).get());
  const std::string head = "cmdstat_" + command + ":calls=";
  const auto at = info.find(head);
  return at == std::string::npos ? 0 : std::stoll(info.substr(at + head.size()));
}

}  // namespace

TEST_CASE("DELETE /v2/users/<u>/tokens revokes in batches of 500 with UNLINK", "[tokend][bounds]") {
  TokendEnv env;
  REQUIRE(env.ctl({"org", "set", env.org, "--max_tokens_per_user", "0"}).exit_code == 0);
  seed_credentials(env, "kai", 1234);
  const std::string minted = token_id(env.issue(R"({"user_id":"kai"})"));
  REQUIRE(env.issue(R"({"user_id":"lou"})").status == 201);
  auto c = env.redis.connect();
  REQUIRE(c.command({"CONFIG", "SET", "slowlog-log-slower-than", "0"}));
  REQUIRE(c.command({"CONFIG", "SET", "slowlog-max-len", "100000"}));
  REQUIRE(c.command({"SLOWLOG", "RESET"}));
  REQUIRE(c.command({"CONFIG", "RESETSTAT"}));
  auto sub = env.redis.connect();
  REQUIRE(sub.command({"SUBSCRIBE", "shortcred:revoked"}));

  const auto r = env.call("DELETE", "/v2/users/kai/tokens");
  REQUIRE(r.status == 200);
  CHECK(parse_json(r.body)["revoked"].asInt() == 1235);
  // 500 + 500 + 235: three reads of the index, three UNLINKs, no DEL.
  CHECK(command_calls(env, "zrange") == 3);
  CHECK(command_calls(env, "unlink") == 3);
  CHECK(command_calls(env, "del") == 0);
  CHECK(command_calls(env, "publish") == 1);
  auto msg = sub.read_reply();
  REQUIRE(msg);
  CHECK(shortcred::redis::to_string(msg->element[2]) == "user org_test kai");
  // No command read more than a batch of the index.
  auto log = c.command({"SLOWLOG", "GET", "-1"});
  int zranges = 0;
  for (size_t i = 0; i < log->elements; ++i) {
    const redisReply* args = log->element[i]->element[3];
    if (shortcred::redis::to_string(args->element[0]) != "ZRANGE") continue;
    ++zranges;
    CHECK(shortcred::redis::to_string(args->element[3]) == "499");
  }
  CHECK(zranges == 3);
  CHECK(c.command({"EXISTS", user_key("kai")})->integer == 0);
  CHECK(env.pttl("shortcred:{org_test}:cred:" + minted) == -2);
  CHECK(c.command({"EXISTS", "shortcred:{org_test}:cred:s000000000001233"})->integer == 0);
  CHECK(zcard(env, user_key("lou")) == 1);  // another user keeps hers
  CHECK(env.last_audit(env.org).at("event") == "revoke_user");
}

TEST_CASE("shortcredctl token revoke-user revokes in batches too", "[ctl][bounds]") {
  TokendEnv env;
  seed_credentials(env, "max", 600);
  auto c = env.redis.connect();
  REQUIRE(c.command({"CONFIG", "RESETSTAT"}));
  const auto r = env.ctl({"--json", "token", "revoke-user", env.org, "max"});
  REQUIRE(r.exit_code == 0);
  CHECK(parse_json(r.out)["revoked"].asInt() == 600);
  CHECK(command_calls(env, "unlink") == 2);
  CHECK(command_calls(env, "del") == 0);
  CHECK(c.command({"EXISTS", user_key("max")})->integer == 0);
}
