// Failed-auth throttling before Redis: a flood of well-formed but wrong
// CONNECTs from one address costs at most its failure bucket in Redis round
// trips, while a valid client at another address connects normally
// throughout; an unknown token id retried is refused from memory.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "broker_env.hpp"
#include "support/text.hpp"
#include "shortcred/secrets.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

constexpr int kNotAuthorized = 0x87;

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
  std::atomic<int> bad_done{0}, bad_refused{0};
  std::vector<std::thread> attackers;
  for (int t = 0; t < 4; ++t) {
    attackers.emplace_back([&, t] {
      for (int i = 0; i < 1250; ++i) {
        auto o = e.client(unknown_cred("org_thr", "mal"), "mal-" + std::to_string(t));
        o.bind_address = "127.0.0.1";
        MqttClient c(o);
        bad_refused += c.connect(e.port()) == kNotAuthorized ? 1 : 0;
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
  // (20/min) and one retry per expired block over the run.
  const std::uint64_t bad_lookups = (e.redis_calls("hgetall") - before) / 2 - good_ok;
  INFO("bad CONNECTs looked up in Redis: " << bad_lookups << "; good connects: " << good_ok);
  CHECK(bad_lookups <= 20 + 10);
  REQUIRE(support::wait_until([&] { return e.last_counter("auth/throttled/address") > 4000; }, 3s));
  // One rate-limited line, not one per attempt.
  const std::string log = e.mosq->log();
  CHECK(support::count_of(log, "refusing CONNECTs from memory") <= 2);
}

TEST_CASE("an unknown token id retried is refused from memory, a new valid credential is not",
          "[throttle]") {
  BrokerEnv e("plugin_opt_auth_fail_per_address 0\nplugin_opt_sys_interval 1\n");
  const Cred stale = unknown_cred("org_thr", "ida");
  const std::uint64_t before = e.redis_calls("hgetall");
  for (int i = 0; i < 20; ++i) {
    MqttClient c(e.client(stale, "ida-1"));
    CHECK(c.connect(e.port()) == kNotAuthorized);
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
    CHECK(c.connect(e.port()) == kNotAuthorized);
  }
  MqttClient owner(e.client(victim, "vera-1"));
  CHECK(owner.connect(e.port()) == 0);
}
