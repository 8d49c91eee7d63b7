// The plugin's `plugin_opt_*` settings (DESIGN.md "Broker plugin"), parsed and
// validated before anything else starts. Pure: no Mosquitto or Redis headers,
// so the unit tests exercise every rule.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shortcred/redis_url.hpp"
#include "shortcred/rules.hpp"

namespace shortcred::plugin {

// What happens to a client id that lacks client_id_prefix.
enum class PrefixMode { refuse, assign };

struct Options {
  std::string redis_url = "redis://127.0.0.1:6379/0";
  RedisEndpoint redis;                 // parsed redis_url
  int redis_timeout_ms = 50;           // broker-thread connect + command timeout
  std::string key_prefix = "shortcred:";
  std::string acl_file;                // empty: built-in default templates
  int revalidate_interval_s = 30;
  std::int64_t pub_rate = 0;           // per org, messages/s; 0 = unlimited
  std::int64_t pub_burst = 0;          // 0 = max(1, pub_rate)
  std::int64_t max_connections = 0;    // per org on this broker; 0 = unlimited
  std::string client_id_prefix;        // may contain %o and %u
  PrefixMode client_id_prefix_mode = PrefixMode::refuse;  // assign: 2.1's mosquitto_set_clientid
  bool delayed_auth = true;            // auto: CONNECT lookups off the broker thread where 2.1 allows
  int sys_interval_s = 10;             // $SYS counters + log line; 0 = off
  int auth_fail_per_address = 20;      // failed CONNECTs per minute per address before Redis; 0 = off
  int client_id_owner_ttl_s = 86400;   // a client id stays its user's this long after disconnect; 0 = off
  int auth_fail_token_s = 60;          // an unknown/expired token id is refused from memory until
                                       // this long after its last attempt; 0 = off
  // Prometheus endpoint (metrics_server.hpp): metrics_listen HOST:PORT, off
  // while metrics_port is 0. metrics_host is an IP address literal.
  std::string metrics_host;
  int metrics_port = 0;
  int metrics_top_orgs = 20;           // orgs with series of their own; the rest are org="other"
  std::string broker_id;               // empty: hostname:<first listener port> (presence.hpp)
  int presence_interval_s = 10;        // sessions hash heartbeat; 0 = presence (and caps across brokers) off
};

// One `plugin_opt_<name> <value>` pair as Mosquitto hands it over.
using RawOption = std::pair<std::string, std::string>;

// Parses every option. On failure returns false and `error` names the option,
// the value (never for redis_url's password) and what was expected. Unknown
// option names are errors too: a typo must not silently fall back to a default.
bool parse_options(const std::vector<RawOption>& raw, Options& out, std::string& error);

// Loads the ACL templates: the acl_file when set, else default_templates().
// On failure returns false and `error` lists each bad line.
bool load_templates(const std::string& acl_file, std::vector<Rule>& out, std::string& error);

// `client_id_prefix` with %o and %u substituted.
std::string expand_prefix(std::string_view prefix, std::string_view org, std::string_view user);

}  // namespace shortcred::plugin
