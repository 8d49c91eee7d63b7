// Hardening finding 1: a client id stays owned by its (org, user) while the
// broker may keep a session for it — offline, and across a restart with
// persistence — so another tenant's CONNECT with that id can neither wipe
// (clean start) nor resume (clean start 0) nor take over the session. The
// owner is recorded in Redis (shortcred:clientid:<id>), so every broker and
// a restarted one see it.
#include <catch2/catch.hpp>

#include <string>
#include <thread>

#include "broker_env.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

constexpr int kNotAuthorized = 0x87;

MqttClient::Options persistent(MqttClient::Options o) {
  o.clean_start = false;
  o.session_expiry_s = 3600;
  return o;
}

// Alice leaves a persistent session subscribed to her inbox.
void leave_session(BrokerEnv& e, const Cred& alice, const std::string& cid) {
  MqttClient cl(persistent(e.client(alice, cid)));
  REQUIRE(cl.connect(e.port()) == 0);
  REQUIRE(cl.subscribe("org_acme/users/alice/inbox", 1) == 1);
  cl.disconnect();
  REQUIRE(support::wait_until(
      [&] {
        auto r = e.redis_cmd({"GET", "shortcred:clientid:" + cid});
        return r && r->type == REDIS_REPLY_STRING;
      },
      3s));
}

// Every way Bob (another org, his own valid credential) could use the id.
void bob_is_refused(BrokerEnv& e, const Cred& bob, const std::string& cid) {
  MqttClient wipe(e.client(bob, cid));
  CHECK(wipe.connect(e.port()) == kNotAuthorized);
  MqttClient resume(persistent(e.client(bob, cid)));
  CHECK(resume.connect(e.port()) == kNotAuthorized);
  auto v311 = e.client(bob, cid, 4);
  v311.clean_start = false;
  MqttClient old_protocol(v311);
  CHECK(old_protocol.connect(e.port()) == 5);
}

// Alice resumes without subscribing again: her subscription is still there.
void alice_session_intact(BrokerEnv& e, const Cred& alice, const std::string& cid) {
  MqttClient back(persistent(e.client(alice, cid)));
  REQUIRE(back.connect(e.port()) == 0);
  auto obs = e.observer("org_acme/#");
  REQUIRE(obs->publish("org_acme/users/alice/inbox", "still yours", 1) == 0);
  CHECK(back.wait_message("org_acme/users/alice/inbox", "still yours"));
}

}  // namespace

TEST_CASE("another tenant can neither wipe, resume nor take over an offline persistent session",
          "[takeover]") {
  BrokerEnv e;
  const Cred alice = e.mint("org_acme", "alice");
  const Cred bob = e.mint("org_globex", "bob");
  leave_session(e, alice, "alice-laptop");
  bob_is_refused(e, bob, "alice-laptop");
  alice_session_intact(e, alice, "alice-laptop");
  // Another user of Alice's own org is another owner too.
  MqttClient colleague(e.client(e.mint("org_acme", "carl"), "alice-laptop"));
  CHECK(colleague.connect(e.port()) == kNotAuthorized);
}

TEST_CASE("the client id stays its owner's across a broker restart with persistence",
          "[takeover]") {
  support::TempDir store("shortcred-persist");
  BrokerEnv e("", "persistence true\npersistence_location " + store.path().string() + "/\n");
  const Cred alice = e.mint("org_acme", "alice");
  const Cred bob = e.mint("org_globex", "bob");
  leave_session(e, alice, "alice-phone");
  e.mosq->stop();  // SIGTERM: Mosquitto writes its persistence file
  REQUIRE(e.mosq->start());
  bob_is_refused(e, bob, "alice-phone");
  alice_session_intact(e, alice, "alice-phone");
}

TEST_CASE("with client_id_owner_ttl_s 0 no owner is recorded", "[takeover]") {
  BrokerEnv e("plugin_opt_client_id_owner_ttl_s 0\n");
  const Cred alice = e.mint("org_acme", "alice");
  auto cl = e.connect(alice, "alice-free");
  REQUIRE(cl->connected());
  cl->disconnect();
  // The record would be written within a tick or two of the disconnect.
  CHECK_FALSE(support::wait_until(
      [&] { return e.redis_cmd({"EXISTS", "shortcred:clientid:alice-free"})->integer == 1; },
      500ms));
}

TEST_CASE("a connection that outlives its owner TTL keeps the id recorded", "[takeover]") {
  BrokerEnv e("plugin_opt_client_id_owner_ttl_s 2\nplugin_opt_revalidate_interval_s 1\n");
  const Cred alice = e.mint("org_acme", "alice");
  auto cl = e.connect(alice, "alice-long");
  REQUIRE(cl->connected());
  const auto t0 = std::chrono::steady_clock::now();
  // Past two TTLs: renewed at revalidation, so never missing for long.
  while (std::chrono::steady_clock::now() - t0 < 5s) {
    CHECK(support::wait_until(
        [&] { return e.redis_cmd({"EXISTS", "shortcred:clientid:alice-long"})->integer == 1; },
        1500ms));
    std::this_thread::sleep_for(500ms);
  }
  MqttClient bob(e.client(e.mint("org_globex", "bob"), "alice-long"));
  CHECK(bob.connect(e.port()) == kNotAuthorized);
  CHECK(cl->connected());
}

namespace {

// INFO stats total_connections_received of the env's Redis (asked over the
// env's kept connection, so asking adds nothing).
long redis_connections_received(BrokerEnv& e) {
  const std::string n = support::info_field(e.rc, "stats", "total_connections_received");
  REQUIRE_FALSE(n.empty());
  return std::stol(n);
}

}  // namespace

// Each CONNECT posts an owner record and nudges the background thread
// (presence), so records are written one or two at a time: a connection
// per batch was a TCP (with rediss:// a TLS) setup per CONNECT.
TEST_CASE("owner records of many CONNECTs go over one kept Redis connection", "[takeover]") {
  BrokerEnv e;
  const Cred alice = e.mint("org_acme", "alice");
  auto first = e.connect(alice, "alice-0");
  REQUIRE(first->connected());
  REQUIRE(support::wait_until(
      [&] { return e.redis_cmd({"EXISTS", "shortcred:clientid:alice-0"})->integer == 1; }, 3s));
  const long before = redis_connections_received(e);
  constexpr int kConnects = 10;
  for (int i = 1; i <= kConnects; ++i) {
    const std::string cid = "alice-" + std::to_string(i);
    auto cl = e.connect(alice, cid);
    REQUIRE(cl->connected());
    REQUIRE(support::wait_until(
        [&] { return e.redis_cmd({"EXISTS", "shortcred:clientid:" + cid})->integer == 1; }, 3s));
  }
  // A revalidation pass (its own short-lived connection) may fall inside.
  CHECK(redis_connections_received(e) - before <= 1);
}

TEST_CASE("after a Redis restart the first owner record is written on a fresh connection",
          "[takeover]") {
  BrokerEnv e;
  auto before = e.connect(e.mint("org_acme", "alice"), "alice-before");
  REQUIRE(before->connected());
  REQUIRE(support::wait_until(
      [&] { return e.redis_cmd({"EXISTS", "shortcred:clientid:alice-before"})->integer == 1; }, 3s));
  // The kept connection is stale now: its first use fails, the retry works.
  e.redis->stop();
  e.redis->start();
  e.rc = e.redis->connect();
  const Cred alice = e.mint("org_acme", "alice");
  std::unique_ptr<MqttClient> after;
  REQUIRE(support::wait_until(
      [&] {
        after = e.connect(alice, "alice-after");
        return after->connected();
      },
      3s, 50ms));
  CHECK(support::wait_until(
      [&] { return e.redis_cmd({"EXISTS", "shortcred:clientid:alice-after"})->integer == 1; }, 3s));
  CHECK(e.mosq->log().find("could not record client-id owners") == std::string::npos);
}
