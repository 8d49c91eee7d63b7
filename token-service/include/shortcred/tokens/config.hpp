// shortcred-tokend configuration: flags with SHORTCRED_<FLAG> environment
// fallbacks (flag wins). Errors name the option, the value and what was
// expected, and stop startup.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "shortcred/redis_url.hpp"

namespace shortcred::tokens {

struct ServiceConfig {
  std::string listen_host = "127.0.0.1";
  int listen_port = 8080;
  std::string redis_url{kDefaultRedisUrl};
  RedisEndpoint redis;
  int threads = 64;                 // worker threads; each serves one connection at a time
  std::int64_t default_ttl = 3600;  // seconds
  std::int64_t max_ttl = 86400;
  std::string key_prefix = "shortcred:";
  // Credentials per second per API key (burst one second's worth); 0 =
  // unlimited. On by default: one key minting without bound fills a user's
  // index and the keyspace for every tenant.
  double issue_rate = 50;
  std::string tls_cert, tls_key;
  bool log_json = false;
  int redis_timeout_ms = 500;  // connect and command timeout
  int min_replicas = 0;        // WAIT for this many replicas after issue/revoke
  int replica_timeout_ms = 100;
  int read_timeout_s = 5;      // a request (head and body) must arrive completely within
                               // this, from its first byte (connection_watchdog.hpp)
  int idle_timeout_s = 5;      // keep-alive connections idle longer are closed
  bool reuse_port = false;     // SO_REUSEPORT: share the port on purpose
  int presence_interval_s = 10;  // the brokers' presence heartbeat (sessions.hpp)
  int max_conns_per_ip = 32;   // connections one client address may hold (queued or served)
  // --metrics-listen: /metrics on its own listener (plain HTTP) instead of
  // on the API port; port -1 = off.
  std::string metrics_host;
  int metrics_port = -1;
  bool separate_metrics() const { return metrics_port >= 0; }
  // Identity providers' key sets (POST /v2/tokens/exchange): the CA bundle
  // their https URLs are verified against (empty: the system store) and the
  // bound of one fetch, connect included.
  std::string jwks_ca_file;
  int jwks_timeout_ms = 2000;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_env();

enum class ConfigOutcome { run, help, error };
// `args` excludes argv[0]. On error, `message` says what is wrong; on help
// (--help or --version), `message` holds the text to print.
ConfigOutcome parse_config(const std::vector<std::string>& args, const EnvLookup& env,
                           ServiceConfig& out, std::string& message);

std::string help_text();

// HOST:PORT as --listen takes it: an IPv6 host in brackets ([::1]:8080).
std::string host_port(const std::string& host, int port);

// Whether the log is to be JSON by what `args` and `env` say, for the one
// message written before parse_config succeeds (a configuration error).
bool wants_json_log(const std::vector<std::string>& args, const EnvLookup& env);

}  // namespace shortcred::tokens
