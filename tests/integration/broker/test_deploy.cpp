// Deploying the plugin as the README says: conf/shortcred.conf dropped into
// a conf.d directory, tenants using the stock mosquitto_sub / mosquitto_pub
// with `-i <org>/<user>/…` under its client_id_prefix, and a broker started
// while Redis is down.
#include <catch2/catch.hpp>

#include <filesystem>
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
                         "plugin_opt_redis_url " + e.redis.url());
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
  e.redis.stop();
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

  e.redis.start();
  const auto started = std::chrono::steady_clock::now();
  e.rc = e.redis.connect();
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
