// Failed-auth throttling before Redis: a flood of well-formed but wrong
// CONNECTs from one address costs at most its failure bucket (and one lookup
// a second) in Redis round trips, while a valid client at another address
// connects normally throughout; a dead credential retried is refused from
// memory, without a Redis command or a log line, however long it goes on;
// and a valid new credential is never refused for it.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "broker_env.hpp"
#include "support/text.hpp"
#include "shortcred/secrets.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

// Refused, however this broker says it (0x87 / 0x86 / 0x9F / 5).
bool refused(int rc) { return rc > 0; }

// A credential of the right shape that Redis has never seen.
Cred unknown_cred(const std::string& org, const std::string& user) {
  const auto m = shortcred::mint_password(shortcred::openssl_random());
  return {org, user, m.id, user + "@" + org, m.full, 0};
}

}  // namespace

TEST_CASE("5000 bad CONNECTs from one address cost at most its failure bucket in Redis, and a valid "
          "client elsewhere connects throughout",
          "[throttle]") {
  BrokerEnv e("plugin_opt_auth_fail_per_address 20\nplugin_opt_sys_interval 1\n");
  const Cred good = e.mint("org_thr", "vic");
  const std::uint64_t before = e.redis_calls("hgetall");
  const auto started = std::chrono::steady_clock::now();
  std::atomic<int> bad_done{0}, bad_refused{0};
  std::vector<std::thread> attackers;
  for (int t = 0; t < 4; ++t) {
    attackers.emplace_back([&, t] {
      for (int i = 0; i < 1250; ++i) {
        auto o = e.client(unknown_cred("org_thr", "mal"), "mal-" + std::to_string(t));
        o.bind_address = "127.0.0.1";
        MqttClient c(o);
        bad_refused += refused(c.connect(e.port())) ? 1 : 0;
        ++bad_done;
      }
    });
  }
  int good_ok = 0, good_tries = 0;
  while (bad_done < 5000) {
    auto o = e.client(good, "vic-" + std::to_string(good_tries));
    o.bind_address = "127.0.0.2";
    MqttClient c(o);
    ++good_tries;
    good_ok += c.connect(e.port()) == 0 ? 1 : 0;
  }
  for (auto& a : attackers) a.join();
  CHECK(bad_refused == 5000);
  CHECK(good_ok == good_tries);
  // Two HGETALLs per looked-up CONNECT. The bucket's 20, plus the refill
  // (20/min) and one retry per expired block over the run, plus the one
  // lookup a second a throttled address keeps (a credential never refused
  // may be a valid new one).
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::steady_clock::now() - started).count();
  const std::uint64_t bad_lookups = (e.redis_calls("hgetall") - before) / 2 - good_ok;
  INFO("bad CONNECTs looked up in Redis: " << bad_lookups << " in " << seconds
                                           << " s; good connects: " << good_ok);
  CHECK(bad_lookups <= 20 + 10 + static_cast<std::uint64_t>(seconds) + 1);
  REQUIRE(support::wait_until([&] { return e.last_counter("auth/throttled/address") > 4000; }, 3s));
  // One rate-limited line, not one per attempt.
  const std::string log = e.mosq->log();
  CHECK(support::count_of(log, "refused from memory after repeated") <= 2);
}

TEST_CASE("an unknown token id retried is refused from memory, a new valid credential is not",
          "[throttle]") {
  BrokerEnv e("plugin_opt_auth_fail_per_address 0\nplugin_opt_sys_interval 1\n");
  const Cred stale = unknown_cred("org_thr", "ida");
  const std::uint64_t before = e.redis_calls("hgetall");
  for (int i = 0; i < 20; ++i) {
    MqttClient c(e.client(stale, "ida-1"));
    CHECK(refused(c.connect(e.port())));
  }
  CHECK(e.redis_calls("hgetall") - before == 2);  // the first attempt only
  const Cred fresh = e.mint("org_thr", "ida");
  MqttClient c(e.client(fresh, "ida-1"));
  CHECK(c.connect(e.port()) == 0);
  CHECK(support::wait_until([&] { return e.last_counter("auth/throttled/token") == 19; }, 3s));
}

// The hold is keyed by what was looked up (org and token id): a third party
// naming someone's (public) token id under another org holds nothing of theirs.
TEST_CASE("a token id refused under another org does not lock out its owner", "[throttle]") {
  BrokerEnv e("plugin_opt_auth_fail_per_address 0\n");
  const Cred victim = e.mint("org_thr", "vera");
  Cred forged = victim;
  forged.org = "org_nope";
  forged.username = "vera@org_nope";
  for (int i = 0; i < 5; ++i) {
    MqttClient c(e.client(forged, "mallory-" + std::to_string(i)));
    CHECK(refused(c.connect(e.port())));
  }
  MqttClient owner(e.client(victim, "vera-1"));
  CHECK(owner.connect(e.port()) == 0);
}

// Issue 12: a stock client whose credential expired reconnects every few
// seconds forever. Its first attempt is looked up and logged; every retry is
// refused from memory — no Redis command, no log line, a counter — for as
// long as it keeps retrying (beyond the old fixed 5 s hold), and a fresh
// credential from the very same address and client id connects at once.
TEST_CASE("a client retrying an expired credential costs one lookup and one log line, and its "
          "fresh credential connects at once",
          "[throttle]") {
  BrokerEnv e("plugin_opt_sys_interval 1\n");  // the defaults: 20 / 60 s
  MintOptions o = with_ttl(-1s);
  o.redis_expiry = false;  // still in Redis: only the plugin's expiry check refuses it
  const Cred expired = e.mint("org_loop", "lou", o);
  const std::uint64_t before = e.redis_calls("hgetall");
  constexpr int kAttempts = 13;  // every 500 ms: 6 s
  for (int i = 0; i < kAttempts; ++i) {
    if (i > 0) std::this_thread::sleep_for(500ms);  // the client's own retry period
    MqttClient c(e.client(expired, "lou-1"));
    CHECK(refused(c.connect(e.port())));
  }
  CHECK(e.redis_calls("hgetall") - before == 2);  // the first attempt's one round trip
  const std::string log = e.mosq->log();
  CHECK(support::count_of(log, "(token " + expired.token_id + ")") == 1);
  CHECK(support::count_of(log, "refused from memory after repeated") == 0);  // never throttled
  CHECK(support::wait_until(
      [&] { return e.last_counter("auth/throttled/token") == kAttempts - 1; }, 3s));
  const Cred fresh = e.mint("org_loop", "lou");
  MqttClient c(e.client(fresh, "lou-1"));
  CHECK(c.connect(e.port()) == 0);
}

// A throttled address still gets one lookup a second: a valid credential
// from it (a new user behind the same NAT, a refreshed one) gets in once the
// flood pauses, within that second, instead of waiting out a backoff of up
// to 60 s.
TEST_CASE("an address throttled after a flood of bad credentials admits a valid one within its "
          "1 s probe interval",
          "[throttle]") {
  BrokerEnv e("plugin_opt_auth_fail_per_address 5\nplugin_opt_sys_interval 1\n");
  auto from_nat = [&](const Cred& c, const std::string& id) {
    auto o = e.client(c, id);
    o.bind_address = "127.0.0.9";
    MqttClient cl(o);
    return cl.connect(e.port());
  };
  for (int i = 0; i < 30; ++i) {
    CHECK(refused(from_nat(unknown_cred("org_nat", "nat"), "nat-" + std::to_string(i))));
  }
  REQUIRE(support::wait_until([&] { return e.last_counter("auth/throttled/address") > 0; }, 3s));
  const Cred good = e.mint("org_nat", "neo");
  const auto asked = std::chrono::steady_clock::now();
  int attempts = 0;
  const bool in = support::wait_until(
      [&] {
        ++attempts;
        return from_nat(good, "neo-1") == 0;
      },
      2s, 100ms);
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - asked).count();
  INFO("admitted after " << waited << " ms, " << attempts << " attempt(s)");
  CHECK(in);
  // The 1 s probe interval, plus a retry period and connect latency of slack.
  CHECK(waited <= 1500);
  // One line when the address started being throttled, not one per attempt.
  CHECK(support::count_of(e.mosq->log(), "refused from memory after repeated") == 1);
}
