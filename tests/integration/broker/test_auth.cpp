// CONNECT: every way a credential can be wrong, with the CONNACK a client
// sees, for MQTT 5 and 3.1.1. One broker for the whole file.
#include <catch2/catch.hpp>

#include "broker_env.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

constexpr int kV5NotAuthorized = 0x87;
constexpr int kV3NotAuthorized = 5;

// A password_file account whose name looks like ours: its plain password
// makes it not ours, so Mosquitto's password_file and acl_file govern it.
constexpr const char* kLookalikeUser = "x@org_auth";
constexpr const char* kLookalikePassword = "plain-password";

BrokerEnv& env() {
  static BrokerEnv e("", "", true,
                     {{kLookalikeUser, kLookalikePassword, "topic readwrite svc-x/#\n"}});
  return e;
}

int connack(const MqttClient::Options& o) {
  MqttClient c(o);
  return c.connect(env().port());
}

int refused_code(int protocol) { return protocol == 5 ? kV5NotAuthorized : kV3NotAuthorized; }

}  // namespace

TEST_CASE("a valid credential connects", "[auth]") {
  for (int protocol : {5, 4}) {
    const Cred c = env().mint("org_auth", "alice");
    CHECK(connack(env().client(c, "alice-ok-" + std::to_string(protocol), protocol)) == 0);
  }
}

TEST_CASE("wrong credentials are refused with CONNACK not authorised", "[auth]") {
  auto& e = env();
  e.set_org("org_auth", {});
  e.set_org("org_off", {{"disabled", "1"}});
  const Cred good = e.mint("org_auth", "alice");
  const Cred off = e.mint("org_off", "dave");

  struct Case {
    const char* name;
    std::optional<std::string> username, password;
  };
  const std::string other_secret = e.mint("org_auth", "alice").password.substr(21);
  const std::string wrong_secret = good.password.substr(0, 21) + other_secret;
  const Cred expired = e.mint("org_auth", "alice", with_ttl(1ms));
  // Still in Redis after its expires_at: only the plugin's own check refuses it.
  MintOptions past = with_ttl(-1min);
  past.redis_expiry = false;
  const Cred expired_kept = e.mint("org_auth", "alice", past);
  REQUIRE(e.redis_cmd({"EXISTS", "shortcred:{org_auth}:cred:" + expired_kept.token_id})->integer == 1);
  const Cred revoked = e.mint("org_auth", "alice");
  e.redis_cmd({"DEL", "shortcred:{org_auth}:cred:" + revoked.token_id});
  REQUIRE(wrong_secret.size() == good.password.size());

  const std::vector<Case> cases = {
      {"wrong secret", good.username, wrong_secret},
      {"unknown token id", good.username, "tkn_0000000000000000_" + good.password.substr(21)},
      {"expired (key gone from Redis)", expired.username, expired.password},
      {"expired (key still in Redis)", expired_kept.username, expired_kept.password},
      {"revoked (key deleted)", revoked.username, revoked.password},
      {"wrong user for the token", "mallory@org_auth", good.password},
      {"wrong org for the token", "alice@org_other", good.password},
      {"disabled org", off.username, off.password},
      {"malformed password (tkn_ but short)", good.username, "tkn_abc"},
      {"malformed password (bad alphabet)", good.username, good.password.substr(0, 60) + "!"},
      {"not ours: plain password, no password_file entry", good.username, "hunter2"},
      {"not ours: username without @", "alice", good.password},
      {"empty username", "", good.password},
      {"NULL username", std::nullopt, std::nullopt},
      {"over-long user id", std::string(129, 'u') + "@org_auth", good.password},
      {"over-long org id", "alice@" + std::string(65, 'o'), good.password},
      {"over-long password", good.username, good.password + std::string(100, 'x')},
      {"user id with /", "al/ice@org_auth", good.password},
      {"user id with +", "al+ice@org_auth", good.password},
      {"user id with #", "al#ice@org_auth", good.password},
  };
  for (int protocol : {5, 4}) {
    for (const auto& c : cases) {
      INFO(c.name << " (protocol " << protocol << ")");
      MqttClient::Options o;
      o.client_id = "auth-matrix";
      o.username = c.username;
      o.password = c.password;
      o.protocol = protocol;
      if (protocol == 4 && c.username && c.username->empty()) continue;  // invalid in 3.1.1 with password
      CHECK(connack(o) == refused_code(protocol));
    }
  }
  CHECK(e.mosq->log().find("(token " + expired_kept.token_id + "): credential expired") !=
        std::string::npos);
}

TEST_CASE("client id rules - binding and sanitising", "[auth]") {
  auto& e = env();
  const Cred bound = e.mint("org_auth", "bob", with_binding("bob-phone"));
  CHECK(connack(e.client(bound, "bob-phone")) == 0);
  CHECK(connack(e.client(bound, "bob-laptop")) == kV5NotAuthorized);
  const Cred c = e.mint("org_auth", "bob");
  CHECK(connack(e.client(c, "bob+1")) == kV5NotAuthorized);
  CHECK(connack(e.client(c, "bob#1")) == kV5NotAuthorized);
  CHECK(connack(e.client(c, "bob/1")) == 0);  // allowed; %c rules then match nothing
}

TEST_CASE("the internal service account from password_file still works", "[auth]") {
  MqttClient::Options o;
  o.client_id = "svc-auth";
  o.username = kServiceUser;
  o.password = kServicePassword;
  CHECK(connack(o) == 0);
  o.password = "wrong";
  CHECK(connack(o) == kV5NotAuthorized);
}

TEST_CASE("SIGHUP re-authenticates live clients from memory", "[auth]") {
  auto& e = env();
  const Cred c = e.mint("org_auth", "erin");
  auto cl = e.connect(c, "erin-hup");
  REQUIRE(cl->connected());
  // Delete the key: a Redis lookup would now fail, memory must not.
  e.redis_cmd({"DEL", "shortcred:{org_auth}:cred:" + c.token_id});
  e.mosq->sighup();
  REQUIRE(support::wait_until(
      [&] { return e.mosq->log().find("'erin-hup' re-authenticated from memory") != std::string::npos; },
      3s));
  CHECK(cl->subscribe("org_auth/users/erin/#") == 0);
  CHECK(cl->connected());
}

TEST_CASE("a password_file user named like <user>@<org> with a plain password is deferred, not refused",
          "[auth]") {
  auto& e = env();
  auto obs = e.observer("#");
  MqttClient::Options o;
  o.client_id = "lookalike";
  o.username = kLookalikeUser;
  o.password = kLookalikePassword;
  MqttClient cl(o);
  REQUIRE(cl.connect(e.port()) == 0);
  // Mosquitto's acl_file governs it, not shortcred's templates.
  CHECK(cl.publish("svc-x/out", "ok", 1) == 0);
  CHECK(obs->wait_message("svc-x/out", "ok"));
  CHECK(cl.publish("org_auth/users/x/out", "no", 1) == kV5NotAuthorized);
  o.password = "wrong-password";
  CHECK(connack(o) == kV5NotAuthorized);
}

TEST_CASE("client ids in log lines are escaped and truncated", "[auth]") {
  auto& e = env();
  const Cred c = e.mint("org_auth", "alice");
  // Refused for the `+`, which writes a log line with the client id: 8 bytes
  // of prefix, then 300 more of which 120 fit into the 128 logged.
  const std::string cid = "evil\xc3\xa9\\+" + std::string(300, 'z');
  CHECK(connack(e.client(c, cid)) == kV5NotAuthorized);
  const std::string logged =
      R"(refused client 'evil\xc3\xa9\\+)" + std::string(120, 'z') + "\u2026' (token";
  CHECK(support::wait_until([&] { return e.mosq->log().find(logged) != std::string::npos; }, 2s));
}
