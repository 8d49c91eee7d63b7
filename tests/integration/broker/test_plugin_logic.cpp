// Plugin logic without a broker: option parsing, the breaker, the session
// table's indexes (including the duplicate-client-id takeover order).
#include <catch2/catch.hpp>

#include <chrono>
#include <limits>

#include "auth_throttle.hpp"
#include "breaker.hpp"
#include "offline_sessions.hpp"
#include "options.hpp"
#include "sessions.hpp"
#include "shortcred/log_text.hpp"

using namespace shortcred;
using namespace shortcred::plugin;

TEST_CASE("defaults apply when no option is given", "[options]") {
  Options o;
  std::string err;
  REQUIRE(parse_options({}, o, err));
  CHECK(o.redis.port == 6379);
  CHECK(o.redis_timeout_ms == 50);
  CHECK(o.key_prefix == "shortcred:");
  CHECK(o.revalidate_interval_s == 30);
  CHECK(o.sys_interval_s == 10);
  CHECK(o.client_id_prefix_mode == PrefixMode::refuse);
  CHECK(o.delayed_auth);
  CHECK(o.auth_fail_per_address == 20);
  CHECK(o.auth_fail_token_s == 60);
}

TEST_CASE("client_id_prefix_mode and delayed_auth take their documented values", "[options]") {
  Options o;
  std::string err;
  REQUIRE(parse_options({{"client_id_prefix_mode", "assign"}, {"delayed_auth", "off"}}, o, err));
  CHECK(o.client_id_prefix_mode == PrefixMode::assign);
  CHECK_FALSE(o.delayed_auth);
  REQUIRE(parse_options({{"client_id_prefix_mode", "refuse"}, {"delayed_auth", "auto"}}, o, err));
  CHECK(o.client_id_prefix_mode == PrefixMode::refuse);
  CHECK(o.delayed_auth);
}

TEST_CASE("every invalid option value names the option and the value and the expectation",
          "[options]") {
  const std::vector<RawOption> bad = {
      {"redis_timeout_ms", "0"},      {"redis_timeout_ms", "abc"}, {"redis_timeout_ms", "-5"},
      {"revalidate_interval_s", "0"}, {"pub_rate", "-1"},          {"pub_burst", "1.5"},
      {"max_connections", "x"},       {"key_prefix", ""},          {"key_prefix", "a b"},
      {"acl_file", ""},               {"client_id_prefix", "%x/"}, {"client_id_prefix", "a+"},
      {"sys_interval", "-1"},         {"client_id_prefix_mode", "Assign"},
      {"delayed_auth", "on"},
  };
  for (const auto& opt : bad) {
    Options o;
    std::string err;
    INFO(opt.first << "=" << opt.second);
    CHECK_FALSE(parse_options({opt}, o, err));
    CHECK(err.find("plugin_opt_" + opt.first) != std::string::npos);
    CHECK(err.find("expected") != std::string::npos);
  }
}

TEST_CASE("a redis_url error never echoes the password", "[options]") {
  Options o;
  std::string err;
  CHECK_FALSE(parse_options({{"redis_url", "redis://u:s3cret@:bad"}}, o, err));
  CHECK(err.find("s3cret") == std::string::npos);
}

TEST_CASE("unknown options stop startup", "[options]") {
  Options o;
  std::string err;
  CHECK_FALSE(parse_options({{"redis_timout_ms", "50"}}, o, err));
  CHECK(err.find("redis_timout_ms") != std::string::npos);
}

TEST_CASE("client_id_prefix expands %o and %u", "[options]") {
  CHECK(expand_prefix("%o/%u/", "org_x", "alice") == "org_x/alice/");
  CHECK(expand_prefix("dev-", "o", "u") == "dev-");
}

TEST_CASE("one or two slow replies do not open the breaker, three in a row do", "[breaker]") {
  Breaker b;
  b.failure(1000);
  b.failure(1001);
  CHECK(b.allow(1002));
  CHECK_FALSE(b.open());
  b.success();  // the count starts again
  b.failure(1003);
  b.failure(1004);
  CHECK_FALSE(b.open());
  b.failure(1005);
  CHECK(b.open());
  CHECK_FALSE(b.allow(1006));
}

TEST_CASE("the breaker refuses while open and probes with growing backoff", "[breaker]") {
  Breaker b;
  CHECK(b.allow(0));
  for (int i = 0; i < Breaker::kFailuresToOpen; ++i) b.failure(1000);
  CHECK_FALSE(b.allow(1050));
  CHECK(b.allow(1100));
  b.failure(1100);  // probe failed: 200 ms
  CHECK_FALSE(b.allow(1299));
  CHECK(b.allow(1300));
  b.hint_recovered(1200);
  b.failure(2000);
  b.success();
  // One probe at a time; a probe whose answer is lost frees the way after
  // the longest backoff.
  for (int i = 0; i < Breaker::kFailuresToOpen; ++i) b.failure(3000);
  CHECK(b.allow(3100));
  CHECK_FALSE(b.allow(3101));
  CHECK_FALSE(b.allow(3100 + Breaker::kMaxBackoffMs - 1));
  CHECK(b.allow(3100 + Breaker::kMaxBackoffMs));
  b.success();
  CHECK(b.allow(2001));
  CHECK_FALSE(b.open());
}

namespace {
std::unique_ptr<Session> session(const void* client, std::string org, std::string user,
                                 std::string token, std::string cid) {
  auto s = std::make_unique<Session>();
  s->client = client;
  s->org = std::move(org);
  s->user = std::move(user);
  s->token_id = std::move(token);
  s->client_id = std::move(cid);
  return s;
}
}  // namespace

TEST_CASE("sessions are indexed by client and client id and token and user and org", "[sessions]") {
  SessionTable t;
  int a, b, c;
  t.insert(session(&a, "o1", "u1", "t1", "c1"));
  t.insert(session(&b, "o1", "u2", "t2", "c2"));
  t.insert(session(&c, "o2", "u1", "t1", "c3"));
  CHECK(t.size() == 3);
  CHECK(t.find(&a)->client_id == "c1");
  CHECK(t.find_by_client_id("c2")->client == &b);
  CHECK(t.by_token("o1", "t1").size() == 1);
  CHECK(t.by_user("o1", "u2").size() == 1);
  CHECK(t.by_org("o1").size() == 2);
  t.erase(&a);
  CHECK(t.find(&a) == nullptr);
  CHECK(t.by_org("o1").size() == 1);
  t.erase(&b);
  CHECK(t.by_org("o1").empty());
  // Unlimited buckets need no refill time: the idle org goes at the sweep.
  t.sweep_idle(std::numeric_limits<std::int64_t>::max() / 2);
  CHECK(t.find_org("o1") == nullptr);
  CHECK(t.find_org("o2") != nullptr);
}

TEST_CASE("org and user state outlive their last session until their buckets have refilled",
          "[sessions]") {
  SessionTable t;
  int a;
  OrgRecord r;
  r.pub_rate = 5;
  r.pub_burst = 10;  // refills in 2 s
  r.user_pub_rate = 1;  // burst 1: refills in 1 s
  t.insert(session(&a, "o1", "u1", "t1", "c1"));
  t.find_org("o1")->apply(r, {}, 0);
  t.erase(&a);
  const std::int64_t left = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::steady_clock::now().time_since_epoch())
                                .count();
  t.sweep_idle(left + 500'000'000);  // half a second later: still remembered
  REQUIRE(t.find_org("o1") != nullptr);
  CHECK(t.find_org("o1")->users.count("u1") == 1);
  t.drop_org_if_unused("o1");  // a refused CONNECT must not forget it either
  CHECK(t.find_org("o1") != nullptr);
  t.sweep_idle(left + 2'100'000'000);
  CHECK(t.find_org("o1") == nullptr);
}

TEST_CASE("a takeover keeps the new session indexed when the old one disconnects", "[sessions]") {
  SessionTable t;
  int old_ctx, new_ctx;
  t.insert(session(&old_ctx, "o", "u", "t1", "phone"));
  t.insert(session(&new_ctx, "o", "u", "t2", "phone"));  // authenticates first
  t.erase(&old_ctx);                                      // then the old DISCONNECT
  REQUIRE(t.find_by_client_id("phone") != nullptr);
  CHECK(t.find_by_client_id("phone")->client == &new_ctx);
  CHECK(t.find_org("o")->users.at("u").live == 1);
}

TEST_CASE("org limits come from the org hash or else the plugin defaults", "[sessions]") {
  OrgState o;
  OrgRecord r;
  r.pub_rate = 5;
  o.apply(r, {100, 200, 7}, 0);
  CHECK(o.pub_rate == 5);
  CHECK(o.max_connections == 7);
  CHECK(o.bucket.rate() == 5);
}

TEST_CASE("loggable keeps printable ASCII and escapes everything else", "[log]") {
  using shortcred::loggable;
  CHECK(loggable("dev-1/a b") == "dev-1/a b");
  CHECK(loggable("a\nb\r\x1b[31m") == "a\\x0ab\\x0d\\x1b[31m");
  CHECK(loggable("back\\slash") == "back\\\\slash");
  CHECK(loggable("caf\xc3\xa9") == "caf\\xc3\\xa9");
  CHECK(loggable(std::string_view("nul\0x", 5)) == "nul\\x00x");
  CHECK(loggable("") == "");
}

TEST_CASE("loggable cuts after 128 bytes and marks the cut", "[log]") {
  using shortcred::loggable;
  CHECK(loggable(std::string(128, 'a')) == std::string(128, 'a'));
  CHECK(loggable(std::string(65535, 'a')) == std::string(128, 'a') + "\u2026");
  CHECK(loggable("abcdef", 3) == "abc\u2026");
}

TEST_CASE("the failed-auth throttle blocks an address after its burst, with a growing backoff, "
          "and still lets one lookup a second through",
          "[throttle]") {
  AuthThrottle t(3, 5);
  const std::int64_t s = 1'000'000'000;
  using V = AuthThrottle::Verdict;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(t.check("10.0.0.1", "tok" + std::to_string(i), 0) == V::ask_redis);
    CHECK_FALSE(t.failed("10.0.0.1", "tok" + std::to_string(i), false, 0));
  }
  CHECK(t.check("10.0.0.1", "x", 0) == V::ask_redis);
  CHECK(t.failed("10.0.0.1", "x", false, 0));  // over the burst: throttled 1 s, and says so
  CHECK(t.check("10.0.0.1", "y", s / 2) == V::address_blocked);
  CHECK(t.check("10.0.0.2", "y", s / 2) == V::ask_redis);  // others unaffected
  CHECK(t.check("10.0.0.1", "y", s) == V::ask_redis);      // the block is over
  CHECK(t.failed("10.0.0.1", "y", false, s));              // still failing: 2 s
  CHECK(t.check("10.0.0.1", "z", s + s / 2) == V::address_blocked);
  // A second after the last lookup, one more goes to Redis (it may be a
  // valid new credential); the others of that second do not.
  CHECK(t.check("10.0.0.1", "z", 2 * s) == V::ask_redis);
  CHECK(t.check("10.0.0.1", "v", 2 * s) == V::address_blocked);
  CHECK_FALSE(t.failed("10.0.0.1", "z", false, 2 * s));  // failed: 4 s more, not a new block
  CHECK(t.check("10.0.0.1", "z", 2 * s + s / 2) == V::address_blocked);
  CHECK(t.check("10.0.0.1", "w", 3 * s) == V::ask_redis);
  t.succeeded("10.0.0.1");  // lifts the block…
  CHECK(t.check("10.0.0.1", "z", 3 * s) == V::ask_redis);
  CHECK(t.failed("10.0.0.1", "z", false, 3 * s));  // …not the drained bucket: blocked at once
  CHECK(t.check("10.0.0.1", "z", 3 * s + s / 2) == V::address_blocked);
  CHECK(t.addresses() == 1);  // (10.0.0.2 was never tracked)
  t.sweep(5 * s);  // bucket not full yet: remembered
  CHECK(t.addresses() == 1);
  t.sweep(200 * s);
  CHECK(t.addresses() == 0);
}

TEST_CASE("only unknown or expired credentials are held, per org, until token_hold_s after "
          "their last attempt",
          "[throttle]") {
  AuthThrottle t(0, 5);  // the address half off
  const std::int64_t s = 1'000'000'000;
  using V = AuthThrottle::Verdict;
  t.failed("a", "wrongsecret", false, 0);
  CHECK(t.check("b", "wrongsecret", 0) == V::ask_redis);
  t.failed("a", "no_such_org/gone", true, 0);
  CHECK(t.check("b", "no_such_org/gone", 4 * s) == V::token_refused);
  // Each retry renews the hold: a client looping on it never reaches Redis.
  CHECK(t.check("b", "no_such_org/gone", 8 * s) == V::token_refused);
  CHECK(t.check("b", "no_such_org/gone", 12 * s) == V::token_refused);
  // The same token id in its real org is another credential: not held.
  CHECK(t.check("b", "org_real/gone", 12 * s) == V::ask_redis);
  CHECK(t.check("b", "no_such_org/gone", 17 * s) == V::ask_redis);  // 5 s without a retry
  t.sweep(18 * s);
  CHECK(t.tokens() == 0);
  AuthThrottle off(0, 0);
  off.failed("a", "gone", true, 0);
  CHECK(off.check("a", "gone", 0) == V::ask_redis);
}

TEST_CASE("a held credential neither uses nor needs an address's lookups", "[throttle]") {
  AuthThrottle t(1, 60);
  const std::int64_t s = 1'000'000'000;
  using V = AuthThrottle::Verdict;
  t.failed("nat", "org/dead", true, 0);
  // Retried for a minute: all from memory, and the address is never throttled.
  for (int i = 1; i <= 60; ++i) CHECK(t.check("nat", "org/dead", i * s) == V::token_refused);
  CHECK(t.check("nat", "org/new", 60 * s) == V::ask_redis);
}

TEST_CASE("the failed-auth throttle remembers at most kMaxEntries token ids and addresses, and "
          "what it cannot remember goes to Redis",
          "[throttle]") {
  AuthThrottle t(1, 60);
  using V = AuthThrottle::Verdict;
  const std::size_t over = AuthThrottle::kMaxEntries + 100;
  for (std::size_t i = 0; i < over; ++i) {
    t.failed("10.1." + std::to_string(i), "org/dead" + std::to_string(i), true, 0);
  }
  CHECK(t.tokens() == AuthThrottle::kMaxEntries);
  CHECK(t.addresses() == AuthThrottle::kMaxEntries);
  const std::string last = std::to_string(over - 1);
  CHECK(t.check("10.1.0", "org/dead0", 1) == V::token_refused);          // remembered
  CHECK(t.check("10.1." + last, "org/dead" + last, 1) == V::ask_redis);  // beyond the cap
}

namespace {
OfflineSession offline_record(std::string cid, std::string org, std::string user,
                              std::string token, bool ext_auth, std::int64_t left_ms) {
  OfflineSession s;
  s.client_id = std::move(cid);
  s.org = std::move(org);
  s.user = std::move(user);
  s.token_id = std::move(token);
  s.secret_sha256 = "sha";
  s.ext_auth = ext_auth;
  s.left_ms = left_ms;
  return s;
}
}  // namespace

TEST_CASE("offline session records are found by their context and forgotten when it is reused",
          "[offline]") {
  OfflineSessions o;
  int a, b;
  o.left(&a, offline_record("cid-a", "org", "alice", "tok1", false, 1000));
  o.left(&b, offline_record("cid-b", "org", "bob", "tok2", true, 1000));
  REQUIRE(o.find(&a) != nullptr);
  CHECK(o.find(&a)->token_id == "tok1");
  o.forget_client(&a);  // a new CONNECT on that pointer
  CHECK(o.find(&a) == nullptr);
  o.forget_id("cid-b");  // the id connected again
  CHECK(o.find(&b) == nullptr);
  o.left(&a, offline_record("cid-a", "org", "alice", "tok1", false, 1000));
  o.left(&b, offline_record("cid-a", "org", "alice", "tok1", false, 2000));  // same id, new context
  CHECK(o.find(&a) == nullptr);
  CHECK(o.size() == 1);
  CHECK(o.evictions() == 0);
}

// The ACL path matches a record by its context AND its client id; a
// revocation marks only the named org's records denied.
TEST_CASE("offline records match their own client id, and revocations deny per org", "[offline]") {
  OfflineSessions o;
  int a, b, c;
  o.left(&a, offline_record("cid-a", "org1", "alice", "tok1", false, 1000));
  o.left(&b, offline_record("cid-b", "org1", "bob", "tok2", false, 1000));
  o.left(&c, offline_record("cid-c", "org2", "alice", "tok1", false, 1000));
  CHECK(o.find(&a, "cid-a") != nullptr);
  CHECK(o.find(&a, "cid-b") == nullptr);  // a reused pointer under another id
  const auto token1 = [](const OfflineSession& s) { return s.token_id == "tok1"; };
  CHECK(o.deny_if("org1", token1) == 1);
  CHECK(o.find(&a)->denied);
  CHECK_FALSE(o.find(&b)->denied);
  CHECK_FALSE(o.find(&c)->denied);  // same token id, other org
  CHECK(o.deny_if("org1", token1) == 0);  // already denied
  o.forget_client(&b);
  o.forget_id("cid-c");
  CHECK(o.deny_if("org2", [](const OfflineSession&) { return true; }) == 0);
  CHECK(o.deny_if("org1", [](const OfflineSession&) { return true; }) == 0);
  CHECK(o.size() == 1);
}
