// Deploying the plugin as the README says: conf/shortcred.conf dropped into
// a conf.d directory, tenants using the stock mosquitto_sub / mosquitto_pub
// with `-i <org>/<user>/…` under its client_id_prefix, a broker started
// while Redis is down, and the libmosquitto credential-refresh recipe.
#include <catch2/catch.hpp>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <regex>

#include "broker_env.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/text.hpp"

using namespace broker_test;
using support::MqttClient;

namespace {

// The snippet as shipped, with its plugin path and Redis URL pointed at this
// build and this test's Redis; every other line stays as it is.
std::string snippet_for(const BrokerEnv& e) {
  std::string s = support::read_file(SHORTCRED_CONF_SNIPPET);
  s = std::regex_replace(s, std::regex("^plugin .*$", std::regex::multiline),
                         "plugin " SHORTCRED_PLUGIN_PATH);
  s = std::regex_replace(s, std::regex("^plugin_opt_redis_url .*$", std::regex::multiline),
                         "plugin_opt_redis_url " + e.redis->url());
  return s;
}

std::vector<std::string> client_args(const char* tool, const BrokerEnv& e, const Cred& c,
                                     const std::string& id) {
  return {tool, "-h", "127.0.0.1", "-p", std::to_string(e.port()), "-V", "5", "-i", id,
          "-u", c.username, "-P", c.password};
}

}  // namespace

TEST_CASE("conf/shortcred.conf in a conf.d directory loads the plugin, and mosquitto_pub/sub "
          "connect with -i <org>/<user>/… under its client_id_prefix",
          "[deploy]") {
  BrokerEnv e;
  const std::filesystem::path confd = e.files / "conf.d";
  std::filesystem::create_directory(confd);
  support::write_file(confd / "shortcred.conf", snippet_for(e));
  e.mosq->stop();
  e.mosq->set_extra_config("allow_anonymous false\npassword_file " + (e.files / "passwd").string() +
                           "\ninclude_dir " + confd.string() + "\n");
  REQUIRE(e.mosq->start());
  REQUIRE(e.mosq->log().find("shortcred: loaded") != std::string::npos);
  const Cred c = e.mint("org_dep", "alice");

  auto pub = client_args("mosquitto_pub", e, c, "org_dep/alice/pub-1");
  pub.insert(pub.end(), {"-t", "org_dep/users/alice/hello", "-m", "hi", "-r", "-q", "1"});
  const auto published = support::run(pub);
  INFO(published.err << e.mosq->log());
  REQUIRE(published.exit_code == 0);

  auto sub = client_args("mosquitto_sub", e, c, "org_dep/alice/sub-1");
  sub.insert(sub.end(), {"-t", "org_dep/users/alice/#", "-C", "1", "-W", "5"});
  const auto received = support::run(sub);
  CHECK(received.exit_code == 0);
  CHECK(received.out == "hi\n");

  // The prefix is enforced: a client id without it does not get in.
  auto bare = client_args("mosquitto_pub", e, c, "pub-1");
  bare.insert(bare.end(), {"-t", "org_dep/users/alice/hello", "-m", "no"});
  CHECK(support::run(bare).exit_code != 0);
}

TEST_CASE("a broker started while Redis is down runs, refuses shortcred clients without "
          "admitting any, and serves them within 3 s of Redis starting",
          "[deploy]") {
  BrokerEnv e("plugin_opt_sys_interval 1\n");
  e.mosq->stop();
  e.redis->stop();
  REQUIRE(e.mosq->start());
  CHECK(e.mosq->log().find("shortcred: loaded") != std::string::npos);
  // password_file accounts are Mosquitto's own: they work throughout.
  auto svc = e.observer("org_down/#");
  // Any well-formed credential: Redis cannot say whether it is valid.
  const Cred unchecked{"org_down", "dora", "0123456789abcdef", "dora@org_down",
                       "tkn_0123456789abcdef_" + std::string(40, 'a'), 0};
  for (int i = 0; i < 5; ++i) {
    MqttClient c(e.client(unchecked, "dora-" + std::to_string(i)));
    const int rc = c.connect(e.port());
    INFO("attempt " << i << ": " << rc);
    CHECK(e.redis_refusal(rc));
  }
  REQUIRE(support::wait_until(
      [&] { return e.mosq->log().find("revocation subscriber cannot reach Redis") != std::string::npos; },
      3s));

  e.redis->start();
  const auto started = std::chrono::steady_clock::now();
  e.rc = e.redis->connect();
  const Cred c = e.mint("org_down", "dora");
  std::unique_ptr<MqttClient> in;
  const bool admitted = support::wait_until(
      [&] {
        in = std::make_unique<MqttClient>(e.client(c, "dora-up"));
        return in->connect(e.port()) == 0;
      },
      3s, 50ms);
  INFO(e.mosq->log());
  REQUIRE(admitted);
  INFO("admitted " << std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::steady_clock::now() - started).count() << " ms after Redis started");
  // The revocation channel is subscribed again, so a revocation still kicks.
  REQUIRE(support::wait_until(
      [&] {
        auto r = e.redis_cmd({"PUBSUB", "NUMSUB", "shortcred:revoked"});
        return r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->integer >= 1;
      },
      3s, 20ms));
  e.redis_cmd({"DEL", "shortcred:{org_down}:cred:" + c.token_id});
  e.redis_cmd({"PUBLISH", "shortcred:revoked", "token org_down " + c.token_id});
  CHECK(in->wait_disconnected(1s));
}

namespace {

// What the recipe's client saw, from libmosquitto's own thread.
struct RecipeClient {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> connacks;
  int subacks = 0;
  bool disconnected = false;
  std::vector<std::string> payloads;

  template <class Pred>
  bool wait(Pred&& pred) {
    std::unique_lock l(mu);
    return cv.wait_for(l, 5s, pred);
  }
};

void on_connect(mosquitto*, void* obj, int rc, int, const mosquitto_property*) {
  auto& s = *static_cast<RecipeClient*>(obj);
  std::lock_guard l(s.mu);
  s.connacks.push_back(rc);
  s.disconnected = false;
  s.cv.notify_all();
}
void on_subscribe(mosquitto*, void* obj, int, int, const int*, const mosquitto_property*) {
  auto& s = *static_cast<RecipeClient*>(obj);
  std::lock_guard l(s.mu);
  ++s.subacks;
  s.cv.notify_all();
}
void on_disconnect(mosquitto*, void* obj, int, const mosquitto_property*) {
  auto& s = *static_cast<RecipeClient*>(obj);
  std::lock_guard l(s.mu);
  s.disconnected = true;
  s.cv.notify_all();
}
void on_message(mosquitto*, void* obj, const mosquitto_message* m, const mosquitto_property*) {
  auto& s = *static_cast<RecipeClient*>(obj);
  std::lock_guard l(s.mu);
  s.payloads.emplace_back(static_cast<const char*>(m->payload), static_cast<std::size_t>(m->payloadlen));
  s.cv.notify_all();
}

}  // namespace

// README "Refreshing credentials", the libmosquitto recipe, call for call: a
// new password, a clean disconnect, the loop thread joined, reconnect. The
// session (clean start off, session expiry in the first CONNECT) survives:
// its subscription delivers without a new SUBSCRIBE, and the QoS 1 messages
// published while it was away arrive after the reconnect.
TEST_CASE("the README's libmosquitto refresh recipe reconnects with the new credential into the "
          "same session",
          "[deploy]") {
  BrokerEnv e;
  auto svc = e.observer("org_ref/#");
  Cred cred = e.mint("org_ref", "rae");
  RecipeClient st;
  mosquitto_lib_init();
  mosquitto* m = mosquitto_new("rae-app", false, &st);  // clean_start = false
  REQUIRE(m != nullptr);
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_connect_v5_callback_set(m, on_connect);
  mosquitto_subscribe_v5_callback_set(m, on_subscribe);
  mosquitto_disconnect_v5_callback_set(m, on_disconnect);
  mosquitto_message_v5_callback_set(m, on_message);
  mosquitto_username_pw_set(m, cred.username.c_str(), cred.password.c_str());
  mosquitto_property* props = nullptr;
  mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 3600);
  REQUIRE(mosquitto_connect_bind_v5(m, "127.0.0.1", e.port(), 30, nullptr, props) == MOSQ_ERR_SUCCESS);
  mosquitto_property_free_all(&props);
  REQUIRE(mosquitto_loop_start(m) == MOSQ_ERR_SUCCESS);
  REQUIRE(st.wait([&] { return st.connacks.size() == 1; }));
  REQUIRE(st.connacks[0] == 0);
  REQUIRE(mosquitto_subscribe_v5(m, nullptr, "org_ref/users/rae/in", 1, 0, nullptr) == MOSQ_ERR_SUCCESS);
  REQUIRE(st.wait([&] { return st.subacks == 1; }));

  // At refresh_recommended_at: the backend's refresh, then the recipe.
  cred = e.mint("org_ref", "rae");
  mosquitto_username_pw_set(m, cred.username.c_str(), cred.password.c_str());
  mosquitto_disconnect_v5(m, 0, nullptr);
  mosquitto_loop_stop(m, false);
  REQUIRE(st.wait([&] { return st.disconnected; }));
  // Published while it is away: queued for the session, none lost.
  for (int i = 0; i < 5; ++i) {
    CHECK(svc->publish("org_ref/users/rae/in", "away-" + std::to_string(i), 1) == 0);
  }
  REQUIRE(mosquitto_reconnect(m) == MOSQ_ERR_SUCCESS);
  REQUIRE(mosquitto_loop_start(m) == MOSQ_ERR_SUCCESS);
  REQUIRE(st.wait([&] { return st.connacks.size() == 2; }));
  CHECK(st.connacks[1] == 0);
  CHECK(st.wait([&] { return st.payloads.size() == 5; }));
  CHECK(svc->publish("org_ref/users/rae/in", "after-refresh", 1) == 0);
  CHECK(st.wait([&] { return st.payloads.size() == 6; }));
  {
    std::lock_guard l(st.mu);
    CHECK(st.payloads == std::vector<std::string>{"away-0", "away-1", "away-2", "away-3", "away-4",
                                                  "after-refresh"});
  }
  // It is the new credential's session now.
  CHECK(support::wait_until(
      [&] { return e.mosq->log().find("authenticated with token " + cred.token_id) != std::string::npos; },
      2s));
  mosquitto_disconnect_v5(m, 0, nullptr);
  mosquitto_loop_stop(m, false);
  mosquitto_destroy(m);
}
