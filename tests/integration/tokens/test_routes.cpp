// Success paths of every route of HTTP API v2, checked against Redis.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <regex>
#include <sstream>
#include <thread>

#include "shortcred/secrets.hpp"
#include "shortcred/time.hpp"
#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;

namespace {

std::string cred_key(const std::string& org, const std::string& id) {
  return "shortcred:{" + org + "}:cred:" + id;
}

std::string field(const std::vector<std::pair<std::string, std::string>>& h, const std::string& f) {
  for (const auto& [k, v] : h) {
    if (k == f) return v;
  }
  return "<absent>";
}

// A subscriber on shortcred:revoked.
struct Subscriber {
  explicit Subscriber(support::RedisServer& r) : conn(r.connect()) {
    auto ok = conn.command({"SUBSCRIBE", "shortcred:revoked"});
    REQUIRE(ok);
  }
  std::string next() {
    auto r = conn.read_reply();
    if (!r || r->elements != 3) return "<none>";
    return shortcred::redis::to_string(r->element[2]);
  }
  shortcred::redis::Connection conn;
};

}  // namespace

TEST_CASE("POST /v2/tokens issues a credential whose Redis record matches the response",
          "[tokend]") {
  TokendEnv env;
  const auto r = env.issue(
      R"({"user_id":"alice","ttl_seconds":600,"scope":["read %o/feeds/#"],"client_id":"dev-1"})");
  REQUIRE(r.status == 201);
  CHECK(r.headers.at("content-type").find("application/json") == 0);
  const auto v = parse_json(r.body);
  const std::string id = v["token_id"].asString();
  CHECK(shortcred::validate_token_id(id) == shortcred::Errc::ok);
  CHECK(v["username"].asString() == "alice@org_test");
  const std::string password = v["password"].asString();
  shortcred::SecretParts parts;
  REQUIRE(shortcred::parse_password(password, parts) == shortcred::Errc::ok);
  CHECK(parts.id == id);
  CHECK(v["expires_in"].asInt() == 600);
  CHECK(v["scope"][0].asString() == "read %o/feeds/#");
  CHECK(v["client_id"].asString() == "dev-1");
  std::int64_t exp_s = 0, refresh_s = 0;
  REQUIRE(shortcred::parse_rfc3339(v["expires_at"].asString(), exp_s) == shortcred::Errc::ok);
  REQUIRE(shortcred::parse_rfc3339(v["refresh_recommended_at"].asString(), refresh_s) ==
          shortcred::Errc::ok);
  CHECK(std::abs((exp_s - refresh_s) - 60) <= 1);  // 90 % of 600 s

  const auto h = env.hgetall(cred_key(env.org, id));
  CHECK(field(h, "user") == "alice");
  CHECK(field(h, "secret_sha256") == shortcred::sha256_hex(parts.secret));
  CHECK(field(h, "scope") == "read %o/feeds/#");
  CHECK(field(h, "client_id") == "dev-1");
  CHECK(field(h, "apikey") == env.key_id);
  const long long expires_at = std::stoll(field(h, "expires_at"));
  CHECK(expires_at / 1000 == exp_s);
  CHECK(expires_at - std::stoll(field(h, "issued_at")) == 600'000);
  CHECK(std::abs(env.pttl(cred_key(env.org, id)) - 600'000) <= 1000);

  auto c = env.redis.connect();
  const std::string index = "shortcred:{org_test}:user:alice";
  CHECK(shortcred::redis::to_string(c.command({"ZSCORE", index, id}).get()) ==
        std::to_string(expires_at));
  CHECK(std::abs(env.pttl(index) - 600'000) <= 1000);

  const auto audit = env.last_audit(env.org);
  CHECK(audit.at("event") == "issue");
  CHECK(audit.at("user") == "alice");
  CHECK(audit.at("token") == id);
  CHECK(audit.at("apikey") == env.key_id);
  CHECK(audit.at("ttl") == "600");
  CHECK(audit.at("remote") == "127.0.0.1");  // the client's address
}

TEST_CASE("the user index keeps the latest expiry and drops expired members", "[tokend]") {
  TokendEnv env;
  REQUIRE(env.issue(R"({"user_id":"bob","ttl_seconds":3000})").status == 201);
  REQUIRE(env.issue(R"({"user_id":"bob","ttl_seconds":120})").status == 201);
  const std::string index = "shortcred:{org_test}:user:bob";
  CHECK(std::abs(env.pttl(index) - 3'000'000) <= 1000);  // not shortened by the 120 s one
  auto c = env.redis.connect();
  c.command({"ZADD", index, "1000", "stale0000000000x"});
  REQUIRE(env.issue(R"({"user_id":"bob","ttl_seconds":60})").status == 201);
  CHECK(c.command({"ZSCORE", index, "stale0000000000x"})->type == REDIS_REPLY_NIL);
  CHECK(c.command({"ZCARD", index})->integer == 3);
}

TEST_CASE("ttl_seconds defaults to the org's default_ttl or else to --default-ttl", "[tokend]") {
  TokendEnv env({"--default-ttl", "900"});
  auto v = parse_json(env.issue(R"({"user_id":"u1"})").body);
  CHECK(v["expires_in"].asInt() == 900);
  CHECK(std::abs(env.pttl(cred_key(env.org, v["token_id"].asString())) - 900'000) <= 1000);
  REQUIRE(env.ctl({"org", "set", env.org, "--default_ttl", "300", "--max_ttl", "400"}).exit_code ==
          0);
  v = parse_json(env.issue(R"({"user_id":"u1"})").body);
  CHECK(v["expires_in"].asInt() == 300);
  const auto r = env.issue(R"({"user_id":"u1","ttl_seconds":401})");
  CHECK(r.status == 422);
  CHECK(parse_json(r.body)["error"]["message"].asString().find("ttl_seconds") == 0);
}

TEST_CASE("refresh mints a new credential with the same user and scope and binding", "[tokend]") {
  TokendEnv env;
  const auto first = parse_json(
      env.issue(R"({"user_id":"carol","scope":["write %o/users/%u/out"],"client_id":"c9"})").body);
  const std::string old_id = first["token_id"].asString();

  auto r = env.call("POST", "/v2/tokens/" + old_id + "/refresh");
  REQUIRE(r.status == 201);
  auto v = parse_json(r.body);
  CHECK(v["token_id"].asString() != old_id);
  CHECK(v["username"].asString() == "carol@org_test");
  CHECK(v["scope"][0].asString() == "write %o/users/%u/out");
  CHECK(v["client_id"].asString() == "c9");
  CHECK(env.pttl(cred_key(env.org, old_id)) > 0);  // the old one stays valid
  CHECK(env.last_audit(env.org).at("event") == "refresh");

  Subscriber sub(env.redis);
  r = env.call("POST", "/v2/tokens/" + old_id + "/refresh", R"({"revoke_old":true})");
  REQUIRE(r.status == 201);
  CHECK(sub.next() == "token org_test " + old_id);  // brokers drop its sessions at once
  CHECK(env.pttl(cred_key(env.org, old_id)) == -2);  // gone
  const auto audit = env.last_audit(env.org);
  CHECK(audit.at("event") == "revoke");
  CHECK(audit.at("token") == old_id);
  CHECK(audit.at("remote") == "127.0.0.1");
  CHECK(env.call("POST", "/v2/tokens/" + old_id + "/refresh").status == 404);
}

TEST_CASE("a refresh keeps the original credential's TTL unless ttl_seconds is given",
          "[tokend]") {
  TokendEnv env;  // --default-ttl 3600: what a refresh gave before
  const auto first = parse_json(env.issue(R"({"user_id":"tina","ttl_seconds":600})").body);
  const std::string id = first["token_id"].asString();
  const auto refresh = [&](const std::string& from, const std::string& body) {
    const auto r = env.call("POST", "/v2/tokens/" + from + "/refresh", body);
    REQUIRE(r.status == 201);
    return parse_json(r.body);
  };

  auto v = refresh(id, "");
  CHECK(v["expires_in"].asInt64() == 600);
  v = refresh(v["token_id"].asString(), R"({"revoke_old":true})");  // and so on, refresh by refresh
  CHECK(v["expires_in"].asInt64() == 600);
  CHECK(refresh(id, R"({"ttl_seconds":900})")["expires_in"].asInt64() == 900);

  // The org's max_ttl lowered since: the inherited TTL is capped, not refused.
  REQUIRE(env.ctl({"org", "set", env.org, "--max_ttl", "300"}).exit_code == 0);
  CHECK(refresh(id, "")["expires_in"].asInt64() == 300);
  CHECK(env.call("POST", "/v2/tokens/" + id + "/refresh", R"({"ttl_seconds":900})").status == 422);
}

TEST_CASE("GET /v2/tokens lists the org's or one user's credentials without secrets",
          "[tokend]") {
  TokendEnv env;
  const auto a = parse_json(env.issue(R"({"user_id":"dave"})").body);
  env.issue(R"({"user_id":"erin"})");
  auto r = env.call("GET", "/v2/tokens");
  REQUIRE(r.status == 200);
  CHECK(parse_json(r.body)["tokens"].size() == 2);
  CHECK(r.body.find("tkn_") == std::string::npos);
  CHECK(r.body.find("secret") == std::string::npos);
  r = env.call("GET", "/v2/tokens?user_id=dave");
  const auto v = parse_json(r.body);
  REQUIRE(v["tokens"].size() == 1);
  CHECK(v["tokens"][0]["token_id"] == a["token_id"]);
  CHECK(v["tokens"][0]["user_id"].asString() == "dave");
  CHECK(v["tokens"][0]["expires_at"] == a["expires_at"]);
}

TEST_CASE("DELETE /v2/tokens/<id> revokes and audits and publishes the revocation", "[tokend]") {
  TokendEnv env;
  const std::string id = parse_json(env.issue(R"({"user_id":"frank"})").body)["token_id"].asString();
  Subscriber sub(env.redis);
  const auto r = env.call("DELETE", "/v2/tokens/" + id);
  CHECK(r.status == 204);
  CHECK(r.body.empty());
  CHECK(sub.next() == "token org_test " + id);
  CHECK(env.pttl(cred_key(env.org, id)) == -2);
  auto c = env.redis.connect();
  CHECK(c.command({"ZSCORE", "shortcred:{org_test}:user:frank", id})->type == REDIS_REPLY_NIL);
  const auto audit = env.last_audit(env.org);
  CHECK(audit.at("event") == "revoke");
  CHECK(audit.at("token") == id);
  CHECK(env.call("DELETE", "/v2/tokens/" + id).status == 404);
}

TEST_CASE("a token id of another org is not found and stays valid", "[tokend]") {
  TokendEnv env;
  auto [other_id, other_key] = env.make_key("org_other");
  support::HttpClient other(env.base_url());
  const auto r = other.request("POST", "/v2/tokens", R"({"user_id":"gina"})",
                               {"Authorization: Bearer " + other_key});
  REQUIRE(r.status == 201);
  const std::string id = parse_json(r.body)["token_id"].asString();
  const auto before = env.snapshot();
  const auto del = env.call("DELETE", "/v2/tokens/" + id);
  CHECK(del.status == 404);
  CHECK(parse_json(del.body)["error"]["code"].asString() == "not_found");
  CHECK(env.call("POST", "/v2/tokens/" + id + "/refresh").status == 404);
  CHECK(env.snapshot() == before);
  CHECK(env.pttl(cred_key("org_other", id)) > 0);
}

TEST_CASE("DELETE /v2/users/<user>/tokens revokes all of a user's credentials", "[tokend]") {
  TokendEnv env;
  env.issue(R"({"user_id":"hank"})");
  env.issue(R"({"user_id":"hank"})");
  const std::string keep = parse_json(env.issue(R"({"user_id":"ivy"})").body)["token_id"].asString();
  Subscriber sub(env.redis);
  const auto r = env.call("DELETE", "/v2/users/hank/tokens");
  REQUIRE(r.status == 200);
  CHECK(parse_json(r.body)["revoked"].asInt() == 2);
  CHECK(sub.next() == "user org_test hank");
  CHECK(parse_json(env.call("GET", "/v2/tokens").body)["tokens"].size() == 1);
  CHECK(env.pttl(cred_key(env.org, keep)) > 0);
  CHECK(env.last_audit(env.org).at("event") == "revoke_user");
  CHECK(parse_json(env.call("DELETE", "/v2/users/hank/tokens").body)["revoked"].asInt() == 0);
}

TEST_CASE("DELETE /v2/users/<user>/tokens audits only what it revoked, and nothing when nothing",
          "[tokend]") {
  TokendEnv env;
  auto c = env.redis.connect();
  const auto audit_len = [&] { return c.command({"XLEN", "shortcred:{org_test}:audit"})->integer; };
  const std::string gone = parse_json(env.issue(R"({"user_id":"jo"})").body)["token_id"].asString();
  const std::string kept = parse_json(env.issue(R"({"user_id":"jo"})").body)["token_id"].asString();
  REQUIRE(c.command({"DEL", cred_key(env.org, gone)})->integer == 1);  // by hand: index stays
  auto n = audit_len();
  CHECK(parse_json(env.call("DELETE", "/v2/users/jo/tokens").body)["revoked"].asInt() == 1);
  CHECK(audit_len() == n + 1);
  CHECK(env.last_audit(env.org).at("token") == kept);

  n = audit_len();
  CHECK(parse_json(env.call("DELETE", "/v2/users/nobody/tokens").body)["revoked"].asInt() == 0);
  const std::string lone = parse_json(env.issue(R"({"user_id":"jo"})").body)["token_id"].asString();
  REQUIRE(c.command({"DEL", cred_key(env.org, lone)})->integer == 1);
  CHECK(parse_json(env.call("DELETE", "/v2/users/jo/tokens").body)["revoked"].asInt() == 0);
  CHECK(audit_len() == n + 1);  // the issue only
  CHECK(env.last_audit(env.org).at("event") == "issue");
}

TEST_CASE("healthz and readyz and metrics answer without an API key", "[tokend]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  CHECK(anon.request("GET", "/healthz").status == 200);
  CHECK(anon.request("GET", "/readyz").status == 200);
  env.issue(R"({"user_id":"jack"})");
  env.issue(R"({"user_id":"jack","ttl":5})");
  // Requests are counted once answered, so wait for the last one to land.
  support::HttpResponse m;
  CHECK(support::wait_until(
      [&] {
        m = anon.request("GET", "/metrics");
        return m.body.find(R"(status="400"} 1)") != std::string::npos;
      },
      2s, 10ms));
  REQUIRE(m.status == 200);
  CHECK(m.body.find("shortcred_tokens_issued_total 1") != std::string::npos);
  CHECK(m.body.find(
            R"(shortcred_http_requests_total{method="POST",route="/v2/tokens",status="201"} 1)") !=
        std::string::npos);
  CHECK(m.body.find(
            R"(shortcred_http_requests_total{method="POST",route="/v2/tokens",status="400"} 1)") !=
        std::string::npos);
  CHECK(m.body.find("shortcred_http_request_duration_seconds_bucket{route=\"/v2/tokens\"") !=
        std::string::npos);
  CHECK(m.body.find("shortcred_redis_errors_total 0") != std::string::npos);
}

TEST_CASE("the access log has one line per request with route status org key and token",
          "[tokend]") {
  TokendEnv env({"--log-format", "json"});
  const std::string id = parse_json(env.issue(R"({"user_id":"kim"})").body)["token_id"].asString();
  env.call("GET", "/v2/tokens/" + std::string("sk_") + "x");  // a path with junk: 405
  env.proc.stop();
  const std::string log = env.log();
  CHECK(log.find("\"route\":\"/v2/tokens\"") != std::string::npos);
  CHECK(log.find("\"status\":201") != std::string::npos);
  CHECK(log.find("\"token_id\":\"" + id + "\"") != std::string::npos);
  CHECK(log.find("\"key_id\":\"" + env.key_id + "\"") != std::string::npos);
  CHECK(log.find("\"org\":\"org_test\"") != std::string::npos);
  CHECK(log.find("Authorization") == std::string::npos);
}

TEST_CASE("revocations are counted in shortcred_tokens_revoked_total", "[tokend]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  const auto id = [&] {
    return parse_json(env.issue(R"({"user_id":"lena"})").body)["token_id"].asString();
  };
  REQUIRE(env.call("DELETE", "/v2/tokens/" + id()).status == 204);
  id();
  id();
  REQUIRE(parse_json(env.call("DELETE", "/v2/users/lena/tokens").body)["revoked"].asInt() == 2);
  const std::string old = id();
  REQUIRE(env.call("POST", "/v2/tokens/" + old + "/refresh", R"({"revoke_old":true})").status ==
          201);
  CHECK(env.call("DELETE", "/v2/tokens/" + old).status == 404);  // not counted
  const auto m = anon.request("GET", "/metrics").body;
  CHECK(m.find("\nshortcred_tokens_revoked_total 4\n") != std::string::npos);
  CHECK(m.find("\nshortcred_tokens_issued_total 5\n") != std::string::npos);
}

TEST_CASE("the access log has exactly one line per request with method route status latency",
          "[tokend]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  const std::string id = parse_json(env.issue(R"({"user_id":"max"})").body)["token_id"].asString();
  env.call("GET", "/v2/tokens?user_id=max");
  env.call("DELETE", "/v2/tokens/" + id);
  anon.request("GET", "/healthz");
  anon.request("POST", "/v2/tokens", "{}");       // 401
  anon.request("PUT", "/v2/tokens", "{}");        // 405
  anon.request("GET", "/nowhere");                // 404
  env.proc.stop();
  // <ts> <method> <route> <status> <latency>ms org=… key=… token=… remote=…
  static const std::regex kLine(
      R"(^\S+Z (\S+) (\S+) (\d{3}) \d+\.\d{3}ms org=\S+ key=\S+ token=\S+ remote=\S+$)");
  std::vector<std::string> seen;
  std::istringstream in(env.log());
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_match(line, m, kLine)) seen.push_back(m[1].str() + " " + m[2].str() + " " + m[3].str());
  }
  std::vector<std::string> expected{
      "POST /v2/tokens 201",      "GET /v2/tokens 200", "DELETE /v2/tokens/{id} 204",
      "GET /healthz 200",         "POST /v2/tokens 401", "PUT /v2/tokens 405",
      "GET unmatched 404"};
  // httplib logs after the response is written, and the two clients use two
  // connections (two workers): the next request can be logged before the
  // previous one's line. One line per request is the property; order is not.
  std::sort(seen.begin(), seen.end());
  std::sort(expected.begin(), expected.end());
  CHECK(seen == expected);
}
