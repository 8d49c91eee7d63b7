// README "Refreshing credentials", the paho-mqtt and MQTT.js recipes run for
// real (the libmosquitto one is test_deploy.cpp's): each script
// (recipes/paho_refresh.py, ws_client/refresh_recipe.mjs) gets a credential
// from a real shortcred-tokend, holds a persistent MQTT 5 session subscribed
// at QoS 1 on a broker with the plugin, refreshes through the token service
// and follows the recipe's calls. Checked here: every QoS 1 message arrived
// once and in order, the session was resumed (session present, no new
// SUBSCRIBE), the broker admitted the new token, the refresh kept the
// lifetime, and the clean disconnect sent no will. Then the refreshed
// credential is revoked, and what the library reports for the broker's
// DISCONNECT 0x98 is checked against the README ("What a client sees").
#include <json/json.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "broker_env.hpp"
#include "tokend_process.hpp"

using namespace broker_test;

namespace {

Json::Value parse(const std::string& out) {
  Json::Value v;
  Json::CharReaderBuilder b;
  std::string errs;
  std::istringstream in(out);
  Json::parseFromStream(b, in, &v, &errs);
  return v;
}

// Runs `argv` + the script's JSON argument against a fresh broker, Redis and
// tokend, and checks what it reports and what the broker saw; returns the
// script's report.
Json::Value run_recipe(std::vector<std::string> argv, const std::string& user) {
  BrokerEnv e;
  REQUIRE(support::wait_until(
      [&] { return e.mosq->log().find("subscribed to shortcred:revoked") != std::string::npos; },
      3s));
  const std::string org = "org_recipe";
  const TokendProcess tokend = start_tokend(e.files, e.redis->url());
  REQUIRE(tokend.port != 0);
  const std::string bearer = make_api_key(e.redis->url(), org);
  auto wills = e.observer(org + "/users/" + user + "/will");

  Json::Value cfg;
  cfg["host"] = "127.0.0.1";
  cfg["port"] = e.port();
  cfg["tokend"] = tokend.base_url();
  cfg["api_key"] = bearer.substr(bearer.find("sk_"));
  cfg["svc_user"] = kServiceUser;
  cfg["svc_password"] = kServicePassword;
  cfg["org"] = org;
  cfg["user"] = user;
  cfg["client_id"] = org + "/" + user + "/app-1";
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  argv.push_back(Json::writeString(w, cfg));
  const auto r = support::run(argv);
  INFO("recipe output:\n" << r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const Json::Value v = parse(r.out);
  REQUIRE(v.isObject());
  CHECK(v["ok"].asBool());

  Json::Value expected(Json::arrayValue);
  for (const char* p : {"before", "away-0", "away-1", "away-2", "away-3", "away-4", "after"}) {
    expected.append(p);
  }
  CHECK(v["payloads"] == expected);
  REQUIRE(v["connacks"].size() == 2);
  CHECK(v["connacks"][0]["rc"].asInt() == 0);
  CHECK(v["connacks"][1]["rc"].asInt() == 0);
  CHECK(v["connacks"][1]["session_present"].asBool());
  // The refresh kept the credential's lifetime (no ttl_seconds given).
  CHECK(v["first_expires_in"].asInt() == 600);
  CHECK(v["second_expires_in"].asInt() == 600);
  const std::string log = e.mosq->log();
  const std::string first = v["first_token"].asString(), second = v["second_token"].asString();
  CHECK(first != second);
  CHECK(log.find("authenticated with token " + first) != std::string::npos);
  CHECK(log.find("authenticated with token " + second) != std::string::npos);
  CHECK(e.secret_in_log().empty());
  // The kick at the end is a revocation: no will either. A marker published
  // after both arrives after any will they had sent.
  CHECK(e.mosq->log().find("token " + second + " (org " + org + ") revoked") != std::string::npos);
  const std::string will_topic = org + "/users/" + user + "/will";
  REQUIRE(wills->publish(will_topic, "marker", 1) == 0);
  REQUIRE(wills->wait_message(will_topic, "marker"));
  CHECK(wills->count(will_topic) == 1);
  return v;
}

}  // namespace

TEST_CASE("the README's paho-mqtt refresh recipe reconnects with the refreshed credential into "
          "the same session, no QoS 1 message lost",
          "[recipes]") {
  const Json::Value v =
      run_recipe({SHORTCRED_SYSTEM_PYTHON, SHORTCRED_RECIPES_DIR "/paho_refresh.py"}, "pam");
  // paho 1.6 drops the reason of a DISCONNECT without properties (it reads
  // one only when the packet is longer than 2 bytes): the refresh's own
  // disconnect reports 0, the kick 7, "connection lost", not 152.
  CHECK(v["disconnects"] == parse("[0, 7]"));
}

TEST_CASE("the README's MQTT.js refresh recipe reconnects with the refreshed credential into the "
          "same session, no QoS 1 message lost",
          "[recipes]") {
  const std::filesystem::path mqtt_js =
      std::filesystem::path(SHORTCRED_WS_CLIENT_DIR) / "node_modules" / "mqtt" / "package.json";
  if (!std::filesystem::exists(mqtt_js)) {
    FAIL("MQTT.js is not installed in " SHORTCRED_WS_CLIENT_DIR
         ": build the target broker_ws_client (runs `npm ci`; needs node and npm)");
  }
  const Json::Value v =
      run_recipe({SHORTCRED_NODE_PATH, SHORTCRED_WS_CLIENT_DIR "/refresh_recipe.mjs"}, "jay");
  CHECK(v["disconnects"] == parse("[152]"));  // the `disconnect` event of the kick
}
