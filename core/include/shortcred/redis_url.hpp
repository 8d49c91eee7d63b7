// The one Redis connection string of every binary (DESIGN.md part 2, "Redis
// deployments"):
//
//   redis://[user:pass@]host[:port][/db]                 one server
//   unix:///path[?db=N]                                  one server, unix socket
//   rediss://[user:pass@]host[:port][/db][?tls]          one server over TLS
//   redis-sentinel://[user:pass@]h1[:26379][,h2[:p]]…[/db]?master=NAME
//       [&sentinel_user=U&sentinel_password=P]           Sentinel (rediss-sentinel:// over TLS)
//   redis-cluster://[user:pass@]h1[:6379][,h2[:p]]…      Cluster seeds (rediss-cluster://)
//
// tls = ca_file=PATH, cert_file=PATH + key_file=PATH, server_name=NAME,
// verify=full|none, each at most once, values percent-encoded. A TLS option
// on a plain scheme, an unknown parameter, and verify=none towards a host
// that is not a loopback address are errors. Files are not opened here (core
// does no I/O): redis::check_tls_files does that at startup.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "shortcred/errc.hpp"

namespace shortcred {

struct RedisNode {
  std::string host;
  int port = 6379;
};

struct RedisTls {
  bool enabled = false;
  std::string ca_file;      // empty: the system trust store
  std::string cert_file;    // client certificate (with key_file)
  std::string key_file;
  std::string server_name;  // SNI and the verified name; empty: the host connected to
  bool verify = true;       // false only towards loopback hosts
};

struct RedisEndpoint {
  enum class Kind { single, sentinel, cluster };
  Kind kind = Kind::single;
  // Kind::single: the server.
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_path;  // non-empty for unix://
  // Kind::sentinel: the sentinels; Kind::cluster: the seeds.
  std::vector<RedisNode> nodes;
  std::string master_name;  // sentinel: the monitored master's name
  std::string sentinel_username;
  std::string sentinel_password;  // never logged
  // The data nodes' credentials and database (cluster: always 0).
  std::string username;
  std::string password;  // never logged; see redacted()
  int db = 0;
  RedisTls tls;

  // The URL without the passwords, for logs and error messages.
  std::string redacted() const;
  // A Kind::single endpoint for one data node `n`: the same credentials,
  // database and TLS settings (an explicit server_name is kept).
  RedisEndpoint at(const RedisNode& n) const;
  // A Kind::single endpoint for sentinel `n`: the sentinel credentials,
  // database 0, the same TLS settings.
  RedisEndpoint sentinel_at(const RedisNode& n) const;
};

inline constexpr std::string_view kDefaultRedisUrl = "redis://127.0.0.1:6379/0";
inline constexpr int kDefaultSentinelPort = 26379;

// On error returns Errc::bad_url, leaves `out` untouched and, in the second
// form, sets `error` to a sentence naming the part that is wrong (never a
// password), e.g. "unknown query parameter 'verfy'".
Errc parse_redis_url(std::string_view url, RedisEndpoint& out);
Errc parse_redis_url(std::string_view url, RedisEndpoint& out, std::string& error);

// `localhost`, 127.0.0.0/8 or ::1 as written (no name resolution).
bool is_loopback_host(std::string_view host) noexcept;

}  // namespace shortcred
