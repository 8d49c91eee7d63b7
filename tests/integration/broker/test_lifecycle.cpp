// Sessions over time: client-id takeover, expiry (will sent), revocation over
// the channel, through shortcredctl and through the token service's HTTP API
// (will not sent), revalidation after a redis-cli DEL, org disable.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "broker_env.hpp"
#include "tokend_process.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"

using namespace broker_test;
using support::MqttClient;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kNotAuthorized = 0x87;

// revalidate_interval_s 1 so a redis-cli DEL is noticed within 2 s.
BrokerEnv& env() {
  static BrokerEnv e("plugin_opt_revalidate_interval_s 1\n");
  return e;
}

std::unique_ptr<MqttClient> connect_with_will(BrokerEnv& e, const Cred& c, const std::string& cid,
                                              const std::string& will_topic) {
  auto o = e.client(c, cid);
  o.will = MqttClient::Will{will_topic, "will-" + cid, 0, false};
  auto cl = std::make_unique<MqttClient>(o);
  REQUIRE(cl->connect(e.port()) == 0);
  return cl;
}

}  // namespace

TEST_CASE("a client id held by another org's session is refused and the holder stays", "[takeover]") {
  auto& e = env();
  const Cred a = e.mint("orgA", "alice");
  const Cred b = e.mint("orgB", "bob");
  const Cred a2 = e.mint("orgA", "mallory");
  auto holder = e.connect(a, "shared-id");
  REQUIRE(holder->connected());
  for (int protocol : {5, 4}) {
    MqttClient thief(e.client(b, "shared-id", protocol));
    CHECK(thief.connect(e.port()) == (protocol == 5 ? kNotAuthorized : 5));
    MqttClient same_org_other_user(e.client(a2, "shared-id", protocol));
    CHECK(same_org_other_user.connect(e.port()) == (protocol == 5 ? kNotAuthorized : 5));
  }
  CHECK(holder->connected());
  CHECK(holder->publish("orgA/users/alice/x", "still here", 1) < 0x80);  // 0x10: no subscribers
}

TEST_CASE("a client id takeover within one user works as Mosquitto normally does", "[takeover]") {
  auto& e = env();
  const Cred a1 = e.mint("orgA", "alice");
  const Cred a2 = e.mint("orgA", "alice");  // a refreshed credential
  auto first = e.connect(a1, "alice-phone");
  REQUIRE(first->connected());
  auto second = e.connect(a2, "alice-phone");
  REQUIRE(second->connected());
  CHECK(first->wait_disconnected(2s));
  // The new session is the one indexed: its rights work and survive the
  // old context's DISCONNECT.
  CHECK(second->subscribe("orgA/users/alice/#") == 0);
  auto obs = e.observer("orgA/users/alice/#");
  CHECK(second->publish("orgA/users/alice/y", "new", 1) == 0);
  CHECK(obs->wait_message("orgA/users/alice/y", "new"));
}

TEST_CASE("an expired credential is disconnected within 1 s of expires_at with its will sent", "[expiry]") {
  auto& e = env();
  auto obs = e.observer("orgA/users/eve/#");
  const Cred c = e.mint("orgA", "eve", with_ttl(1500ms));
  auto cl = connect_with_will(e, c, "eve-exp", "orgA/users/eve/status");
  REQUIRE(cl->wait_disconnected(std::chrono::milliseconds(c.expires_at_ms - now_ms() + 1000)));
  const std::int64_t late_ms = now_ms() - c.expires_at_ms;
  INFO("disconnected " << late_ms << " ms after expires_at");
  CHECK(late_ms >= -50);  // clocks: not noticeably before expiry
  CHECK(late_ms <= 1000);
  CHECK(obs->wait_message("orgA/users/eve/status", "will-eve-exp", 2s));
}

// Redis deletes a credential at expires_at, so a revalidation whose EXISTS
// runs just after it finds the key gone. That is an expiry (will sent), not a
// revocation. With revalidate_interval_s 1 and expiries 25 ms apart over two
// revalidation rounds, some credential always expires between a round's
// snapshot and its EXISTS.
TEST_CASE("credentials expiring during a revalidation still leave with their will", "[expiry]") {
  auto& e = env();
  auto obs = e.observer("orgA/users/wendy/#");
  constexpr int kClients = 80;
  std::vector<std::unique_ptr<MqttClient>> clients;
  std::int64_t last_expiry = 0;
  const std::int64_t first_expiry = now_ms() + 2500;
  std::vector<Cred> creds;
  for (int i = 0; i < kClients; ++i) {
    const auto ttl = std::chrono::milliseconds(first_expiry + 25 * i - now_ms());
    creds.push_back(e.mint("orgA", "wendy", with_ttl(ttl)));
    last_expiry = creds.back().expires_at_ms;
    auto o = e.client(creds.back(), "wendy-" + std::to_string(i));
    o.will = MqttClient::Will{"orgA/users/wendy/status/" + std::to_string(i), "will", 0, false};
    clients.push_back(std::make_unique<MqttClient>(o));
  }
  // Connected side by side: where CONNECT is answered at the broker's next
  // tick (2.1, delayed auth), 80 connects one after another could outlast
  // the first expiry.
  std::vector<std::thread> connecting;
  std::atomic<int> accepted{0};
  for (auto& cl : clients) {
    connecting.emplace_back([&, c = cl.get()] { accepted += c->connect(e.port()) == 0 ? 1 : 0; });
  }
  for (auto& t : connecting) t.join();
  REQUIRE(accepted == kClients);
  REQUIRE(now_ms() < first_expiry);  // every client connected before any expiry
  const auto deadline = std::chrono::milliseconds(last_expiry - now_ms() + 2000);
  CHECK(support::wait_until(
      [&] {
        for (const auto& cl : clients) {
          if (cl->connected()) return false;
        }
        return true;
      },
      deadline));
  auto will_sent = [&](int i) {
    return obs->count("orgA/users/wendy/status/" + std::to_string(i)) == 1;
  };
  support::wait_until(
      [&] {
        for (int i = 0; i < kClients; ++i) {
          if (!will_sent(i)) return false;
        }
        return true;
      },
      2s);
  std::vector<int> missing_wills;
  for (int i = 0; i < kClients; ++i) {
    if (!will_sent(i)) missing_wills.push_back(i);
  }
  INFO("clients whose will was not sent: " << Catch::Detail::stringify(missing_wills));
  CHECK(missing_wills.empty());
  CHECK(e.mosq->log().find("no longer in Redis; disconnecting 'wendy-") == std::string::npos);
}

TEST_CASE("shortcredctl token revoke disconnects within 500 ms without the will", "[revocation]") {
  auto& e = env();
  auto obs = e.observer("orgA/users/rita/#");
  const Cred c = e.mint("orgA", "rita");
  auto cl = connect_with_will(e, c, "rita-1", "orgA/users/rita/status");
  REQUIRE(support::wait_until([&] { return e.mosq->log().find("subscribed to shortcred:revoked") !=
                                           std::string::npos; },
                              3s));
  auto r = support::run({SHORTCRED_CTL_PATH, "--redis", e.redis->url(), "token", "revoke", "orgA",
                         c.token_id});
  const auto revoked_at = Clock::now();
  REQUIRE(r.exit_code == 0);
  REQUIRE(cl->wait_disconnected(500ms));
  INFO("disconnected after "
       << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - revoked_at).count()
       << " ms");
  CHECK_FALSE(obs->wait_message("orgA/users/rita/status", std::nullopt, 300ms));
  // …and it cannot come back.
  MqttClient again(e.client(c, "rita-1"));
  CHECK(again.connect(e.port()) == kNotAuthorized);
}

TEST_CASE("user and org messages on the channel disconnect every matching client", "[revocation]") {
  auto& e = env();
  const Cred u1 = e.mint("orgC", "ursula");
  const Cred u2 = e.mint("orgC", "ursula");
  const Cred other = e.mint("orgC", "victor");
  const Cred elsewhere = e.mint("orgD", "ursula");
  auto c1 = e.connect(u1, "ursula-1");
  auto c2 = e.connect(u2, "ursula-2");
  auto cv = e.connect(other, "victor-1");
  auto cd = e.connect(elsewhere, "ursula-d");
  e.redis_cmd({"PUBLISH", "shortcred:revoked", "user orgC ursula"});
  CHECK(c1->wait_disconnected(500ms));
  CHECK(c2->wait_disconnected(500ms));
  CHECK(cv->connected());
  CHECK(cd->connected());
  e.redis_cmd({"PUBLISH", "shortcred:revoked", "org orgC"});
  CHECK(cv->wait_disconnected(500ms));
  CHECK(cd->connected());
  // The log line names the disabled org, not a revoked token.
  CHECK(e.mosq->log().find("shortcred: org orgC disabled; disconnecting 'victor-1'") !=
        std::string::npos);
}

TEST_CASE("a redis-cli DEL disconnects within revalidate_interval_s + 1 s", "[revocation]") {
  auto& e = env();
  const Cred c = e.mint("orgA", "dora");
  auto cl = e.connect(c, "dora-1");
  REQUIRE(cl->connected());
  auto r = support::run({"redis-cli", "-p", std::to_string(e.redis->port()), "DEL",
                         "shortcred:{orgA}:cred:" + c.token_id});
  REQUIRE(r.exit_code == 0);
  CHECK(cl->wait_disconnected(2000ms));
}

TEST_CASE("an org's disabled=1 disconnects its clients at the next refresh", "[revocation]") {
  auto& e = env();
  e.set_org("orgE", {});
  const Cred c = e.mint("orgE", "ed");
  auto cl = e.connect(c, "ed-1");
  REQUIRE(cl->connected());
  e.redis_cmd({"HSET", "shortcred:{orgE}:org", "disabled", "1"});
  CHECK(cl->wait_disconnected(2000ms));
  // Found by revalidation, not announced: the log still names the disabled org.
  CHECK(support::wait_until(
      [&] {
        return e.mosq->log().find("shortcred: org orgE disabled; disconnecting 'ed-1'") !=
               std::string::npos;
      },
      1s));
  MqttClient again(e.client(e.mint("orgE", "ed"), "ed-2"));
  CHECK(again.connect(e.port()) == kNotAuthorized);
}

TEST_CASE("DELETE /v2/tokens/<id> on the token service disconnects within 500 ms without the will",
          "[revocation]") {
  auto& e = env();
  auto ctl = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {SHORTCRED_CTL_PATH, "--redis", e.redis->url()});
    return support::run(args);
  };
  REQUIRE(ctl({"org", "create", "--id", "orgH"}).exit_code == 0);
  const auto key = ctl({"--json", "apikey", "create", "--org", "orgH", "--name", "broker-test"});
  REQUIRE(key.exit_code == 0);
  const std::string auth = "Authorization: Bearer " + json_field(key.out, "api_key");
  const Listening tokend = start_tokend(e.redis->url(), e.files / "tokend.log");
  support::HttpClient http("http://127.0.0.1:" + std::to_string(tokend.port));

  const auto issued = http.request("POST", "/v2/tokens", R"({"user_id":"hal"})", {auth});
  INFO(issued.body);
  REQUIRE(issued.status == 201);
  Cred c{"orgH", "hal", json_field(issued.body, "token_id"), json_field(issued.body, "username"),
         json_field(issued.body, "password"), 0};
  REQUIRE_FALSE(c.password.empty());
  e.minted_passwords.push_back(c.password);
  auto obs = e.observer("orgH/users/hal/#");
  auto cl = connect_with_will(e, c, "hal-1", "orgH/users/hal/status");
  REQUIRE(support::wait_until([&] { return e.mosq->log().find("subscribed to shortcred:revoked") !=
                                           std::string::npos; },
                              3s));
  const auto t0 = Clock::now();
  const auto del = http.request("DELETE", "/v2/tokens/" + c.token_id, "", {auth});
  REQUIRE(del.status / 100 == 2);
  CHECK(cl->wait_disconnected(1s));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  INFO("disconnected " << ms << " ms after the DELETE was sent");
  CHECK(ms <= 500);
  CHECK_FALSE(obs->wait_message("orgH/users/hal/status", std::nullopt, 300ms));
  MqttClient again(e.client(c, "hal-1"));
  CHECK(again.connect(e.port()) == kNotAuthorized);
}

TEST_CASE("a deleted org's credentials are refused at CONNECT and its sessions kicked at revalidation",
          "[org]") {
  auto& e = env();
  const Cred live = e.mint("org_gone", "gus");
  const Cred later = e.mint("org_gone", "gus");
  auto cl = e.connect(live, "gus-1");
  REQUIRE(cl->connected());
  e.redis_cmd({"DEL", "shortcred:{org_gone}:org"});
  MqttClient refused(e.client(later, "gus-2"));
  CHECK(refused.connect(e.port()) == kNotAuthorized);
  // revalidate_interval_s 1: noticed within 2 s.
  CHECK(cl->wait_disconnected(3s));
  CHECK(e.mosq->log().find("org org_gone no longer exists; disconnecting 'gus-1'") !=
        std::string::npos);
  CHECK(e.mosq->log().find("organisation does not exist") != std::string::npos);
}
