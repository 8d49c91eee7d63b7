// rediss://: the whole flow (shortcredctl, tokend, the broker plugin) against
// a redis-server that listens on TLS only, and every way a TLS connection must
// be refused: an untrusted server, a wrong name, a missing client
// certificate, verify=none to a non-loopback host, an unreadable file.
#include <catch2/catch.hpp>

#include <chrono>

#include "broker_env.hpp"
#include "shortcred/redis/connection.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "tokend_process.hpp"

using namespace broker_test;
using namespace std::chrono_literals;
using support::MqttClient;

namespace {

support::RedisServerOptions tls_redis(bool require_client_cert = true) {
  support::RedisServerOptions o;
  o.tls = true;
  o.require_client_cert = require_client_cert;
  return o;
}

// Opens `url` with the library every binary uses; "" if it connected and
// answered PING, else the error.
std::string open_error(const std::string& url) {
  shortcred::RedisEndpoint ep;
  std::string err;
  if (shortcred::parse_redis_url(url, ep, err) != shortcred::Errc::ok) return "parse: " + err;
  auto c = shortcred::redis::Connection::open(ep, 2000ms, err);
  if (!c.ok()) return err.empty() ? "failed without a reason" : err;
  auto r = c.command({"PING"});
  return shortcred::redis::to_string(r.get()) == "PONG" ? "" : "PING: " + c.error();
}

std::string base_url(const support::RedisServer& r) {
  return "rediss://127.0.0.1:" + std::to_string(r.port()) + "/0";
}

}  // namespace

TEST_CASE("over rediss:// with a client certificate: mint, CONNECT, revoke and shortcredctl work",
          "[redis_tls]") {
  BrokerEnv e(tls_redis(), "plugin_opt_revalidate_interval_s 1\n");
  const std::string url = e.redis->url();
  REQUIRE(url.starts_with("rediss://"));
  // The server has no plaintext port at all.
  CHECK_FALSE(open_error("redis://127.0.0.1:" + std::to_string(e.redis->port())).empty());

  const std::string auth = make_api_key(url, "orgT");
  auto tokend = start_tokend(e.files, url);
  REQUIRE(tokend.port != 0);
  support::HttpClient http(tokend.base_url());
  const auto issued = http.request("POST", "/v2/tokens", R"({"user_id":"tina"})", {auth});
  INFO(issued.body);
  REQUIRE(issued.status == 201);
  const Cred c{"orgT", "tina", json_field(issued.body, "token_id"),
               json_field(issued.body, "username"), json_field(issued.body, "password"), 0};
  e.minted_passwords.push_back(c.password);

  int rc = -1;
  auto client = e.connect(c, "tina-1", 5, &rc);
  REQUIRE(rc == 0);
  CHECK(client->publish("orgT/users/tina/x", "hello") == 0);
  REQUIRE(support::wait_until(
      [&] { return e.mosq->log().find("subscribed to shortcred:revoked") != std::string::npos; },
      3s));
  // The revocation travels over TLS twice: tokend's PUBLISH, the plugin's
  // subscription.
  REQUIRE(http.request("DELETE", "/v2/tokens/" + c.token_id, "", {auth}).status == 204);
  CHECK(client->wait_disconnected(1s));
  MqttClient again(e.client(c, "tina-2"));
  CHECK(again.connect(e.port()) == 0x87);

  const auto listed = run_ctl(url, {"--json", "token", "list", "--org", "orgT"});
  CHECK(listed.exit_code == 0);
  // Logs show where Redis is, never how to log in to it.
  CHECK(e.mosq->log().find("rediss://127.0.0.1:" + std::to_string(e.redis->port())) !=
        std::string::npos);
  CHECK(e.secret_in_log().empty());
}

TEST_CASE("TLS refuses an untrusted server, a wrong name and a missing client certificate",
          "[redis_tls]") {
  support::RedisServer redis(tls_redis());
  const auto& certs = redis.certs();
  const std::string client = "&cert_file=" + certs.client_cert + "&key_file=" + certs.client_key;
  REQUIRE(open_error(redis.url()) == "");
  // The certificate names localhost too (DNS SAN): verified with SNI.
  CHECK(open_error(base_url(redis) + "?ca_file=" + certs.ca_cert + client +
                   "&server_name=localhost") == "");

  support::TempDir other("shortcred-other-ca");
  const auto other_ca = support::make_test_certs(other.path());
  const auto wrong_ca = open_error(base_url(redis) + "?ca_file=" + other_ca.ca_cert + client);
  INFO(wrong_ca);
  CHECK(wrong_ca.find("certificate verification failed") != std::string::npos);

  const auto wrong_name = open_error(base_url(redis) + "?ca_file=" + certs.ca_cert + client +
                                     "&server_name=redis.example.com");
  INFO(wrong_name);
  CHECK(wrong_name.find("hostname mismatch") != std::string::npos);

  // The system trust store does not know the test CA.
  const auto system_store = open_error(base_url(redis) + "?cert_file=" + certs.client_cert +
                                       "&key_file=" + certs.client_key);
  CHECK(system_store.find("certificate verification failed") != std::string::npos);

  const auto no_client_cert = open_error(base_url(redis) + "?ca_file=" + certs.ca_cert);
  INFO(no_client_cert);
  CHECK_FALSE(no_client_cert.empty());
  const auto ctl = run_ctl(base_url(redis) + "?ca_file=" + certs.ca_cert, {"org", "show", "o"});
  CHECK(ctl.exit_code != 0);
  CHECK(ctl.err.find("127.0.0.1:" + std::to_string(redis.port())) != std::string::npos);

  // verify=none is for loopback only, and then connects to an untrusted server.
  CHECK(open_error(base_url(redis) + "?verify=none" + client) == "");

  // Without --tls-auth-clients, no client certificate is needed.
  support::RedisServer open_redis(tls_redis(false));
  CHECK(open_error(base_url(open_redis) + "?ca_file=" + open_redis.certs().ca_cert) == "");
}

TEST_CASE("a broker whose Redis certificate does not verify refuses CONNECTs (fail closed)",
          "[redis_tls]") {
  support::TempDir other("shortcred-other-ca");
  const auto other_ca = support::make_test_certs(other.path());
  support::RedisServer redis(tls_redis());
  const auto& certs = redis.certs();
  BrokerEnv e(tls_redis(), "plugin_opt_redis_url " + base_url(redis) + "?ca_file=" +
                               other_ca.ca_cert + "&cert_file=" + certs.client_cert +
                               "&key_file=" + certs.client_key + "\n");
  // The env's own Redis holds the credential; the plugin's (last
  // redis_url line wins) cannot be verified.
  const Cred c = e.mint("orgV", "vic");
  int rc = -1;
  auto client = e.connect(c, "vic-1", 5, &rc);
  CHECK(e.redis_refusal(rc));
  CHECK(support::wait_until(
      [&] { return e.mosq->log().find("certificate verification failed") != std::string::npos; },
      3s));
}

TEST_CASE("verify=none to a non-loopback host and unreadable TLS files stop startup",
          "[redis_tls]") {
  const std::string remote = "rediss://:hunter2@192.0.2.10:6380/0?verify=none";
  const std::string missing = "rediss://127.0.0.1:1/0?ca_file=/nonexistent/ca.pem";

  const auto t1 = support::run({SHORTCRED_TOKEND_PATH, "--redis", remote});
  CHECK(t1.exit_code == 2);
  CHECK(t1.err.find("verify=none is refused: the host is not a loopback address") !=
        std::string::npos);
  CHECK(t1.err.find("hunter2") == std::string::npos);
  const auto t2 = support::run({SHORTCRED_TOKEND_PATH, "--redis", missing});
  CHECK(t2.exit_code == 2);
  CHECK(t2.err.find("ca_file '/nonexistent/ca.pem' cannot be read") != std::string::npos);

  const auto c1 = run_ctl(remote, {"org", "show", "o"});
  CHECK(c1.exit_code == 2);
  CHECK(c1.err.find("verify=none is refused") != std::string::npos);
  const auto c2 = run_ctl(missing, {"org", "show", "o"});
  CHECK(c2.exit_code == 2);
  CHECK(c2.err.find("cannot be read") != std::string::npos);

  for (const auto& [url, says] :
       {std::pair<std::string, std::string>{remote, "verify=none is refused"},
        {missing, "ca_file '/nonexistent/ca.pem' cannot be read"}}) {
    INFO(url);
    BrokerEnv e("plugin_opt_redis_url " + url + "\n", "", false);
    CHECK_FALSE(e.mosq->running());
    CHECK(e.mosq->log().find("plugin_opt_redis_url") != std::string::npos);
    CHECK(e.mosq->log().find(says) != std::string::npos);
    CHECK(e.mosq->log().find("hunter2") == std::string::npos);
  }
}
