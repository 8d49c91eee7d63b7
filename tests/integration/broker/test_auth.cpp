// CONNECT: every way a credential can be wrong, with the CONNACK a client
// sees, for MQTT 5 and 3.1.1. One broker for the whole file.
#include <catch2/catch.hpp>

#include "broker_env.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

constexpr int kV5NotAuthorized = 0x87;
constexpr int kBadCredential = 0x86;
constexpr int kBanned = 0x8A;
constexpr int kClientIdNotValid = 0x85;
constexpr int kInternal = 0x83;
constexpr bool kAfterLookup = true;

// A password_file account whose name looks like ours: its plain password
// makes it not ours, so Mosquitto's password_file and acl_file govern it.
constexpr const char* kLookalikeUser = "x@org_auth";
constexpr const char* kLookalikePassword = "plain-password";

// Many refusals from 127.0.0.1: the failed-auth throttle is off here (it
// would change their answers; test_throttle tests it).
BrokerEnv& env() {
  static BrokerEnv e("plugin_opt_auth_fail_per_address 0\n", "", true,
                     {{kLookalikeUser, kLookalikePassword, "topic readwrite svc-x/#\n"}});
  return e;
}

int connack(const MqttClient::Options& o) {
  MqttClient c(o);
  return c.connect(env().port());
}

// The CONNACK of a refusal whose MQTT 5 reason is `reason` (0x87 also for
// Mosquitto's own refusal of what is not ours), as this broker sends it
// (README "What a client sees").
int refused_code(int protocol, int reason = kV5NotAuthorized, bool after_lookup = false) {
  return env().refusal(reason, protocol, after_lookup);
}

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
    int reason = kV5NotAuthorized;  // that is also Mosquitto's, for what is not ours
    bool after_lookup = false;
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
      {"wrong secret", good.username, wrong_secret, kBadCredential, kAfterLookup},
      {"unknown token id", good.username, "tkn_0000000000000000_" + good.password.substr(21),
       kBadCredential, kAfterLookup},
      {"expired (key gone from Redis)", expired.username, expired.password, kBadCredential,
       kAfterLookup},
      {"expired (key still in Redis)", expired_kept.username, expired_kept.password,
       kBadCredential, kAfterLookup},
      {"revoked (key deleted)", revoked.username, revoked.password, kBadCredential, kAfterLookup},
      {"wrong user for the token", "mallory@org_auth", good.password, kBadCredential,
       kAfterLookup},
      {"wrong org for the token", "alice@org_other", good.password, kBadCredential, kAfterLookup},
      {"disabled org", off.username, off.password, kBanned, kAfterLookup},
      {"malformed password (tkn_ but short)", good.username, "tkn_abc", kBadCredential},
      {"malformed password (bad alphabet)", good.username, good.password.substr(0, 60) + "!",
       kBadCredential},
      {"not ours: plain password, no password_file entry", good.username, "hunter2"},
      {"not ours: username without @", "alice", good.password},
      {"empty username", "", good.password},
      {"NULL username", std::nullopt, std::nullopt},
      {"over-long user id", std::string(129, 'u') + "@org_auth", good.password},
      {"over-long org id", "alice@" + std::string(65, 'o'), good.password},
      {"over-long password", good.username, good.password + std::string(100, 'x'),
       kBadCredential},
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
      // Looked up once (protocol 5); a dead credential's retry (3.1.1) is
      // refused from memory, which 3.1.1 sees as 5 either way.
      CHECK(connack(o) == refused_code(protocol, c.reason, c.after_lookup));
    }
  }
  CHECK(e.mosq->log().find("(token " + expired_kept.token_id + "): credential expired") !=
        std::string::npos);
}

TEST_CASE("client id rules - binding and sanitising", "[auth]") {
  auto& e = env();
  const Cred bound = e.mint("org_auth", "bob", with_binding("bob-phone"));
  CHECK(connack(e.client(bound, "bob-phone")) == 0);
  CHECK(connack(e.client(bound, "bob-laptop")) == refused_code(5, kClientIdNotValid, kAfterLookup));
  const Cred c = e.mint("org_auth", "bob");
  CHECK(connack(e.client(c, "bob+1")) == refused_code(5, kClientIdNotValid));
  CHECK(connack(e.client(c, "bob#1")) == refused_code(5, kClientIdNotValid));
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
  CHECK(connack(e.client(c, cid)) == refused_code(5, kClientIdNotValid));
  const std::string logged =
      R"(refused client 'evil\xc3\xa9\\+)" + std::string(120, 'z') + "\u2026' (token";
  CHECK(support::wait_until([&] { return e.mosq->log().find(logged) != std::string::npos; }, 2s));
}

TEST_CASE("client_id_prefix %o/%u/ - only client ids under the user's own prefix connect",
          "[auth]") {
  BrokerEnv e("plugin_opt_client_id_prefix %o/%u/\n");
  const Cred c = e.mint("orgA", "alice");
  for (int protocol : {5, 4}) {
    INFO("protocol " << protocol);
    MqttClient own(e.client(c, "orgA/alice/x", protocol));
    CHECK(own.connect(e.port()) == 0);
    own.disconnect();
    for (const char* cid : {"x", "orgA/bob/x", "orgB/alice/x", "orgA/alice", "orgA/alicex/y"}) {
      INFO("client id " << cid);
      MqttClient other(e.client(c, cid, protocol));
      CHECK(other.connect(e.port()) == e.refusal(kClientIdNotValid, protocol));
    }
  }
  CHECK(e.mosq->log().find("(token " + c.token_id + "): client id lacks the required prefix") !=
        std::string::npos);
}


TEST_CASE("junk credentials are refused before any Redis round trip", "[auth]") {
  auto& e = env();
  const Cred good = e.mint("org_auth", "alice");
  const std::uint64_t before = e.redis_calls("hgetall");
  const std::vector<std::pair<std::string, std::string>> junk = {
      {"a@b", "tkn_short"},
      {"user@org", "tkn_"},
      {"user@org", good.password.substr(0, 60)},                   // one byte short
      {"user@org", good.password + "0"},                           // one byte long
      {"user@org", good.password.substr(0, 20) + "-" + good.password.substr(21)},  // separator
      {"user@org", "tkn_ABCDEFGHIJKLMNOP_" + good.password.substr(21)},  // id alphabet
  };
  for (int protocol : {5, 4}) {
    for (const auto& [user, password] : junk) {
      INFO(user << " / " << password << " (protocol " << protocol << ")");
      MqttClient::Options o;
      o.client_id = "junk";
      o.username = user;
      o.password = password;
      o.protocol = protocol;
      CHECK(connack(o) == refused_code(protocol, kBadCredential));
    }
  }
  CHECK(e.redis_calls("hgetall") == before);
  // The counter does count a real attempt: one pipelined round trip, two HGETALLs.
  CHECK(connack(e.client(good, "junk-control")) == 0);
  CHECK(e.redis_calls("hgetall") == before + 2);
}

TEST_CASE("the broker log never carries a password or secret", "[auth][secrets]") {
  auto& e = env();
  const Cred good = e.mint("org_auth", "sam");
  const Cred other = e.mint("org_auth", "sam");
  const Cred revoked = e.mint("org_auth", "sam");
  const Cred deleted = e.mint("org_auth", "sam");
  auto a = e.connect(good, "sam-1");
  REQUIRE(a->connected());
  auto b = e.connect(revoked, "sam-2");
  REQUIRE(b->connected());
  // Refused attempts whose password holds secrets: a wrong secret for a real
  // id, an unknown id, a malformed password wrapping a full password and an
  // API key, and a plain password (not ours) that is a full password plus a byte.
  const std::string api_key_like = "sk_" + std::string(16, 'k') + "_" + std::string(40, 'K');
  const std::vector<std::string> bad_passwords = {
      good.password.substr(0, 21) + other.password.substr(21),
      "tkn_0000000000000000_" + good.password.substr(21),
      "tkn_" + other.password + "!",
      "tkn_x" + api_key_like,
      other.password + "x",
      api_key_like,
  };
  for (const std::string& pw : bad_passwords) {
    MqttClient::Options o = e.client(good, "sam-bad");
    o.password = pw;
    CHECK(connack(o) > 0);  // refused, each its own way (test_reasons)
  }
  CHECK(connack(e.client(deleted, "sam-3")) == 0);
  // Revocations log the token id and the client id, nothing more.
  REQUIRE(support::wait_until([&] { return e.mosq->log().find("subscribed to shortcred:revoked") !=
                                           std::string::npos; },
                              3s));
  e.redis_cmd({"PUBLISH", "shortcred:revoked", "token org_auth " + revoked.token_id});
  CHECK(b->wait_disconnected(2s));
  e.redis_cmd({"DEL", "shortcred:{org_auth}:cred:" + deleted.token_id});
  CHECK(connack(e.client(deleted, "sam-3")) == refused_code(5, kBadCredential, kAfterLookup));
  e.mosq->sighup();
  REQUIRE(support::wait_until(
      [&] { return e.mosq->log().find("'sam-1' re-authenticated from memory") != std::string::npos; },
      3s));
  a->disconnect();
  const std::string log = e.mosq->log();
  REQUIRE(log.find(revoked.token_id) != std::string::npos);  // the ids are there…
  const std::string found = e.secret_in_log(bad_passwords);
  INFO("found in the broker log: " << found);
  CHECK(found.empty());  // …the secrets are not
}

// Hardening finding 4: a key of the wrong type written by hand refuses that
// credential or org only; Redis answered, so nobody else is shut out.
TEST_CASE("a wrong-typed cred or org key refuses that credential only, not everyone", "[auth]") {
  auto& e = env();
  const Cred broken = e.mint("org_auth", "wanda");
  e.redis_cmd({"DEL", "shortcred:{org_auth}:cred:" + broken.token_id});
  e.redis_cmd({"SET", "shortcred:{org_auth}:cred:" + broken.token_id, "not a hash"});
  const Cred in_broken_org = e.mint("org_wrongtype", "walt");
  e.redis_cmd({"DEL", "shortcred:{org_wrongtype}:org"});
  e.redis_cmd({"LPUSH", "shortcred:{org_wrongtype}:org", "x"});
  for (int i = 0; i < 5; ++i) {
    CHECK(connack(e.client(broken, "wanda-" + std::to_string(i))) ==
          refused_code(5, kInternal, kAfterLookup));
    CHECK(connack(e.client(in_broken_org, "walt-" + std::to_string(i))) ==
          refused_code(5, kInternal, kAfterLookup));
    const Cred fine = e.mint("org_auth", "xena");
    CHECK(connack(e.client(fine, "xena-" + std::to_string(i))) == 0);
  }
  CHECK(e.mosq->log().find("the credential key is not a hash") != std::string::npos);
  CHECK(e.mosq->log().find("the org key is not a hash") != std::string::npos);
}

// Issue 12: a client-id binding under client_id_prefix names the part after
// the expanded prefix (the API refuses '/' in a binding), so the recommended
// `%o/%u/` and a binding work together. All four combinations.
TEST_CASE("client-id bindings with and without client_id_prefix", "[auth]") {
  for (const bool prefixed : {false, true}) {
    INFO((prefixed ? "client_id_prefix %o/%u/" : "no client_id_prefix"));
    BrokerEnv e(prefixed ? "plugin_opt_client_id_prefix %o/%u/\n" : "");
    const std::string pfx = prefixed ? "org_bind/bea/" : "";
    const Cred free = e.mint("org_bind", "bea");
    const Cred bound = e.mint("org_bind", "bea", with_binding("app-1"));
    auto connack = [&](const MqttClient::Options& o) { return MqttClient(o).connect(e.port()); };
    CHECK(connack(e.client(free, pfx + "anything")) == 0);
    CHECK(connack(e.client(bound, pfx + "app-1")) == 0);
    CHECK(connack(e.client(bound, pfx + "app-2")) == e.refusal(kClientIdNotValid, 5, kAfterLookup));
    if (prefixed) {
      const int no_prefix = e.refusal(kClientIdNotValid);
      CHECK(connack(e.client(free, "anything")) == no_prefix);
      CHECK(connack(e.client(bound, "app-1")) == no_prefix);
      CHECK(connack(e.client(bound, "org_bind/bob/app-1")) == no_prefix);  // not hers
    }
  }
}

// The binding is only ever the part after the prefix, never the whole id: a
// prefix without '/' lets a binding spell a prefixed id, which must not
// match a second way.
TEST_CASE("under client_id_prefix a binding never names the whole client id", "[auth]") {
  BrokerEnv e("plugin_opt_client_id_prefix %o-%u-\n");
  const Cred spelled = e.mint("org_bind", "bea", with_binding("org_bind-bea-app-1"));
  auto connack = [&](const MqttClient::Options& o) { return MqttClient(o).connect(e.port()); };
  CHECK(connack(e.client(spelled, "org_bind-bea-app-1")) == kV5NotAuthorized);
  CHECK(connack(e.client(spelled, "org_bind-bea-org_bind-bea-app-1")) == 0);
}
