// The `redis_url` option: TCP and unix-socket endpoints.
#include <catch2/catch.hpp>
#include <string>

#include "shortcred/redis_url.hpp"

using namespace shortcred;

namespace {

RedisEndpoint parse_ok(const std::string& url) {
  RedisEndpoint ep;
  INFO(url);
  REQUIRE(parse_redis_url(url, ep) == Errc::ok);
  return ep;
}

}  // namespace

TEST_CASE("the default URL is localhost:6379 database 0", "[redis_url]") {
  const auto ep = parse_ok(std::string(kDefaultRedisUrl));
  CHECK(ep.host == "127.0.0.1");
  CHECK(ep.port == 6379);
  CHECK(ep.db == 0);
  CHECK(ep.unix_path.empty());
  CHECK(ep.username.empty());
  CHECK(ep.password.empty());
}

TEST_CASE("TCP URLs yield host, port, database and credentials", "[redis_url]") {
  struct Case {
    const char* url;
    const char* host;
    int port;
    int db;
    const char* user;
    const char* pass;
  };
  const Case cases[] = {
      {"redis://localhost", "localhost", 6379, 0, "", ""},
      {"redis://redis.internal:6380", "redis.internal", 6380, 0, "", ""},
      {"redis://10.0.0.5:7000/3", "10.0.0.5", 7000, 3, "", ""},
      {"redis://host/", "host", 6379, 0, "", ""},
      {"redis://host/15", "host", 6379, 15, "", ""},
      {"redis://user:pass@host:1/2", "host", 1, 2, "user", "pass"},
      {"redis://:secret@host", "host", 6379, 0, "", "secret"},
      {"redis://broker@host", "host", 6379, 0, "broker", ""},
      {"redis://u:p:q@host", "host", 6379, 0, "u", "p:q"},
      {"redis://u:p@ss@host", "host", 6379, 0, "u", "p@ss"},  // last `@` ends userinfo
      {"redis://u%40x:p%2F%3a%25@host", "host", 6379, 0, "u@x", "p/:%"},
      {"redis://[::1]:6390/1", "::1", 6390, 1, "", ""},
      {"redis://[2001:db8::7]", "2001:db8::7", 6379, 0, "", ""},
      {"redis://host:65535", "host", 65535, 0, "", ""},
  };
  for (const auto& c : cases) {
    const auto ep = parse_ok(c.url);
    CHECK(ep.host == c.host);
    CHECK(ep.port == c.port);
    CHECK(ep.db == c.db);
    CHECK(ep.username == c.user);
    CHECK(ep.password == c.pass);
    CHECK(ep.unix_path.empty());
  }
}

TEST_CASE("unix socket URLs yield the path and an optional database", "[redis_url]") {
  auto ep = parse_ok("unix:///run/redis/redis.sock");
  CHECK(ep.unix_path == "/run/redis/redis.sock");
  CHECK(ep.db == 0);
  ep = parse_ok("unix:///tmp/r.sock?db=4");
  CHECK(ep.unix_path == "/tmp/r.sock");
  CHECK(ep.db == 4);
}

TEST_CASE("bad schemes, ports, databases and hosts are refused", "[redis_url]") {
  const char* const rejects[] = {
      "",
      "localhost:6379",
      "http://localhost",
      "rediss://localhost",  // TLS is not supported
      "REDIS://localhost",
      "redis://",
      "redis://:6379",
      "redis://host:",
      "redis://host:0",
      "redis://host:65536",
      "redis://host:-1",
      "redis://host:+80",
      "redis://host:80x",
      "redis://host:99999999999999999999",
      "redis://host/x",
      "redis://host/-1",
      "redis://host/1/2",
      "redis://host/99999999999",
      "redis://ho st",
      "redis://host?db=1",
      "redis://user:pass@",
      "redis://u:%zz@host",
      "redis://u:%4@host",
      "redis://[::1",
      "redis://[::1]x",
      "redis://[::1]:",
      "redis://[]:6379",
      "redis://[zz::1]",
      "unix://",
      "unix://relative.sock",
      "unix:///",
      "unix:///tmp/r.sock?db=",
      "unix:///tmp/r.sock?db=x",
      "unix:///tmp/r.sock?database=1",
      "unix:///tmp/r.sock?db=1&x=2",
  };
  for (const char* url : rejects) {
    CAPTURE(url);
    RedisEndpoint ep;
    ep.host = "untouched";
    CHECK(parse_redis_url(url, ep) == Errc::bad_url);
    CHECK(ep.host == "untouched");
  }
}

TEST_CASE("redacted() shows everything but the password", "[redis_url]") {
  CHECK(parse_ok("redis://user:hunter2@host:6380/2").redacted() == "redis://user:***@host:6380/2");
  CHECK(parse_ok("redis://:hunter2@host").redacted() == "redis://:***@host:6379/0");
  CHECK(parse_ok("redis://broker@host").redacted() == "redis://broker@host:6379/0");
  CHECK(parse_ok("redis://host").redacted() == "redis://host:6379/0");
  CHECK(parse_ok("redis://[::1]:7000").redacted() == "redis://[::1]:7000/0");
  CHECK(parse_ok("unix:///tmp/r.sock").redacted() == "unix:///tmp/r.sock");
  CHECK(parse_ok("unix:///tmp/r.sock?db=3").redacted() == "unix:///tmp/r.sock?db=3");
  const auto ep = parse_ok("redis://u:p%40ss-w0rd@host");
  CHECK(ep.redacted().find("p@ss") == std::string::npos);
  CHECK(ep.redacted().find("w0rd") == std::string::npos);
}

TEST_CASE("a redacted URL without a password parses back to the same endpoint", "[redis_url]") {
  for (const char* url : {"redis://host:6380/2", "redis://u@h:1/0", "unix:///tmp/a.sock?db=9"}) {
    CAPTURE(url);
    const auto ep = parse_ok(url);
    const auto again = parse_ok(ep.redacted());
    CHECK(again.host == ep.host);
    CHECK(again.port == ep.port);
    CHECK(again.db == ep.db);
    CHECK(again.username == ep.username);
    CHECK(again.unix_path == ep.unix_path);
  }
}
