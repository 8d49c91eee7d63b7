// Shared fixture of the broker tests: a real redis-server, a real mosquitto
// loading mosquitto_shortcred.so, an internal service account (password_file
// + Mosquitto's own acl_file) used as an all-seeing observer, and helpers that
// write credentials exactly as DESIGN.md's Redis schema says.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/redis/connection.hpp"
#include "support/mosquitto_server.hpp"
#include "support/mqtt_client.hpp"
#include "support/process.hpp"
#include "support/redis_cluster.hpp"
#include "support/redis_server.hpp"
#include "support/tls_certs.hpp"
#include "support/wait.hpp"

namespace broker_test {

using namespace std::chrono_literals;

inline constexpr const char* kServiceUser = "svc";
inline constexpr const char* kServicePassword = "svc-password";

struct Cred {
  std::string org, user, token_id, username, password;
  std::int64_t expires_at_ms = 0;
};

std::int64_t now_ms();

struct MintOptions {
  std::chrono::milliseconds ttl = std::chrono::minutes(60);
  std::vector<std::string> scope;
  std::string client_id;  // binding
  // false: no PEXPIREAT, so the key outlives expires_at (only the plugin's
  // own expiry check refuses it).
  bool redis_expiry = true;
};
inline MintOptions with_ttl(std::chrono::milliseconds t) {
  MintOptions o;
  o.ttl = t;
  return o;
}
inline MintOptions with_scope(std::vector<std::string> s) {
  MintOptions o;
  o.scope = std::move(s);
  return o;
}
inline MintOptions with_binding(std::string cid) {
  MintOptions o;
  o.client_id = std::move(cid);
  return o;
}

// A password_file account beside the built-in service account, with its
// lines for Mosquitto's acl_file.
struct Account {
  std::string user, password;
  std::string acl;  // e.g. "topic readwrite x/#\n"
};

// mosquitto.conf lines of a loopback WebSockets listener on `port` (WSS with
// `tls`'s server certificate). Mosquitto 2.0.21 (libwebsockets 4.1) needs,
// for a websockets listener:
//  - at least one non-websockets listener in the same broker, else it exits
//    with "Unable to start any listening sockets" (BrokerEnv's plain one);
//  - `socket_domain ipv4` (or ipv6) for the bind address to be honoured:
//    without it, `listener 9001 127.0.0.1` + `protocol websockets` listens
//    on every interface (`*:9001`, IPv4 and IPv6).
// 2.1.x (its own WebSockets code) needs neither and accepts this form too.
std::string ws_listener(int port, const support::TestCerts* tls = nullptr);

// A server process that binds the port it is given and prints `ready(port)`
// once it listens. free_port() can race with other processes: a server that
// exits without printing it (lost its port) is tried again on another port,
// three times in all. Throws with the log if none comes up.
struct Listening {
  support::Process proc;
  int port = 0;
};
Listening start_listening(const std::function<std::vector<std::string>(int port)>& argv,
                          const std::function<std::string(int port)>& ready,
                          const std::filesystem::path& log,
                          const std::vector<std::string>& extra_env = {});
// shortcred-tokend on a free loopback port, on `redis_url`.
Listening start_tokend(const std::string& redis_url, const std::filesystem::path& log);

class BrokerEnv {
 public:
  // `plugin_opts`: extra plugin_opt_* lines; `extra_conf`: other mosquitto
  // lines; `binary`: the broker to run ("" = support::mosquitto_binary()).
  explicit BrokerEnv(std::string plugin_opts = "", std::string extra_conf = "",
                     bool expect_running = true, const std::vector<Account>& accounts = {},
                     std::string binary = "");
  // As above on a Redis started with `redis_options` (e.g. TLS only).
  BrokerEnv(support::RedisServerOptions redis_options, std::string plugin_opts,
            std::string extra_conf = "");
  // As above on a Redis Cluster the test owns and keeps alive longer than
  // this env (one cluster can serve several envs in turn): no redis-server
  // of its own (`redis` is empty), the plugin gets the cluster's URL, and
  // mint(), set_org() and redis_cmd() route by key slot.
  BrokerEnv(const support::RedisCluster& cluster, std::string plugin_opts);

  // The URL of the Redis deployment (own server or cluster), for the plugin,
  // tokend and shortcredctl.
  std::string redis_url() const;

  // The config a broker of this env uses (plugin + service account).
  std::string config(const std::string& plugin_opts, const std::string& extra_conf) const;

  Cred mint(const std::string& org, const std::string& user, const MintOptions& o = {});
  void set_org(const std::string& org, const std::vector<std::pair<std::string, std::string>>& fields);
  shortcred::redis::Reply redis_cmd(std::initializer_list<std::string_view> argv);
  // A command without keys (SCRIPT FLUSH, CONFIG SET…) on every master: the
  // server itself, or each master of the cluster.
  void redis_cmd_on_masters(const std::vector<std::string>& argv);

  support::MqttClient::Options client(const Cred& c, std::string client_id, int protocol = 5) const;
  std::unique_ptr<support::MqttClient> connect(const Cred& c, std::string client_id,
                                               int protocol = 5, int* rc_out = nullptr);
  // The service account, subscribed to `filter` (default `#`).
  std::unique_ptr<support::MqttClient> observer(const std::string& filter = "#");

  int port() const { return mosq->port(); }

  // Whether the plugin answers CONNECT lookups off the broker thread (2.1's
  // delayed basic auth; its load line says so). Then a CONNECT whose lookup
  // fails on Redis gets "not authorised" — the only refusal Mosquitto's
  // mosquitto_complete_basic_auth() sends — instead of a close without a
  // CONNACK; once the breaker is open, refusals are a close again.
  bool delayed_auth() const;
  // Whether `rc` is how this broker refuses a CONNECT that Redis could not check.
  bool redis_refusal(int rc) const;
  // Whether the broker sends the plugin's MQTT 5 CONNACK reasons on (2.1;
  // its load line says "Mosquitto 2.1 or later").
  bool connack_reasons() const;
  // The CONNACK code a client of `protocol` (5, or 4 = 3.1.1) gets for a
  // refusal whose MQTT 5 reason is `reason` (README "What a client sees"),
  // decided before the Redis lookup or, `after_lookup`, from its answer
  // (then 0x87 under delayed auth, the only refusal 2.1 lets it send).
  int refusal(int reason, int protocol = 5, bool after_lookup = false) const;
  // The last value of `counter` (e.g. "sessions/live") in the plugin's
  // periodic counters log line (plugin_opt_sys_interval), or -1 if none yet.
  long last_counter(const std::string& counter) const;
  // How many times Redis ran `command` (lower case, e.g. "hgetall"), from
  // INFO commandstats (summed over the masters of a cluster).
  std::uint64_t redis_calls(const std::string& command);

  // The first secret found in the mosquitto log, or "" if none: a full
  // password (`tkn_<16>_<40>`), an `sk_` API key, any password minted by this
  // env, or any of `also`. Log lines may carry token ids, never secrets.
  std::string secret_in_log(const std::vector<std::string>& also = {}) const;

  support::TempDir files{"shortcred-broker-test"};
  std::optional<support::RedisServer> redis;  // empty on a cluster
  const support::RedisCluster* cluster = nullptr;
  std::unique_ptr<support::MosquittoServer> mosq;
  shortcred::redis::Connection rc;  // to `redis`
  std::vector<std::string> minted_passwords;

 private:
  void init(const std::string& plugin_opts, const std::string& extra_conf, bool expect_running,
            const std::vector<Account>& accounts, std::string binary);
  shortcred::redis::Reply command(const std::vector<std::string>& argv);
  shortcred::redis::Client cluster_rc_;  // to `cluster`, routed by slot
};

}  // namespace broker_test
