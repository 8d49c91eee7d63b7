// The one Redis connection string: single server, unix socket, TLS, Sentinel
// and Cluster forms, their TLS options and the errors that name what is wrong.
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
    std::string error;
    CHECK(parse_redis_url(url, ep, error) == Errc::bad_url);
    CHECK(ep.host == "untouched");
    CHECK_FALSE(error.empty());
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

namespace {

std::string parse_error(const std::string& url) {
  RedisEndpoint ep;
  ep.host = "untouched";
  std::string error;
  INFO(url);
  CHECK(parse_redis_url(url, ep, error) == Errc::bad_url);
  CHECK(ep.host == "untouched");
  return error;
}

}  // namespace

TEST_CASE("rediss:// is one server over TLS with its options", "[redis_url]") {
  auto ep = parse_ok("rediss://u:pw@redis.example.com/2");
  CHECK(ep.kind == RedisEndpoint::Kind::single);
  CHECK(ep.tls.enabled);
  CHECK(ep.tls.verify);
  CHECK(ep.host == "redis.example.com");
  CHECK(ep.port == 6379);
  CHECK(ep.db == 2);
  CHECK(ep.tls.ca_file.empty());
  CHECK(ep.tls.server_name.empty());

  ep = parse_ok(
      "rediss://h:6380?ca_file=/etc/ca%20dir/ca.pem&cert_file=/c.pem&key_file=/k.pem"
      "&server_name=redis.internal&verify=full");
  CHECK(ep.port == 6380);
  CHECK(ep.tls.ca_file == "/etc/ca dir/ca.pem");
  CHECK(ep.tls.cert_file == "/c.pem");
  CHECK(ep.tls.key_file == "/k.pem");
  CHECK(ep.tls.server_name == "redis.internal");
  CHECK(ep.tls.verify);

  ep = parse_ok("rediss://127.0.0.1:7000/0?verify=none");
  CHECK_FALSE(ep.tls.verify);
  CHECK(parse_ok("rediss://localhost?verify=none").tls.verify == false);
  CHECK(parse_ok("rediss://[::1]?verify=none").tls.verify == false);
  CHECK_FALSE(parse_ok("redis://h").tls.enabled);
}

TEST_CASE("Sentinel URLs list the sentinels, the master name and sentinel credentials",
          "[redis_url]") {
  auto ep = parse_ok(
      "redis-sentinel://app:pw@s1,s2:26380,[::1]:5/3?master=mymaster&sentinel_user=sen"
      "&sentinel_password=s%26p");
  CHECK(ep.kind == RedisEndpoint::Kind::sentinel);
  CHECK_FALSE(ep.tls.enabled);
  REQUIRE(ep.nodes.size() == 3);
  CHECK(ep.nodes[0].host == "s1");
  CHECK(ep.nodes[0].port == kDefaultSentinelPort);
  CHECK(ep.nodes[1].host == "s2");
  CHECK(ep.nodes[1].port == 26380);
  CHECK(ep.nodes[2].host == "::1");
  CHECK(ep.nodes[2].port == 5);
  CHECK(ep.master_name == "mymaster");
  CHECK(ep.sentinel_username == "sen");
  CHECK(ep.sentinel_password == "s&p");
  CHECK(ep.username == "app");
  CHECK(ep.password == "pw");
  CHECK(ep.db == 3);

  ep = parse_ok("rediss-sentinel://s1?master=m&ca_file=/ca.pem");
  CHECK(ep.kind == RedisEndpoint::Kind::sentinel);
  CHECK(ep.tls.enabled);
  CHECK(ep.tls.ca_file == "/ca.pem");
  CHECK(ep.db == 0);
}

TEST_CASE("Cluster URLs list the seeds and have database 0", "[redis_url]") {
  auto ep = parse_ok("redis-cluster://u:p@n1,n2:7001,n3:7002");
  CHECK(ep.kind == RedisEndpoint::Kind::cluster);
  REQUIRE(ep.nodes.size() == 3);
  CHECK(ep.nodes[0].port == 6379);
  CHECK(ep.nodes[2].host == "n3");
  CHECK(ep.nodes[2].port == 7002);
  CHECK(ep.username == "u");
  CHECK(parse_ok("redis-cluster://n1/0").db == 0);
  ep = parse_ok("rediss-cluster://127.0.0.1:7000,127.0.0.2:7001?verify=none");
  CHECK(ep.tls.enabled);
  CHECK_FALSE(ep.tls.verify);
  CHECK(ep.nodes.size() == 2);
}

TEST_CASE("at() and sentinel_at() derive single-node endpoints", "[redis_url]") {
  const auto ep = parse_ok(
      "rediss-sentinel://app:pw@s1,s2/4?master=m&sentinel_user=su&sentinel_password=sp"
      "&ca_file=/ca&server_name=redis.internal");
  const auto data = ep.at({"10.0.0.9", 6390});
  CHECK(data.kind == RedisEndpoint::Kind::single);
  CHECK(data.host == "10.0.0.9");
  CHECK(data.port == 6390);
  CHECK(data.username == "app");
  CHECK(data.password == "pw");
  CHECK(data.db == 4);
  CHECK(data.tls.enabled);
  CHECK(data.tls.ca_file == "/ca");
  CHECK(data.tls.server_name == "redis.internal");
  CHECK(data.nodes.empty());
  const auto sentinel = ep.sentinel_at(ep.nodes[1]);
  CHECK(sentinel.kind == RedisEndpoint::Kind::single);
  CHECK(sentinel.host == "s2");
  CHECK(sentinel.port == kDefaultSentinelPort);
  CHECK(sentinel.username == "su");
  CHECK(sentinel.password == "sp");
  CHECK(sentinel.db == 0);
  CHECK(sentinel.tls.enabled);
}

TEST_CASE("errors name the part of the URL that is wrong", "[redis_url]") {
  struct Case {
    const char* url;
    const char* says;
  };
  const Case cases[] = {
      {"http://h", "unknown scheme"},
      {"rediss://", "host is missing"},
      {"rediss://h:0", "port of the host"},
      {"rediss://a,b", "takes one host"},
      {"redis://h?ca_file=/x", "TLS option 'ca_file' needs a TLS scheme (rediss://"},
      {"redis-sentinel://h?master=m&verify=none",
       "TLS option 'verify' needs a TLS scheme (rediss-sentinel://"},
      {"redis-cluster://h?server_name=x", "(rediss-cluster://"},
      {"rediss://h?verfy=full", "unknown query parameter 'verfy'"},
      {"rediss://h?verify=yes", "verify must be full or none"},
      {"rediss://h?ca_file=", "'ca_file' needs a value"},
      {"rediss://h?ca_file", "'ca_file' needs a value"},
      {"rediss://h?ca_file=/a&ca_file=/b", "'ca_file' is given twice"},
      {"rediss://h?ca_file=%zz", "'ca_file' has a bad percent-escape"},
      {"rediss://h?=x", "has no name"},
      {"rediss://h?cert_file=/c", "cert_file needs key_file"},
      {"rediss://h?key_file=/k", "key_file needs cert_file"},
      {"rediss://redis.example.com?verify=none", "verify=none is refused: the host is not a loopback"},
      {"rediss://10.0.0.1?verify=none", "not a loopback"},
      {"rediss://127.0.0.256?verify=none", "not a loopback"},
      {"rediss-sentinel://127.0.0.1,10.1.1.1?master=m&verify=none", "host #2 is not a loopback"},
      {"redis-sentinel://s1", "needs ?master=NAME"},
      {"redis-sentinel://s1?master=a%20b", "master name contains a space"},
      {"redis-sentinel://s1?master=m&sentinel_user=u", "sentinel_user needs sentinel_password"},
      {"redis-sentinel://s1,,s3?master=m", "host #2 is empty"},
      {"redis-sentinel://s1,s2:99999?master=m", "port of host #2"},
      {"redis-sentinel://s1/x?master=m", "database"},
      {"redis://h?master=m", "'master' is for Sentinel URLs only"},
      {"redis-cluster://n1/1", "database 0 only"},
      {"redis-cluster://n1,[::1?x", "host #2 lacks its closing ']'"},
      {"redis-cluster://n1,ho%st", "host #2 is not a valid host name"},
      {"unix://rel", "absolute socket path"},
      {"unix:///s?x=1", "only the query parameter db"},
  };
  for (const auto& c : cases) {
    const auto error = parse_error(c.url);
    INFO(c.url << " -> " << error);
    CHECK(error.find(c.says) != std::string::npos);
  }
}

TEST_CASE("errors never echo a password, even a mis-split one", "[redis_url]") {
  for (const char* url : {"rediss://u:sekr3t?x@host", "redis://u:sekr3t/x@host",
                          "redis-sentinel://u:sekr3t@h?master=m&sentinel_password=sekr3t&y=1",
                          "rediss://u:sekr3t@h:99999", "redis://:sekr3t@"}) {
    const auto error = parse_error(url);
    INFO(url << " -> " << error);
    CHECK_FALSE(error.empty());
    CHECK(error.find("sekr3t") == std::string::npos);
  }
}

TEST_CASE("redacted() of every form hides both passwords and parses back", "[redis_url]") {
  const auto s = parse_ok(
      "rediss-sentinel://app:pw1@s1,s2:26380/2?master=mym&sentinel_user=su"
      "&sentinel_password=pw2&ca_file=/ca&server_name=sn");
  const auto text = s.redacted();
  CHECK(text ==
        "rediss-sentinel://app:***@s1:26379,s2:26380/2?master=mym&sentinel_user=su"
        "&sentinel_password=***&ca_file=/ca&server_name=sn");
  CHECK(text.find("pw1") == std::string::npos);
  CHECK(text.find("pw2") == std::string::npos);
  CHECK(parse_ok("rediss://127.0.0.1?verify=none&server_name=x").redacted() ==
        "rediss://127.0.0.1:6379/0?server_name=x&verify=none");
  CHECK(parse_ok("rediss://localhost?verify=none").redacted() ==
        "rediss://localhost:6379/0?verify=none");
  CHECK(parse_ok("redis-cluster://:pw@a,b:7").redacted() == "redis-cluster://:***@a:6379,b:7");

  for (const char* url : {"rediss://h:1/3?ca_file=/a%26b&cert_file=/c&key_file=/k",
                          "redis-sentinel://u@a,b:2/5?master=m",
                          "rediss-cluster://127.0.0.1:7000,[::1]:7001?verify=none"}) {
    CAPTURE(url);
    const auto ep = parse_ok(url);
    const auto again = parse_ok(ep.redacted());
    CHECK(again.redacted() == ep.redacted());
    CHECK(again.tls.ca_file == ep.tls.ca_file);
    CHECK(again.nodes.size() == ep.nodes.size());
  }
}

TEST_CASE("loopback hosts are localhost, 127.0.0.0/8 and ::1", "[redis_url]") {
  for (const char* h : {"localhost", "127.0.0.1", "127.1.2.3", "::1"}) {
    CAPTURE(h);
    CHECK(is_loopback_host(h));
  }
  for (const char* h : {"127.0.0", "127.0.0.1.5", "127.0.0.x", "128.0.0.1", "localhost.evil.com",
                        "127.0.0.1.evil.com", "::2", "10.0.0.1", ""}) {
    CAPTURE(h);
    CHECK_FALSE(is_loopback_host(h));
  }
}
