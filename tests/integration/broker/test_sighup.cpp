// SIGHUP with offline persistent sessions (hardening finding 0). Mosquitto
// re-runs BASIC_AUTH on SIGHUP for every client it holds, offline sessions
// included; refusing an offline one made 2.0.x disconnect it a second time
// (a double insertion into its session-expiry list: use-after-free), and
// accepting one created a session of ours that no DISCONNECT removed (a
// later kick then read a freed `struct mosquitto`). The broker runs under
// valgrind, so a memory error fails the test even where it does not crash.
#include <catch2/catch.hpp>

#include "broker_env.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

constexpr auto kSlow = std::chrono::seconds(45);  // valgrind is ~20× slower, more under load

MqttClient::Options persistent(MqttClient::Options o, int expiry_s) {
  o.clean_start = false;
  o.session_expiry_s = expiry_s;
  return o;
}

}  // namespace

TEST_CASE("SIGHUP leaves offline persistent sessions alone: no memory error, no stale session",
          "[sighup][valgrind]") {
  BrokerEnv e;
  e.mosq = std::make_unique<support::MosquittoServer>(
      e.config("plugin_opt_sys_interval 1\n", ""),
      std::vector<std::string>{"valgrind", "--error-exitcode=99",
                               "--log-file=" + (e.files / "vg.log").string()});
  REQUIRE(e.mosq->running());
  const int port = e.port();

  // Alice: v5, session expiry 5 s, revoked while offline.
  const Cred alice = e.mint("org_hup", "alice");
  // Bob: v5 and Dave: v3.1.1 clean_session=false, both valid while offline.
  const Cred bob = e.mint("org_hup", "bob");
  const Cred dave = e.mint("org_hup", "dave");
  // Carol: valid, connected with method `shortcred` (no password field).
  const Cred carol = e.mint("org_hup", "carol");

  auto go_offline = [&](MqttClient::Options o, const std::string& filter) {
    MqttClient cl(o);
    REQUIRE(cl.connect(port, kSlow) == 0);
    REQUIRE(cl.subscribe(filter, 1, kSlow) == 1);
    cl.disconnect();
  };
  go_offline(persistent(e.client(alice, "hup-alice"), 5), "org_hup/users/alice/#");
  go_offline(persistent(e.client(bob, "hup-bob"), 300), "org_hup/users/bob/#");
  go_offline(persistent(e.client(dave, "hup-dave", 4), 0), "org_hup/users/dave/#");
  auto carol_opts = persistent(e.client(carol, "hup-carol"), 300);
  carol_opts.password.reset();
  carol_opts.auth_method = "shortcred";
  carol_opts.auth_data = carol.password;
  go_offline(carol_opts, "org_hup/users/carol/#");
  e.redis_cmd({"DEL", "shortcred:{org_hup}:cred:" + alice.token_id});

  e.mosq->sighup();
  // The re-check skipped all four offline sessions and created none.
  REQUIRE(support::wait_until(
      [&] { return e.last_counter("auth/offline_skipped") == 4; }, kSlow));
  CHECK(e.last_counter("sessions/live") == 0);

  // Past Alice's session expiry, Mosquitto frees her session (where the
  // double insertion crashed); a second SIGHUP re-checks the others again.
  std::this_thread::sleep_for(std::chrono::seconds(6));
  e.mosq->sighup();
  REQUIRE(support::wait_until(
      [&] { return e.last_counter("auth/offline_skipped") == 7; }, kSlow));

  // The owners resume their sessions; no stale session stands in the way.
  MqttClient bob_again(persistent(e.client(bob, "hup-bob"), 300));
  REQUIRE(bob_again.connect(port, kSlow) == 0);
  MqttClient carol_again(carol_opts);
  REQUIRE(carol_again.connect(port, kSlow) == 0);
  MqttClient dave_again(persistent(e.client(dave, "hup-dave", 4), 0));
  REQUIRE(dave_again.connect(port, kSlow) == 0);
  REQUIRE(support::wait_until(
      [&] { return e.last_counter("sessions/live") == 3; }, kSlow));

  // A revocation kicks the live session, never a stale one.
  e.redis_cmd({"PUBLISH", "shortcred:revoked", "user org_hup bob"});
  CHECK(bob_again.wait_disconnected(kSlow));
  CHECK(carol_again.connected());

  const int status = e.mosq->stop();
  const std::string vg = support::read_file(e.files / "vg.log");
  INFO(vg);
  CHECK(WIFEXITED(status));
  CHECK(vg.find("ERROR SUMMARY: 0 errors") != std::string::npos);
}

// The re-check window ends before the broker next reads the network: a
// CONNECT arriving around a SIGHUP is checked in full, never waved through
// as a re-check (seen on 2.1 while its tick was rate-limited: every client
// in that window got in without a session, and so without ACLs).
TEST_CASE("CONNECTs around a SIGHUP are checked in full", "[sighup]") {
  BrokerEnv e;
  const Cred c = e.mint("org_hup", "hana");
  Cred wrong = c;
  wrong.password = c.password.substr(0, c.password.size() - 1) +
                   (c.password.back() == 'a' ? 'b' : 'a');
  for (int i = 0; i < 10; ++i) {
    e.mosq->sighup();
    MqttClient bad(e.client(wrong, "hana-bad"));
    CHECK(bad.connect(e.port()) == 0x87);
    MqttClient good(e.client(c, "hana-good"));
    REQUIRE(good.connect(e.port()) == 0);
    CHECK(good.subscribe("org_other/#") == 0x87);
    CHECK(good.subscribe("org_hup/users/hana/#") == 0);
    good.disconnect();
  }
  CHECK(e.mosq->running());
}
