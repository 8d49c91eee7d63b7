// The org-wide token index `{<org>}:tokens` (DESIGN "Many brokers"): written
// by every issue, trimmed and extended there, left by every revocation, and
// what GET /v2/tokens without user_id and `shortcredctl token list` without
// --user read instead of SCAN. Also WAIT after API-key revocation and org
// disable. Real redis-server and tokend.
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;

namespace {

const std::string kOrgIndex = "shortcred:{org_test}:tokens";

std::string token_id(const support::HttpResponse& r) {
  return parse_json(r.body)["token_id"].asString();
}

bool in_index(TokendEnv& env, const std::string& id) {
  auto c = env.redis.connect();
  return c.command({"ZSCORE", kOrgIndex, id})->type != REDIS_REPLY_NIL;
}

// calls= of cmdstat_scan in INFO commandstats; 0 before any SCAN.
long long scan_calls(TokendEnv& env) {
  auto c = env.redis.connect();
  const std::string info = shortcred::redis::to_string(c.command({"INFO", "commandstats"}).get());
  const auto at = info.find("cmdstat_scan:calls=");
  if (at == std::string::npos) return 0;
  return std::stoll(info.substr(at + std::string("cmdstat_scan:calls=").size()));
}

long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool org_disabled(TokendEnv& env) {
  for (const auto& [k, v] : env.hgetall("shortcred:{org_test}:org")) {
    if (k == "disabled") return v == "1";
  }
  return false;
}

support::RunResult ctl_with(TokendEnv& env, std::vector<std::string> global,
                            const std::vector<std::string>& args) {
  global.insert(global.end(), args.begin(), args.end());
  return env.ctl(global);
}

}  // namespace

TEST_CASE("GET /v2/tokens without user_id lists the org index, paged, without SCAN",
          "[tokend][orgindex]") {
  TokendEnv env({"--issue-rate", "0"});
  std::vector<std::string> ids;
  for (const char* user : {"ann", "bob", "ann"}) {
    const auto r = env.issue(std::string(R"({"user_id":")") + user + R"("})");
    REQUIRE(r.status == 201);
    ids.push_back(token_id(r));
  }
  for (const auto& id : ids) CHECK(in_index(env, id));

  const long long scans = scan_calls(env);
  auto first = parse_json(env.call("GET", "/v2/tokens?limit=2").body);
  REQUIRE(first["tokens"].size() == 2);
  REQUIRE(first.isMember("next_cursor"));
  auto second = parse_json(
      env.call("GET", "/v2/tokens?limit=2&cursor=" + first["next_cursor"].asString()).body);
  REQUIRE(second["tokens"].size() == 1);
  CHECK_FALSE(second.isMember("next_cursor"));
  std::set<std::string> listed;
  for (const auto* page : {&first, &second}) {
    for (const auto& t : (*page)["tokens"]) {
      listed.insert(t["token_id"].asString());
      CHECK_FALSE(t.isMember("password"));
    }
  }
  CHECK(listed == std::set<std::string>(ids.begin(), ids.end()));
  // shortcredctl token list without --user reads the same index.
  auto r = env.ctl({"--json", "token", "list", "--org", env.org});
  REQUIRE(r.exit_code == 0);
  CHECK(parse_json(r.out)["tokens"].size() == 3);
  CHECK(scan_calls(env) == scans);

  // Revoked: gone from the listing and from the index.
  REQUIRE(env.call("DELETE", "/v2/tokens/" + ids[1]).status == 204);
  CHECK_FALSE(in_index(env, ids[1]));
  auto all = parse_json(env.call("GET", "/v2/tokens").body);
  REQUIRE(all["tokens"].size() == 2);
  for (const auto& t : all["tokens"]) CHECK(t["token_id"].asString() != ids[1]);
  // revoke-user takes its credentials out of the org index too.
  REQUIRE(env.call("DELETE", "/v2/users/ann/tokens").status == 200);
  CHECK_FALSE(in_index(env, ids[0]));
  CHECK_FALSE(in_index(env, ids[2]));
  CHECK(parse_json(env.call("GET", "/v2/tokens").body)["tokens"].size() == 0);
  // A cursor the listing did not hand out (a SCAN cursor, say) is refused.
  const auto bad = env.call("GET", "/v2/tokens?cursor=42");
  CHECK(bad.status == 422);
  CHECK(parse_json(bad.body)["error"]["message"].asString().find("cursor") != std::string::npos);
}

TEST_CASE("the org index is trimmed at each issue and expires with its latest credential",
          "[tokend][orgindex]") {
  TokendEnv env({"--issue-rate", "0"});
  auto r = env.issue(R"({"user_id":"cat","ttl_seconds":3600})");
  REQUIRE(r.status == 201);
  const std::string longest = token_id(r);
  // A new index gets an expiry (PEXPIREAT GT alone would leave it none).
  auto c = env.redis.connect();
  const long long score =
      std::stoll(shortcred::redis::to_string(c.command({"ZSCORE", kOrgIndex, longest}).get()));
  CHECK(env.pttl(kOrgIndex) >= score - now_ms() - 5000);
  // A stale member (expired, its hash long gone) leaves at the next issue.
  REQUIRE(c.command({"ZADD", kOrgIndex, std::to_string(now_ms() - 1000), "0123456789abcdef"}));
  REQUIRE(env.issue(R"({"user_id":"dan","ttl_seconds":600})").status == 201);
  CHECK_FALSE(in_index(env, "0123456789abcdef"));
  // A shorter credential does not shorten the index's life.
  CHECK(env.pttl(kOrgIndex) >= score - now_ms() - 5000);
  // A refresh puts the new credential in and, with revoke_old, the old out.
  r = env.call("POST", "/v2/tokens/" + longest + "/refresh", R"({"revoke_old":true})",
               {"Content-Type: application/json"});
  REQUIRE(r.status == 201);
  CHECK(in_index(env, token_id(r)));
  CHECK_FALSE(in_index(env, longest));
  // shortcredctl token mint writes it as well.
  const auto m = env.ctl({"--json", "token", "mint", "--org", env.org, "--user", "eve"});
  REQUIRE(m.exit_code == 0);
  CHECK(in_index(env, parse_json(m.out)["token_id"].asString()));
}

TEST_CASE("apikey revoke --revoke-credentials and org delete --force empty the org index",
          "[ctl][orgindex]") {
  TokendEnv env({"--issue-rate", "0"});
  const auto id = token_id(env.issue(R"({"user_id":"fay"})"));
  REQUIRE(in_index(env, id));
  REQUIRE(env.ctl({"apikey", "revoke", env.key_id, "--revoke-credentials"}).exit_code == 0);
  CHECK_FALSE(in_index(env, id));
  const auto m = env.ctl({"--json", "token", "mint", "--org", env.org, "--user", "gil"});
  REQUIRE(m.exit_code == 0);
  REQUIRE(in_index(env, parse_json(m.out)["token_id"].asString()));
  REQUIRE(env.ctl({"org", "delete", env.org, "--force"}).exit_code == 0);
  auto c = env.redis.connect();
  CHECK(c.command({"EXISTS", kOrgIndex})->integer == 0);
}

// org set --disabled 1 is the same disable as org disable: both wait.
TEST_CASE(
    "with --min-replicas 1 and no replica, apikey revoke, org disable and org set "
    "--disabled 1 fail, and stand",
    "[ctl][orgindex]") {
  TokendEnv env({"--issue-rate", "0"});
  const std::vector<std::string> durable{"--min-replicas", "1", "--replica-timeout-ms", "100"};
  auto r = ctl_with(env, durable, {"apikey", "revoke", env.key_id});
  CHECK(r.exit_code == 1);
  CHECK(r.err.find("replicas required (--min-replicas)") != std::string::npos);
  // The revocation stands on the master: the key no longer authenticates.
  CHECK(env.call("GET", "/v2/tokens").status == 401);

  for (const std::vector<std::string>& disable :
       {std::vector<std::string>{"org", "disable", env.org},
        std::vector<std::string>{"org", "set", env.org, "--disabled", "1"}}) {
    INFO(disable[1]);
    // Enabling and other fields are not waited for.
    r = ctl_with(env, durable, {"org", "enable", env.org});
    CHECK(r.exit_code == 0);
    r = ctl_with(env, durable, {"org", "set", env.org, "--pub_rate", "5"});
    CHECK(r.exit_code == 0);
    REQUIRE_FALSE(org_disabled(env));
    r = ctl_with(env, durable, disable);
    CHECK(r.exit_code == 1);
    CHECK(r.err.find("organisation org_test is disabled on the master (brokers notified), but "
                     "not yet replicated: 0 of the 1 replicas required (--min-replicas)") !=
          std::string::npos);
    CHECK(org_disabled(env));
    auto json = durable;
    json.insert(json.begin(), "--json");
    CHECK(parse_json(ctl_with(env, json, disable).out)["error"]["code"].asString() ==
          "not_replicated");
  }
}

TEST_CASE(
    "with --min-replicas 1 and a replica in sync, org disable and org set --disabled 1 "
    "succeed",
    "[ctl][orgindex]") {
  TokendEnv env({"--issue-rate", "0"});
  // The replica syncs at once, not after the default 5 s delay.
  REQUIRE(shortcred::redis::is_status_ok(
      env.redis.connect().command({"CONFIG", "SET", "repl-diskless-sync-delay", "0"})));
  support::RedisServerOptions o;
  o.extra_args = {"--replicaof", "127.0.0.1", std::to_string(env.redis.port())};
  support::RedisServer replica(o);
  REQUIRE(support::wait_until(
      [&] {
        auto c = replica.connect();
        return support::info_field(c, "replication", "master_link_status") == "up";
      },
      std::chrono::seconds(5), std::chrono::milliseconds(20)));
  const std::vector<std::string> durable{"--min-replicas", "1", "--replica-timeout-ms", "1000"};
  for (const std::vector<std::string>& disable :
       {std::vector<std::string>{"org", "disable", env.org},
        std::vector<std::string>{"org", "set", env.org, "--disabled", "1"}}) {
    INFO(disable[1]);
    REQUIRE(ctl_with(env, durable, {"org", "enable", env.org}).exit_code == 0);
    const auto r = ctl_with(env, durable, disable);
    INFO(r.out << r.err);
    CHECK(r.exit_code == 0);
    CHECK(org_disabled(env));
  }
}
