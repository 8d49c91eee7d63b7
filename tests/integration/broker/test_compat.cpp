// What differs between the Mosquitto versions, asserted by behaviour so the
// same file runs against 2.0.11, 2.0.21 and 2.1 (SHORTCRED_MOSQUITTO): where
// CONNECT lookups run (2.1: off the broker thread, delayed basic auth), what a
// client that leaves during its lookup leaves behind, and
// client_id_prefix_mode assign (2.1's mosquitto_set_clientid).
#include <catch2/catch.hpp>

#include "broker_env.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {
constexpr int kNotAuthorized = 0x87;
constexpr int kBadCredential = 0x86;
}  // namespace

// The same outcomes and counters; only the CONNACK reason of a refusal
// decided from Redis's answer may differ (2.1's delayed answer can only say
// 0x87; README "What a client sees").
TEST_CASE("CONNECT outcomes are the same whether the lookup runs on or off the broker thread",
          "[compat]") {
  for (const char* mode : {"auto", "off"}) {
    INFO("delayed_auth " << mode);
    BrokerEnv e(std::string("plugin_opt_sys_interval 1\nplugin_opt_delayed_auth ") + mode + "\n");
    const bool delayed = e.delayed_auth();
    if (std::string_view(mode) == "off") CHECK_FALSE(delayed);
    const Cred ok = e.mint("org_cmp", "cora");
    Cred wrong = e.mint("org_cmp", "cora");
    wrong.password.back() = wrong.password.back() == 'a' ? 'b' : 'a';
    for (int protocol : {5, 4}) {
      // A different unknown token id each time (a retried one is refused
      // from memory, before any lookup).
      const Cred unknown{"org_cmp", "cora", "", "cora@org_cmp",
                         "tkn_000000000000000" + std::to_string(protocol) + "_" +
                             std::string(40, 'A'),
                         0};
      MqttClient good(e.client(ok, "cora-" + std::to_string(protocol), protocol));
      REQUIRE(good.connect(e.port()) == 0);
      CHECK(good.subscribe("org_cmp/users/cora/#") == 0);
      CHECK(good.subscribe("org_other/#") == (protocol == 5 ? kNotAuthorized : 0x80));
      MqttClient bad(e.client(wrong, "cora-bad", protocol));
      CHECK(bad.connect(e.port()) == e.refusal(kBadCredential, protocol, true));
      MqttClient none(e.client(unknown, "cora-none", protocol));
      CHECK(none.connect(e.port()) == e.refusal(kBadCredential, protocol, true));
    }
    REQUIRE(support::wait_until([&] { return e.last_counter("auth/ok") == 2; }, 5s));
    CHECK(e.last_counter("auth/failed/bad_secret") == 2);
    CHECK(e.last_counter("auth/failed/unknown_token") == 2);
    CHECK(e.last_counter("auth/delayed") == (delayed ? 6 : 0));
  }
}

TEST_CASE("a client that leaves during its CONNECT lookup leaves no session, and the id's holder keeps it",
          "[compat]") {
  // A lookup that waits for a frozen Redis (within the timeout) and then
  // succeeds, after its client has gone.
  BrokerEnv e("plugin_opt_sys_interval 1\nplugin_opt_redis_timeout_ms 3000\n");
  const Cred first = e.mint("org_cmp", "lena");
  const Cred second = e.mint("org_cmp", "lena");
  const Cred other = e.mint("org_cmp2", "mallory");
  auto holder = e.connect(first, "lena-phone");
  REQUIRE(holder->connected());
  {
    support::FrozenRedis frozen(*e.redis);
    MqttClient leaving(e.client(second, "lena-phone"));
    CHECK(leaving.connect(e.port(), 300ms) == MqttClient::kTimeout);
  }  // the client is gone; then Redis answers
  REQUIRE(support::wait_until(
      [&] {
        const long live = e.last_counter("sessions/live");
        return live == (holder->connected() ? 1 : 0);
      },
      10s));
  if (e.delayed_auth()) {
    // 2.1 freed the waiting context before the answer: nothing to complete.
    CHECK(support::wait_until([&] { return e.last_counter("auth/abandoned") == 1; }, 5s));
    CHECK(holder->connected());
  }
  if (holder->connected()) {
    // Still indexed as the id's holder: another tenant cannot take it.
    MqttClient thief(e.client(other, "lena-phone"));
    CHECK(thief.connect(e.port()) == kNotAuthorized);
    CHECK(holder->connected());
  }
  auto again = e.connect(second, "lena-phone");
  CHECK(again->connected());
  CHECK(e.mosq->running());
}

TEST_CASE("client_id_prefix_mode assign puts the prefix in front of the id on 2.1, and stops 2.0 at startup",
          "[compat]") {
  BrokerEnv e("plugin_opt_client_id_prefix %o/%u/\nplugin_opt_client_id_prefix_mode assign\n", "",
              false);
  if (!e.mosq->running()) {
    CHECK(e.mosq->log().find("client_id_prefix_mode assign needs Mosquitto 2.1") !=
          std::string::npos);
    return;
  }
  const Cred alice = e.mint("org_pfx", "alice");
  const Cred bob = e.mint("org_pfx", "bob");
  auto a = e.connect(alice, "app-1");
  REQUIRE(a->connected());
  CHECK(support::wait_until(
      [&] {
        return e.mosq->log().find("client 'org_pfx/alice/app-1' authenticated") != std::string::npos;
      },
      2s));
  // An id that already has the prefix stays as it is.
  auto a2 = e.connect(alice, "org_pfx/alice/app-2");
  REQUIRE(a2->connected());
  CHECK(e.mosq->log().find("'org_pfx/alice/org_pfx/alice/app-2'") == std::string::npos);
  // A binding names the client's own id: assigned `org_pfx/alice/app-9`, bound `app-9`.
  auto bound = e.connect(e.mint("org_pfx", "alice", with_binding("app-9")), "app-9");
  CHECK(bound->connected());
  // Bob naming Alice's full id gets his own prefix in front: no takeover.
  auto b = e.connect(bob, "org_pfx/alice/app-1");
  REQUIRE(b->connected());
  CHECK(a->connected());
  CHECK(b->subscribe("org_pfx/users/bob/#") == 0);
  CHECK(b->subscribe("org_pfx/users/alice/#") == kNotAuthorized);
}
