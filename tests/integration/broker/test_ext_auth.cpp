// MQTT 5 enhanced authentication with method `shortcred`: the password rides
// in CONNECT's Authentication Data, and an AUTH packet with reason 0x19
// swaps a live session's credential in place. One broker for the whole file.
//
// CONNECT cases go through libmosquitto (mosquitto_connect_bind_v5 with the
// method and data as properties). Re-authentication needs support::Mqtt5Raw:
// libmosquitto 2.0 has no public call that sends an AUTH packet.
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <catch2/catch.hpp>
#include <thread>

#include "broker_env.hpp"
#include "support/mqtt5_raw.hpp"
#include "support/process.hpp"

using namespace broker_test;
using support::Mqtt5Raw;

namespace {

constexpr int kReauthenticate = 0x19;
constexpr int kNotAuthorized = 0x87;
// MQTT 5 "Bad authentication method": what Mosquitto 2.0.11 sends when every
// plugin deferred an extended authentication (MOSQ_ERR_NOT_SUPPORTED).
constexpr int kBadAuthMethod = 0x8C;

BrokerEnv& env() {
  static BrokerEnv e;
  return e;
}

// CONNACK reason code of a libmosquitto MQTT 5 CONNECT with Authentication
// Method `method` and Authentication Data `data` (no password field), or -1
// if the socket closed without one.
int connack_v5(const std::string& client_id, const std::string& username, const std::string& method,
               const std::string& data) {
  static const int lib = mosquitto_lib_init();  // once per process, like MqttClient
  REQUIRE(lib == MOSQ_ERR_SUCCESS);
  struct Result {
    int rc = -1;
    bool done = false;
  } res;
  mosquitto* m = mosquitto_new(client_id.c_str(), true, &res);
  REQUIRE(m != nullptr);
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_username_pw_set(m, username.c_str(), nullptr);
  mosquitto_connect_v5_callback_set(
      m, [](mosquitto*, void* ud, int rc, int, const mosquitto_property*) {
        auto* r = static_cast<Result*>(ud);
        r->rc = rc;
        r->done = true;
      });
  mosquitto_property* props = nullptr;
  mosquitto_property_add_string(&props, MQTT_PROP_AUTHENTICATION_METHOD, method.c_str());
  mosquitto_property_add_binary(&props, MQTT_PROP_AUTHENTICATION_DATA, data.data(),
                                static_cast<std::uint16_t>(data.size()));
  int rc = mosquitto_connect_bind_v5(m, "127.0.0.1", env().port(), 30, nullptr, props);
  mosquitto_property_free_all(&props);
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (rc == MOSQ_ERR_SUCCESS && !res.done && std::chrono::steady_clock::now() < deadline) {
    rc = mosquitto_loop(m, 50, 1);
  }
  mosquitto_disconnect(m);
  mosquitto_destroy(m);
  return res.rc;
}

// A raw MQTT 5 client connected with method `shortcred` and `c`'s password.
std::unique_ptr<Mqtt5Raw> connect_raw(const Cred& c, const std::string& client_id) {
  auto cl = std::make_unique<Mqtt5Raw>();
  const Mqtt5Raw::Reply r =
      cl->connect(env().port(), client_id, c.username, "shortcred", c.password);
  REQUIRE(r.type == Mqtt5Raw::kConnack);
  REQUIRE(r.reason == 0);
  return cl;
}

void wait_revocation_subscriber() {
  REQUIRE(support::wait_until(
      [] { return env().mosq->log().find("subscribed to shortcred:revoked") != std::string::npos; },
      3s));
}

int ctl_revoke(const Cred& c) {
  return support::run({SHORTCRED_CTL_PATH, "--redis", env().redis->url(), "token", "revoke", c.org,
                       c.token_id})
      .exit_code;
}

}  // namespace

TEST_CASE("method shortcred with a valid password as Authentication Data connects", "[ext_auth]") {
  const Cred c = env().mint("org_ext", "alice");
  CHECK(connack_v5("alice-ext", c.username, "shortcred", c.password) == 0);
}

TEST_CASE("method shortcred with wrong Authentication Data is refused with 0x87", "[ext_auth]") {
  auto& e = env();
  const Cred good = e.mint("org_ext", "alice");
  const Cred other = e.mint("org_ext", "bob");
  const std::string wrong_secret =
      good.password.substr(0, 21) + e.mint("org_ext", "alice").password.substr(21);
  struct Case {
    const char* name;
    std::string username, data;
  };
  // Method `shortcred` is ours whatever the data holds: junk is refused
  // (MOSQ_ERR_AUTH → CONNACK 0x87), never deferred to another handler.
  const std::vector<Case> cases = {
      {"wrong secret", good.username, wrong_secret},
      {"another user's password", good.username, other.password},
      {"password of another org", "alice@org_ext_other", good.password},
      {"empty data", good.username, ""},
      {"not a tkn_ password", good.username, "hunter2"},
      {"malformed tkn_ password", good.username, "tkn_abc"},
      {"username without @", "alice", good.password},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    CHECK(connack_v5("alice-ext-bad", c.username, "shortcred", c.data) == kNotAuthorized);
  }
}

TEST_CASE("another authentication method is not ours", "[ext_auth]") {
  // The plugin defers; nothing else handles the method, so Mosquitto 2.0.11
  // answers MOSQ_ERR_NOT_SUPPORTED with CONNACK 0x8C.
  const Cred c = env().mint("org_ext", "alice");
  CHECK(connack_v5("alice-ext-other", c.username, "SCRAM-SHA-256", c.password) == kBadAuthMethod);
}

TEST_CASE("re-authentication with the same credential is checked in Redis, not from memory",
          "[ext_auth]") {
  auto& e = env();
  const Cred c = e.mint("org_ext", "carol");
  auto cl = connect_raw(c, "carol-same");
  const Mqtt5Raw::Reply r = cl->auth(kReauthenticate, "shortcred", c.password);
  CHECK(r.type == Mqtt5Raw::kAuth);
  CHECK(r.reason == 0);
  CHECK(cl->alive());
  // Revoked a moment ago (the channel message not yet acted on): refused.
  e.redis_cmd({"DEL", "shortcred:{org_ext}:cred:" + c.token_id});
  const Mqtt5Raw::Reply again = cl->auth(kReauthenticate, "shortcred", c.password);
  CHECK((again.type == Mqtt5Raw::kConnack || again.type == Mqtt5Raw::kDisconnect));
  CHECK(again.reason == kNotAuthorized);
  CHECK(cl->wait_closed(2s));
}

TEST_CASE("re-authentication with a fresh credential outlives the old expiry and takes its scope",
          "[ext_auth]") {
  auto& e = env();
  const Cred old_cred = e.mint("org_ext", "erin", with_ttl(2s));
  auto cl = connect_raw(old_cred, "erin-reauth");
  // The old credential has the default templates.
  CHECK(cl->subscribe("org_ext/users/erin/in").reason == 0);
  CHECK(cl->subscribe("org_ext/shared/news/#").reason == 0);

  MintOptions o = with_scope({"read %o/shared/news/#"});
  o.ttl = 60s;
  const Cred fresh = e.mint("org_ext", "erin", o);
  const Mqtt5Raw::Reply r = cl->auth(kReauthenticate, "shortcred", fresh.password);
  REQUIRE(r.type == Mqtt5Raw::kAuth);
  CHECK(r.reason == 0);

  // The new scope applies at once.
  CHECK(cl->subscribe("org_ext/users/erin/in").reason == kNotAuthorized);
  CHECK(cl->subscribe("org_ext/shared/news/#").reason == 0);

  // Past the old credential's expiry (plus a few ticks) the client is still up.
  std::this_thread::sleep_until(
      std::chrono::system_clock::time_point(std::chrono::milliseconds(old_cred.expires_at_ms)) +
      700ms);
  CHECK(cl->alive());
  CHECK(cl->subscribe("org_ext/shared/news/#").reason == 0);
}

TEST_CASE("re-authentication with a credential of another user or org disconnects", "[ext_auth]") {
  auto& e = env();
  const Cred mine = e.mint("org_ext", "frank");
  struct Case {
    const char* name;
    std::string data;
  };
  const std::vector<Case> cases = {
      {"another user's credential", e.mint("org_ext", "grace").password},
      {"another org's credential", e.mint("org_ext_other", "frank").password},
      {"a malformed password", "tkn_abc"},
      {"a wrong secret",
       mine.password.substr(0, 21) + e.mint("org_ext", "frank").password.substr(21)},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    auto cl = connect_raw(mine, "frank-reauth");
    const Mqtt5Raw::Reply r = cl->auth(kReauthenticate, "shortcred", c.data);
    // A refused AUTH 0x19 is answered "not authorised", then the connection
    // closes: 2.0.11 (handle__auth) sends it as a CONNACK, 2.0.21 and 2.1
    // as a DISCONNECT.
    CHECK((r.type == Mqtt5Raw::kConnack || r.type == Mqtt5Raw::kDisconnect));
    CHECK(r.reason == kNotAuthorized);
    CHECK(cl->wait_closed(2s));
  }
  // The refused re-authentications left nothing behind: the client id is free
  // and the original credential still works.
  auto again = connect_raw(mine, "frank-reauth");
  CHECK(again->alive());
}

TEST_CASE("after re-authentication revocation follows the new token, not the old one",
          "[ext_auth][revocation]") {
  auto& e = env();
  wait_revocation_subscriber();
  const Cred old_cred = e.mint("org_ext", "heidi");
  auto cl = connect_raw(old_cred, "heidi-reauth");
  const Cred fresh = e.mint("org_ext", "heidi");
  REQUIRE(cl->auth(kReauthenticate, "shortcred", fresh.password).reason == 0);

  // Revoking the credential the session no longer holds changes nothing.
  REQUIRE(ctl_revoke(old_cred) == 0);
  CHECK(cl->alive(600ms));
  std::this_thread::sleep_for(300ms);  // a few ticks after the revocation arrived
  CHECK(cl->alive());
  // The new one is indexed: revoking it disconnects within 500 ms.
  REQUIRE(ctl_revoke(fresh) == 0);
  CHECK(cl->wait_closed(500ms));
}

TEST_CASE("re-authentication after the old credential was revoked succeeds with a valid one",
          "[ext_auth][revocation]") {
  // The old credential is gone from Redis (the key deletion half of
  // `shortcredctl token revoke`), noticed only at the next revalidation; the
  // client re-authenticates first. The other half, the revocation message,
  // kicks the client within one tick, before any AUTH can arrive: that order
  // is covered by the previous case.
  auto& e = env();
  const Cred old_cred = e.mint("org_ext", "ivan");
  auto cl = connect_raw(old_cred, "ivan-reauth");
  e.redis_cmd({"DEL", "shortcred:{org_ext}:cred:" + old_cred.token_id});
  const Cred fresh = e.mint("org_ext", "ivan");
  const Mqtt5Raw::Reply r = cl->auth(kReauthenticate, "shortcred", fresh.password);
  CHECK(r.type == Mqtt5Raw::kAuth);
  CHECK(r.reason == 0);
  CHECK(cl->subscribe("org_ext/users/ivan/#").reason == 0);
  CHECK(cl->alive());
}

TEST_CASE("SIGHUP keeps clients of method shortcred connected", "[ext_auth]") {
  auto& e = env();
  const Cred c = e.mint("org_ext", "judy");
  auto cl = connect_raw(c, "judy-hup");
  e.mosq->sighup();
  REQUIRE(support::wait_until(
      [&] {
        return e.mosq->log().find("'judy-hup' re-authenticated from memory") != std::string::npos;
      },
      3s));
  CHECK(cl->alive());
  CHECK(cl->subscribe("org_ext/users/judy/#").reason == 0);
}
