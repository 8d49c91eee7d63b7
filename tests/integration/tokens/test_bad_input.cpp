// Every bad input of issue 3 gets the status of DESIGN.md, a JSON error that
// names the field or rule, and changes nothing in Redis.
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdint>
#include <chrono>
#include <thread>

#include "support/wait.hpp"
#include "support/ports.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;

namespace {

struct Case {
  const char* name;
  std::string method, path, body;
  std::vector<std::string> headers;  // replaces the env's Authorization when it has one
  long status;
  const char* code;
  const char* mentions;  // the message names this field or rule ("" = no check)
};

// Well-formed UTF-8 (no overlongs, surrogates or truncated sequences).
bool valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    const std::size_t n = b < 0x80 ? 0 : (b & 0xE0) == 0xC0 ? 1 : (b & 0xF0) == 0xE0 ? 2
                        : (b & 0xF8) == 0xF0 ? 3 : 4;
    if (n == 4 || i + n >= s.size() + (n == 0 ? 1 : 0)) return false;
    std::uint32_t cp = n == 0 ? b : b & (0x3F >> n);
    for (std::size_t k = 1; k <= n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

std::string big_body() { return R"({"user_id":")" + std::string(17000, 'a') + R"("})"; }

}  // namespace

TEST_CASE("bad requests get their status and error code and change nothing in Redis",
          "[tokend]") {
  TokendEnv env;
  // A revoked key and an unknown (well-formed) key.
  auto [revoked_id, revoked_key] = env.make_key(env.org);
  REQUIRE(env.ctl({"apikey", "revoke", revoked_id}).exit_code == 0);
  const std::string unknown_key = "sk_0123456789abcdef_" + std::string(40, 'A');
  const std::string valid_id = "0123456789abcdef";
  const std::string bearer = "Authorization: Bearer " + env.api_key;
  const std::string json = "Content-Type: application/json";

  const std::vector<Case> cases{
      {"missing API key", "POST", "/v2/tokens", R"({"user_id":"a"})", {json}, 401,
       "missing_api_key", ""},
      {"garbled API key", "POST", "/v2/tokens", R"({"user_id":"a"})",
       {json, "Authorization: Bearer sk_nonsense"}, 401, "invalid_api_key", ""},
      {"unknown API key", "POST", "/v2/tokens", R"({"user_id":"a"})",
       {json, "Authorization: Bearer " + unknown_key}, 401, "invalid_api_key", ""},
      {"revoked API key", "POST", "/v2/tokens", R"({"user_id":"a"})",
       {json, "Authorization: Bearer " + revoked_key}, 401, "invalid_api_key", ""},
      {"Basic scheme", "POST", "/v2/tokens", R"({"user_id":"a"})",
       {json, "Authorization: Basic dXNlcjpwYXNz"}, 401, "invalid_auth_scheme", ""},
      {"not JSON", "POST", "/v2/tokens", "{user_id: a", {}, 400, "invalid_json", ""},
      {"trailing garbage", "POST", "/v2/tokens", R"({"user_id":"a"} x)", {}, 400, "invalid_json",
       ""},
      {"deeply nested JSON", "POST", "/v2/tokens",
       std::string(5000, '[') + std::string(5000, ']'), {}, 400, "invalid_json", ""},
      {"deeply nested field", "POST", "/v2/tokens",
       R"({"user_id":"a","x":)" + std::string(5000, '[') + std::string(5000, ']') + "}", {}, 400,
       "invalid_json", ""},
      {"duplicate keys", "POST", "/v2/tokens", R"({"user_id":"a","user_id":"b"})", {}, 400,
       "invalid_json", ""},
      {"JSON array", "POST", "/v2/tokens", R"(["user_id"])", {}, 400, "invalid_body", ""},
      {"JSON string", "POST", "/v2/tokens", R"("a")", {}, 400, "invalid_body", ""},
      {"user_id number", "POST", "/v2/tokens", R"({"user_id":5})", {}, 400, "invalid_type",
       "user_id"},
      {"unknown field ttl", "POST", "/v2/tokens", R"({"user_id":"a","ttl":60})", {}, 400,
       "unknown_field", "ttl"},
      {"user_id missing", "POST", "/v2/tokens", R"({"ttl_seconds":60})", {}, 422, "missing_field",
       "user_id"},
      {"user_id empty", "POST", "/v2/tokens", R"({"user_id":""})", {}, 422, "invalid_field",
       "user_id"},
      {"user_id too long", "POST", "/v2/tokens", R"({"user_id":")" + std::string(129, 'u') + "\"}",
       {}, 422, "invalid_field", "user_id"},
      {"user_id with /", "POST", "/v2/tokens", R"({"user_id":"a/b"})", {}, 422, "invalid_field",
       "user_id"},
      {"user_id with +", "POST", "/v2/tokens", R"({"user_id":"a+b"})", {}, 422, "invalid_field",
       "user_id"},
      {"user_id with #", "POST", "/v2/tokens", R"({"user_id":"a#b"})", {}, 422, "invalid_field",
       "user_id"},
      {"user_id with $", "POST", "/v2/tokens", R"({"user_id":"a$b"})", {}, 422, "invalid_field",
       "user_id"},
      {"user_id with space", "POST", "/v2/tokens", R"({"user_id":"a b"})", {}, 422,
       "invalid_field", "user_id"},
      {"user_id with NUL", "POST", "/v2/tokens", R"({"user_id":"a\u0000b"})", {}, 422,
       "invalid_field", "user_id"},
      {"user_id invalid UTF-8", "POST", "/v2/tokens", "{\"user_id\":\"a\xff\xfe\"}", {}, 422,
       "invalid_field", "user_id"},
      {"ttl negative", "POST", "/v2/tokens", R"({"user_id":"a","ttl_seconds":-60})", {}, 422,
       "invalid_field", "ttl_seconds"},
      {"ttl zero", "POST", "/v2/tokens", R"({"user_id":"a","ttl_seconds":0})", {}, 422,
       "invalid_field", "ttl_seconds"},
      {"ttl below 60", "POST", "/v2/tokens", R"({"user_id":"a","ttl_seconds":59})", {}, 422,
       "invalid_field", "ttl_seconds"},
      {"ttl fractional", "POST", "/v2/tokens", R"({"user_id":"a","ttl_seconds":60.5})", {}, 422,
       "invalid_field", "ttl_seconds"},
      {"ttl string", "POST", "/v2/tokens", R"({"user_id":"a","ttl_seconds":"60"})", {}, 400,
       "invalid_type", "ttl_seconds"},
      {"ttl above max_ttl", "POST", "/v2/tokens", R"({"user_id":"a","ttl_seconds":86401})", {},
       422, "invalid_field", "ttl_seconds"},
      {"scope not an array", "POST", "/v2/tokens", R"({"user_id":"a","scope":"read a/#"})", {},
       400, "invalid_type", "scope"},
      {"scope element not a string", "POST", "/v2/tokens", R"({"user_id":"a","scope":[1]})", {},
       400, "invalid_type", "scope[0]"},
      {"scope empty", "POST", "/v2/tokens", R"({"user_id":"a","scope":[]})", {}, 422,
       "invalid_field", "scope must hold at least one rule"},
      {"scope with 17 rules", "POST", "/v2/tokens",
       R"({"user_id":"a","scope":[)" + [] {
         std::string s;
         for (int i = 0; i < 17; ++i) s += std::string(i ? "," : "") + "\"read a/" + std::to_string(i) + "\"";
         return s;
       }() + "]}",
       {}, 422, "invalid_field", "scope"},
      {"scope rule with bad access", "POST", "/v2/tokens",
       R"({"user_id":"a","scope":["publish a/#"]})", {}, 422, "invalid_field", "scope[0]"},
      {"scope rule with deny", "POST", "/v2/tokens", R"({"user_id":"a","scope":["deny a/#"]})",
       {}, 422, "invalid_field", "scope[0]"},
      {"scope rule with invalid filter", "POST", "/v2/tokens",
       R"({"user_id":"a","scope":["read a/#/b"]})", {}, 422, "invalid_field", "scope[0]"},
      {"client_id with /", "POST", "/v2/tokens", R"({"user_id":"a","client_id":"x/y"})", {}, 422,
       "invalid_field", "names the part after the broker's client_id_prefix"},
      {"client_id with +", "POST", "/v2/tokens", R"({"user_id":"a","client_id":"x+"})", {}, 422,
       "invalid_field", "client_id"},
      {"client_id with #", "POST", "/v2/tokens", R"({"user_id":"a","client_id":"#"})", {}, 422,
       "invalid_field", "client_id"},
      {"client_id with NUL", "POST", "/v2/tokens", R"({"user_id":"a","client_id":"x\u0000"})",
       {}, 422, "invalid_field", "client_id"},
      {"client_id invalid UTF-8", "POST", "/v2/tokens",
       "{\"user_id\":\"a\",\"client_id\":\"\xc3\x28\"}", {}, 422, "invalid_field", "client_id"},
      {"scope rule with invalid UTF-8", "POST", "/v2/tokens",
       "{\"user_id\":\"a\",\"scope\":[\"read a/\xff\"]}", {}, 422, "invalid_field", "scope"},
      {"scope rule with a control byte", "POST", "/v2/tokens",
       "{\"user_id\":\"a\",\"scope\":[\"read a/#/\\u0001\"]}", {}, 422, "invalid_field", "scope"},
      {"unknown field with invalid UTF-8", "POST", "/v2/tokens",
       "{\"user_id\":\"a\",\"\xff\\u0007\":1}", {}, 400, "unknown_field", ""},
      {"body over 16 KiB", "POST", "/v2/tokens", big_body(), {}, 413, "payload_too_large", ""},
      {"wrong content type", "POST", "/v2/tokens", R"({"user_id":"a"})",
       {bearer, "Content-Type: text/plain"}, 415, "unsupported_media_type", ""},
      {"form content type", "POST", "/v2/tokens", "user_id=a",
       {bearer, "Content-Type: application/x-www-form-urlencoded"}, 415,
       "unsupported_media_type", ""},
      {"unknown route", "GET", "/v2/nothing", "", {}, 404, "not_found", ""},
      {"unknown version", "POST", "/v1/tokens", R"({"user_id":"a"})", {}, 404, "not_found", ""},
      {"wrong method on /v2/tokens", "PUT", "/v2/tokens", "", {}, 405, "method_not_allowed", ""},
      {"wrong method on a token", "GET", "/v2/tokens/" + valid_id, "", {}, 405,
       "method_not_allowed", ""},
      {"wrong method on healthz", "POST", "/healthz", "", {}, 405, "method_not_allowed", ""},
      {"revoke an unknown token", "DELETE", "/v2/tokens/" + valid_id, "", {}, 404, "not_found",
       ""},
      {"revoke a malformed token id", "DELETE", "/v2/tokens/tkn_abc", "", {}, 404, "not_found", ""},
      {"refresh an unknown token", "POST", "/v2/tokens/" + valid_id + "/refresh", "", {}, 404,
       "not_found", ""},
      {"refresh with unknown field", "POST", "/v2/tokens/" + valid_id + "/refresh",
       R"({"ttl":60})", {}, 400, "unknown_field", ""},
      {"list with a bad user_id", "GET", "/v2/tokens?user_id=a%2Fb", "", {}, 422, "invalid_field",
       "user_id"},
      {"list with an unknown parameter", "GET", "/v2/tokens?user=a", "", {}, 400, "unknown_field",
       ""},
      {"revoke-user with a bad user id", "DELETE", "/v2/users/a$b/tokens", "", {}, 422,
       "invalid_field", "user id"},
  };

  const auto before = env.snapshot();
  support::HttpClient http(env.base_url());
  for (const auto& c : cases) {
    INFO(c.name);
    bool has_auth = false;
    for (const auto& h : c.headers) has_auth = has_auth || h.rfind("Authorization:", 0) == 0;
    std::vector<std::string> headers = c.headers;
    if (!has_auth && std::string(c.name) != "missing API key") {
      headers.push_back(bearer);
    }
    const auto r = http.request(c.method, c.path, c.body, headers);
    CHECK(r.status == c.status);
    // Whatever the client sent, the error body is JSON text in valid UTF-8
    // without control characters.
    CHECK(valid_utf8(r.body));
    const auto v = parse_json(r.body);
    CHECK(v["error"]["code"].asString() == c.code);
    for (char ch : v["error"]["message"].asString()) CHECK(static_cast<unsigned char>(ch) >= 0x20);
    CHECK(!v["error"]["message"].asString().empty());
    if (*c.mentions != '\0') {
      CHECK(v["error"]["message"].asString().find(c.mentions) != std::string::npos);
    }
    if (c.status == 405) CHECK(r.headers.count("allow") == 1);
  }
  CHECK(env.snapshot() == before);
}

TEST_CASE("JSON bodies are strict: comments, a BOM, duplicate keys and leniencies are invalid_json",
          "[tokend][json]") {
  TokendEnv env;
  const std::string id = parse_json(env.issue(R"({"user_id":"j"})").body)["token_id"].asString();
  REQUIRE(!id.empty());
  const std::string refresh = "/v2/tokens/" + id + "/refresh";
  struct Body {
    const char* name;
    std::string path, body;
  };
  const std::vector<Body> bodies{
      // The attack: a comment hiding a scope minted an unscoped credential.
      {"block comment hiding a scope", "/v2/tokens", R"({"user_id":"a" /* ,"scope":["read #"] */})"},
      {"block comment before a key", "/v2/tokens", R"({/* c */"user_id":"a"})"},
      {"block comment at the root", "/v2/tokens", R"(/* c */{"user_id":"a"})"},
      {"trailing block comment", "/v2/tokens", R"({"user_id":"a"} /* c */)"},
      {"line comment", "/v2/tokens", "{\"user_id\":\"a\" // c\n}"},
      {"comment in an array", "/v2/tokens", R"({"user_id":"a","scope":["read a/#" /* x */]})"},
      {"byte order mark", "/v2/tokens", "\xEF\xBB\xBF{\"user_id\":\"a\"}"},
      {"duplicate keys", "/v2/tokens", R"({"user_id":"a","user_id":"b"})"},
      {"duplicate scope", "/v2/tokens", R"({"user_id":"a","scope":["read a/#"],"scope":["read #"]})"},
      {"single quotes", "/v2/tokens", R"({'user_id':'a'})"},
      {"trailing comma", "/v2/tokens", R"({"user_id":"a",})"},
      {"trailing comma in an array", "/v2/tokens", R"({"user_id":"a","scope":["read a/#",]})"},
      {"dropped null placeholder", "/v2/tokens", R"({"user_id":"a","scope":["read a/#",,"read b"]})"},
      {"numeric key", "/v2/tokens", R"({1:"a","user_id":"a"})"},
      {"NaN", "/v2/tokens", R"({"user_id":"a","ttl_seconds":NaN})"},
      {"Infinity", "/v2/tokens", R"({"user_id":"a","ttl_seconds":Infinity})"},
      {"trailing data", "/v2/tokens", R"({"user_id":"a"}{"user_id":"b"})"},
      {"refresh with a comment", refresh, R"({"revoke_old":true /* x */})"},
      {"refresh with duplicate keys", refresh, R"({"revoke_old":false,"revoke_old":true})"},
      {"refresh with a BOM", refresh, "\xEF\xBB\xBF{}"},
  };
  const auto before = env.snapshot();
  for (const auto& b : bodies) {
    INFO(b.name);
    const auto r = env.call("POST", b.path, b.body);
    CHECK(r.status == 400);
    CHECK(parse_json(r.body)["error"]["code"].asString() == "invalid_json");
  }
  CHECK(env.snapshot() == before);

  // A '/' inside a string (also after an escaped quote) is fine.
  const auto ok = env.issue(R"({"user_id":"a","scope":["read %o/feeds/#"]})");
  CHECK(ok.status == 201);
  CHECK(parse_json(ok.body)["scope"][0].asString() == "read %o/feeds/#");
  const auto quoted = env.issue(R"({"user_id":"a","client_id":"q\"/x"})");
  CHECK(quoted.status == 422);  // the client_id rule, not a JSON error
  CHECK(parse_json(quoted.body)["error"]["message"].asString().find("client_id") !=
        std::string::npos);
}

TEST_CASE("a disabled org cannot issue", "[tokend]") {
  TokendEnv env;
  REQUIRE(env.ctl({"org", "disable", env.org}).exit_code == 0);
  const auto before = env.snapshot();
  const auto r = env.issue(R"({"user_id":"a"})");
  CHECK(r.status == 403);
  CHECK(parse_json(r.body)["error"]["code"].asString() == "org_disabled");
  CHECK(env.snapshot() == before);
}

TEST_CASE("an org whose stored disabled is unrecognised fails closed, and tokend logs it",
          "[tokend]") {
  TokendEnv env;
  auto c = env.redis.connect();
  for (const char* v : {"01", "disable", "2"}) {
    CAPTURE(v);
    c.command({"HSET", "shortcred:{" + env.org + "}:org", "disabled", v});
    const auto before = env.snapshot();
    const auto r = env.issue(R"({"user_id":"a"})");
    CHECK(r.status == 403);
    CHECK(parse_json(r.body)["error"]["code"].asString() == "org_disabled");
    CHECK(env.snapshot() == before);
  }
  CHECK(support::wait_until(
      [&] {
        return env.log().find("shortcred-tokend: organisation " + env.org +
                              " is disabled: its field disabled holds an unrecognised value") !=
               std::string::npos;
      },
      2s));
  // The usual spellings are read as meant, without a log line.
  c.command({"HSET", "shortcred:{" + env.org + "}:org", "disabled", "false"});
  CHECK(env.issue(R"({"user_id":"a"})").status == 201);
  c.command({"HSET", "shortcred:{" + env.org + "}:org", "disabled", "Yes"});
  CHECK(env.issue(R"({"user_id":"a"})").status == 403);
}

TEST_CASE("an org that no longer exists cannot issue", "[tokend]") {
  TokendEnv env;
  auto c = env.redis.connect();
  REQUIRE(c.command({"DEL", "shortcred:{" + env.org + "}:org"})->integer == 1);
  const auto before = env.snapshot();
  const auto r = env.issue(R"({"user_id":"a"})");
  CHECK(r.status == 404);
  CHECK(parse_json(r.body)["error"]["code"].asString() == "org_not_found");
  CHECK(env.snapshot() == before);
}

TEST_CASE("an org max_ttl beyond 365 days is capped, so expiry arithmetic cannot overflow",
          "[tokend]") {
  TokendEnv env;
  auto c = env.redis.connect();
  c.command({"HSET", "shortcred:{" + env.org + "}:org", "max_ttl", "9223372036854775807"});
  const auto before = env.snapshot();
  const auto r = env.issue(R"({"user_id":"a","ttl_seconds":9223372036854775})");
  CHECK(r.status == 422);
  CHECK(parse_json(r.body)["error"]["message"].asString().find("31536000") != std::string::npos);
  CHECK(env.snapshot() == before);
  const auto ok = env.issue(R"({"user_id":"a","ttl_seconds":31536000})");
  CHECK(ok.status == 201);
  CHECK(parse_json(ok.body)["expires_in"].asInt64() == 31536000);
}

TEST_CASE("a Redis error reply during the API key check is a 500, never a 401", "[tokend]") {
  TokendEnv env;
  auto c = env.redis.connect();
  const std::string key = "shortcred:apikey:" + env.key_id;
  REQUIRE(c.command({"DEL", key})->integer == 1);
  REQUIRE(c.command({"SET", key, "not a hash"}));  // HGETALL now answers WRONGTYPE
  const auto before = env.snapshot();
  const auto r = env.issue(R"({"user_id":"a"})");
  // About the data, not an outage (LOADING, BUSY… are 503: test_redis_errors).
  CHECK(r.status == 500);
  CHECK(parse_json(r.body)["error"]["code"].asString() == "internal_error");
  CHECK(env.snapshot() == before);
  support::HttpClient anon(env.base_url());
  CHECK(anon.request("GET", "/metrics").body.find("shortcred_redis_errors_total 1") !=
        std::string::npos);
}

TEST_CASE("issuance over --issue-rate per API key gets 429 with Retry-After",
          "[tokend]") {
  TokendEnv env({"--issue-rate", "0.5"});  // burst 1, then one every 2 s
  CHECK(env.issue(R"({"user_id":"a"})").status == 201);
  const auto r = env.issue(R"({"user_id":"a"})");
  CHECK(r.status == 429);
  CHECK(parse_json(r.body)["error"]["code"].asString() == "rate_limited");
  CHECK(r.headers.count("retry-after") == 1);
  if (r.headers.count("retry-after")) CHECK(r.headers.at("retry-after") == "2");
  // Another key has its own bucket.
  auto [id2, key2] = env.make_key(env.org);
  support::HttpClient other(env.base_url());
  CHECK(other.request("POST", "/v2/tokens", R"({"user_id":"a"})",
                      {"Authorization: Bearer " + key2})
            .status == 201);
}

namespace {


// Reads until EOF; returns what arrived and how long it took.
std::pair<std::string, double> read_to_eof(int fd) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string got;
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return {got, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

}  // namespace

TEST_CASE("slow and idle connections time out", "[tokend]") {
  TokendEnv env;  // --read-timeout 1 --idle-timeout 2
  SECTION("a request head that never completes") {
    const int fd = support::connect_loopback(env.port, 5);
    REQUIRE(fd >= 0);
    const std::string partial = "POST /v2/tokens HTTP/1.1\r\nHost: x\r\n";
    send(fd, partial.data(), partial.size(), 0);
    const auto [got, secs] = read_to_eof(fd);
    close(fd);
    CHECK(secs < 4.0);
  }
  SECTION("a body that never completes") {
    const int fd = support::connect_loopback(env.port, 5);
    REQUIRE(fd >= 0);
    const std::string partial =
        "POST /v2/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 100\r\n\r\n{\"user_id\"";
    send(fd, partial.data(), partial.size(), 0);
    const auto [got, secs] = read_to_eof(fd);
    close(fd);
    CHECK(secs < 4.0);
    CHECK(got.find(" 201 ") == std::string::npos);
  }
  SECTION("an idle keep-alive connection") {
    const int fd = support::connect_loopback(env.port, 5);
    REQUIRE(fd >= 0);
    const auto [got, secs] = read_to_eof(fd);
    close(fd);
    CHECK(got.empty());
    CHECK(secs < 4.5);
  }
  SECTION("a keep-alive connection left idle after a request") {
    const int fd = support::connect_loopback(env.port, 5);
    REQUIRE(fd >= 0);
    const std::string req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, req.data(), req.size(), 0);
    const auto [got, secs] = read_to_eof(fd);
    close(fd);
    CHECK(got.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(secs > 1.5);  // kept alive for the idle timeout (2 s)…
    CHECK(secs < 4.5);  // …and then closed, freeing the worker thread
  }
}

namespace {

// Sends `head` + `body_part` in one write and reads until the server closes.
// `reset` reports a close by RST instead of FIN.
struct RawExchange {
  std::string got;
  double first_byte_s = -1, closed_s = -1;
  bool reset = false;
};

RawExchange raw_exchange(int port, const std::string& bytes) {
  const int fd = support::connect_loopback(port, 5);
  REQUIRE(fd >= 0);
  RawExchange x;
  const auto t0 = std::chrono::steady_clock::now();
  const auto since = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  REQUIRE(send(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
  char buf[4096];
  for (;;) {
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (x.first_byte_s < 0) x.first_byte_s = since();
      x.got.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) x.closed_s = since();
    if (n < 0 && errno == ECONNRESET) x.reset = true, x.closed_s = since();
    break;  // n < 0 otherwise: our 5 s timeout, closed_s stays -1
  }
  close(fd);
  return x;
}

void check_413_and_close(const RawExchange& x) {
  INFO(x.got);
  CHECK(x.got.rfind("HTTP/1.1 413 ", 0) == 0);
  CHECK(x.first_byte_s >= 0);
  CHECK(x.first_byte_s < 1.0);
  CHECK(x.got.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(x.got.find("Keep-Alive") == std::string::npos);
  const auto split = x.got.find("\r\n\r\n");
  REQUIRE(split != std::string::npos);
  CHECK(parse_json(x.got.substr(split + 4))["error"]["code"].asString() == "payload_too_large");
  // Closed by the server (FIN: recv returned 0), well within --read-timeout 1,
  // and nothing after the one response: the unread body was not parsed.
  CHECK_FALSE(x.reset);
  CHECK(x.closed_s >= 0);
  CHECK(x.closed_s < 1.0);
  CHECK(x.got.find("HTTP/1.1", 1) == std::string::npos);
}

}  // namespace

TEST_CASE("a body over 16 KiB gets 413 at once and the connection is closed unread",
          "[tokend]") {
  TokendEnv env;  // --read-timeout 1
  const auto before = env.snapshot();
  const std::string head =
      "POST /v2/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Authorization: Bearer " + env.api_key + "\r\n";
  // The "body" holds a complete request: were it parsed after the 413, a
  // second response would follow.
  const std::string smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  SECTION("Content-Length announces 10 MB and only a few bytes follow") {
    check_413_and_close(
        raw_exchange(env.port, head + "Content-Length: 10000000\r\n\r\n" + smuggled));
  }
  SECTION("Expect: 100-continue gets the 413 instead of 100 Continue") {
    const auto x = raw_exchange(
        env.port, head + "Expect: 100-continue\r\nContent-Length: 10000000\r\n\r\n");
    CHECK(x.got.find("100 Continue") == std::string::npos);
    check_413_and_close(x);
  }
  SECTION("a chunked body is cut at 16 KiB") {
    std::string chunks;
    const std::string chunk = "1000\r\n" + std::string(0x1000, 'a') + "\r\n";
    for (int i = 0; i < 5; ++i) chunks += chunk;  // 20 KiB, no terminating chunk
    check_413_and_close(
        raw_exchange(env.port, head + "Transfer-Encoding: chunked\r\n\r\n" + chunks));
  }
  SECTION("a chunked body within 16 KiB is served") {
    const std::string json = R"({"user_id":"chunky"})";
    char size[16];
    std::snprintf(size, sizeof size, "%zx", json.size());
    const auto x = raw_exchange(env.port, head + "Transfer-Encoding: chunked\r\n"
                                                 "Connection: close\r\n\r\n" +
                                              size + "\r\n" + json + "\r\n0\r\n\r\n");
    CHECK(x.got.rfind("HTTP/1.1 201 ", 0) == 0);
    return;  // this one writes to Redis, as it should
  }
  SECTION("a GET with a body is refused and closed rather than read as the next request") {
    const auto x = raw_exchange(
        env.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                      std::to_string(smuggled.size()) + "\r\n\r\n" + smuggled);
    CHECK(x.got.rfind("HTTP/1.1 400 ", 0) == 0);
    CHECK(x.got.find("\r\nConnection: close\r\n") != std::string::npos);
    CHECK(x.closed_s >= 0);
    CHECK(x.got.find("HTTP/1.1", 1) == std::string::npos);
  }
  CHECK(env.snapshot() == before);
  // A new connection is served as usual.
  CHECK(env.call("GET", "/healthz").status == 200);
  CHECK(env.call("GET", "/v2/tokens").status == 200);
}
