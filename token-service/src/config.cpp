#include "shortcred/tokens/config.hpp"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>

#include "shortcred/redis/transport.hpp"
#include "shortcred/schema.hpp"

namespace shortcred::tokens {
namespace {

struct Flag {
  const char* name;  // without "--"
  const char* env;
  const char* arg;
  const char* help;
  bool boolean = false;  // `--flag` alone means on; `--flag=off`, env `0`/`no`… mean off
};

// One table for parsing, environment names and --help.
const std::vector<Flag> kFlags{
    {"listen", "SHORTCRED_LISTEN", "HOST:PORT", "address to listen on (default 127.0.0.1:8080)"},
    {"metrics-listen", "SHORTCRED_METRICS_LISTEN", "HOST:PORT",
     "serve GET /metrics on this address instead of on --listen\n"
     "                          (plain HTTP; /metrics on --listen is then 404)"},
    {"redis", "SHORTCRED_REDIS_URL", "URL",
     "redis://, rediss://, redis-sentinel://, rediss-sentinel://,\n"
     "                          redis-cluster://, rediss-cluster:// or unix:// (README)\n"
     "                          (default redis://127.0.0.1:6379/0)"},
    {"threads", "SHORTCRED_THREADS", "N",
     "worker threads, 1-1024 (default 64); each serves one keep-alive\n"
     "                          connection at a time and holds one Redis connection"},
    {"default-ttl", "SHORTCRED_DEFAULT_TTL", "S",
     "credential lifetime when neither request nor org sets one (default 3600)"},
    {"max-ttl", "SHORTCRED_MAX_TTL", "S",
     "upper bound of ttl_seconds when the org sets no max_ttl (default 86400)"},
    {"key-prefix", "SHORTCRED_KEY_PREFIX", "P", "Redis key prefix (default shortcred:)"},
    {"issue-rate", "SHORTCRED_ISSUE_RATE", "N",
     "credentials per second per API key, burst N (default 50; 0 = unlimited);\n"
     "                          excess requests get 429 with Retry-After"},
    {"tls-cert", "SHORTCRED_TLS_CERT", "F", "PEM certificate chain: serve HTTPS (needs --tls-key)"},
    {"tls-key", "SHORTCRED_TLS_KEY", "F", "PEM private key of --tls-cert"},
    {"log-format", "SHORTCRED_LOG_FORMAT", "text|json",
     "format of every line on stderr: access and lifecycle (default text)"},
    {"redis-timeout-ms", "SHORTCRED_REDIS_TIMEOUT_MS", "MS",
     "Redis connect and command timeout (default 500)"},
    {"min-replicas", "SHORTCRED_MIN_REPLICAS", "N",
     "replicas that must confirm (WAIT) an issue or revocation before it\n"
     "                          is acknowledged, else 503 not_replicated (default 0)"},
    {"replica-timeout-ms", "SHORTCRED_REPLICA_TIMEOUT_MS", "MS",
     "how long WAIT waits for --min-replicas (default 100)"},
    {"read-timeout", "SHORTCRED_READ_TIMEOUT", "S",
     "seconds a client may take to send a request (default 5)"},
    {"idle-timeout", "SHORTCRED_IDLE_TIMEOUT", "S",
     "seconds an idle keep-alive connection is kept (default 5)"},
    {"max-conns-per-ip", "SHORTCRED_MAX_CONNS_PER_IP", "N",
     "connections one client address may hold, 1-65535 (default 32);\n"
     "                          more are closed when accepted. Behind a proxy raise it"},
    {"jwks-ca-file", "SHORTCRED_JWKS_CA_FILE", "F",
     "PEM CA bundle for identity providers' key set URLs\n"
     "                          (default: the system trust store)"},
    {"jwks-timeout-ms", "SHORTCRED_JWKS_TIMEOUT_MS", "MS",
     "bound of one key set fetch, connect included (default 2000)"},
    {"presence-interval", "SHORTCRED_PRESENCE_INTERVAL", "S",
     "the brokers' plugin_opt_presence_interval_s, 1-3600 (default 10);\n"
     "                          sessions unseen for 3 intervals are stale"},
    {"reuse-port", "SHORTCRED_REUSE_PORT", "[=on|off]",
     "share --listen with other processes that also ask for it\n"
     "                          (SO_REUSEPORT); off: a port in use stops startup",
     true},
};

bool parse_int(const std::string& s, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  std::uint64_t v = 0;
  if (!parse_u64(s, v) || v > static_cast<std::uint64_t>(hi) || static_cast<std::int64_t>(v) < lo) {
    return false;
  }
  out = static_cast<std::int64_t>(v);
  return true;
}

std::string bad(const std::string& flag, const std::string& value, const std::string& expected) {
  return "--" + flag + " '" + value + "': expected " + expected;
}

bool readable(const std::string& path) {
  return std::ifstream(path).good();
}

// `HOST:PORT`, `[v6]:PORT`; false if malformed.
bool parse_host_port(const std::string& v, std::string& host, int& port) {
  std::int64_t n = 0;
  const auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0 || !parse_int(v.substr(colon + 1), 0, 65535, n)) {
    return false;
  }
  host = v.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  port = static_cast<int>(n);
  return true;
}

// Applies one option; returns an error message or "".
std::string apply(ServiceConfig& c, const std::string& name, const std::string& v) {
  std::int64_t n = 0;
  if (name == "listen") {
    if (!parse_host_port(v, c.listen_host, c.listen_port)) {
      return bad(name, v, "HOST:PORT with a port in 0-65535");
    }
  } else if (name == "metrics-listen") {
    if (v.empty()) {  // SHORTCRED_METRICS_LISTEN= : off, as when unset
      c.metrics_port = -1;
    } else if (!parse_host_port(v, c.metrics_host, c.metrics_port)) {
      return bad(name, v, "HOST:PORT with a port in 0-65535 (empty: off)");
    }
  } else if (name == "redis") {
    std::string why;
    if (parse_redis_url(v, c.redis, why) != Errc::ok) return "--redis: " + why;
    if (!redis::check_tls_files(c.redis, why)) return "--redis: " + why;
    c.redis_url = v;
  } else if (name == "threads") {
    if (!parse_int(v, 1, 1024, n)) return bad(name, v, "a whole number in 1-1024");
    c.threads = static_cast<int>(n);
  } else if (name == "default-ttl") {
    if (!parse_int(v, 60, 365LL * 86400, n)) return bad(name, v, "seconds, at least 60");
    c.default_ttl = n;
  } else if (name == "max-ttl") {
    if (!parse_int(v, 60, 365LL * 86400, n)) return bad(name, v, "seconds in 60-31536000");
    c.max_ttl = n;
  } else if (name == "key-prefix") {
    // A brace would move the {<org>} hash tag, and with it the org's keys
    // out of one Cluster slot (its MULTI/EXEC would fail).
    if (v.empty() || v.find_first_of("{}") != std::string::npos) {
      return bad(name, v, "a non-empty prefix without '{' or '}'");
    }
    c.key_prefix = v;
  } else if (name == "issue-rate") {
    char* end = nullptr;
    const double r = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(r) || r < 0) {
      return bad(name, v, "a non-negative number (0 = unlimited)");
    }
    c.issue_rate = r;
  } else if (name == "jwks-ca-file") {
    if (!readable(v)) return bad(name, v, "a readable PEM file");
    c.jwks_ca_file = v;
  } else if (name == "jwks-timeout-ms") {
    if (!parse_int(v, 100, 30000, n)) return bad(name, v, "milliseconds in 100-30000");
    c.jwks_timeout_ms = static_cast<int>(n);
  } else if (name == "tls-cert" || name == "tls-key") {
    if (!readable(v)) return bad(name, v, "a readable PEM file");
    (name == "tls-cert" ? c.tls_cert : c.tls_key) = v;
  } else if (name == "log-format") {
    if (v != "text" && v != "json") return bad(name, v, "text or json");
    c.log_json = v == "json";
  } else if (name == "min-replicas") {
    if (!parse_int(v, 0, 64, n)) return bad(name, v, "a whole number in 0-64");
    c.min_replicas = static_cast<int>(n);
  } else if (name == "replica-timeout-ms") {
    if (!parse_int(v, 1, 60000, n)) return bad(name, v, "milliseconds in 1-60000");
    c.replica_timeout_ms = static_cast<int>(n);
  } else if (name == "redis-timeout-ms") {
    if (!parse_int(v, 1, 60000, n)) return bad(name, v, "milliseconds in 1-60000");
    c.redis_timeout_ms = static_cast<int>(n);
  } else if (name == "max-conns-per-ip") {
    if (!parse_int(v, 1, 65535, n)) return bad(name, v, "a whole number in 1-65535");
    c.max_conns_per_ip = static_cast<int>(n);
  } else if (name == "reuse-port") {
    const std::optional<bool> on = parse_flag_word(v);
    if (!on) return bad(name, v, "on or off (1/0, true/false, yes/no)");
    c.reuse_port = *on;
  } else if (name == "presence-interval") {
    if (!parse_int(v, 1, 3600, n)) return bad(name, v, "seconds in 1-3600");
    c.presence_interval_s = static_cast<int>(n);
  } else if (name == "read-timeout" || name == "idle-timeout") {
    if (!parse_int(v, 1, 3600, n)) return bad(name, v, "seconds in 1-3600");
    (name == "read-timeout" ? c.read_timeout_s : c.idle_timeout_s) = static_cast<int>(n);
  }
  return {};
}

}  // namespace

EnvLookup process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string host_port(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string help_text() {
  std::string h =
      "Usage: shortcred-tokend [options]\n\n"
      "Issues short-lived MQTT credentials over HTTP (API v2) into Redis.\n"
      "Every option also reads the environment variable shown; the flag wins.\n\n";
  for (const auto& f : kFlags) {
    std::string left = std::string("  --") + f.name + (f.boolean ? "" : " ") + f.arg;
    // A long flag takes a line of its own, the help below it.
    left = left.size() < 26 ? left + std::string(26 - left.size(), ' ')
                            : left + "\n" + std::string(26, ' ');
    h += left + f.help + "\n" + std::string(26, ' ') + "[env " + f.env + "]\n";
  }
  h += "  --help                  this text\n";
  h += "  --version               the version\n";
  return h;
}

bool wants_json_log(const std::vector<std::string>& args, const EnvLookup& env) {
  std::optional<std::string> format;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i].rfind("--log-format=", 0) == 0) {
      format = args[i].substr(13);
    } else if (args[i] == "--log-format" && i + 1 < args.size()) {
      format = args[++i];
    }
  }
  if (!format) format = env("SHORTCRED_LOG_FORMAT");
  return format == "json";
}

ConfigOutcome parse_config(const std::vector<std::string>& args, const EnvLookup& env,
                           ServiceConfig& out, std::string& message) {
  ServiceConfig c;
  parse_redis_url(c.redis_url, c.redis);
  std::map<std::string, std::string> given;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      message = help_text();
      return ConfigOutcome::help;
    }
    if (a == "--version") {
      message = "shortcred-tokend " SHORTCRED_VERSION "\n";
      return ConfigOutcome::help;
    }
    if (a.rfind("--", 0) != 0) {
      message = "unexpected argument '" + a + "' (options start with --; see --help)";
      return ConfigOutcome::error;
    }
    std::string name = a.substr(2), value;
    const auto eq = name.find('=');
    if (eq != std::string::npos) name.resize(eq);
    const Flag* flag = nullptr;
    for (const auto& f : kFlags) flag = name == f.name ? &f : flag;
    if (flag == nullptr) {
      message = "unknown option --" + name + " (see --help)";
      return ConfigOutcome::error;
    }
    if (eq != std::string::npos) {
      value = a.substr(2 + eq + 1);
    } else if (flag->boolean) {
      value = "on";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      message = "--" + name + " needs a value";
      return ConfigOutcome::error;
    }
    given[name] = value;
  }
  for (const auto& f : kFlags) {
    std::optional<std::string> v;
    std::string source;
    if (auto it = given.find(f.name); it != given.end()) {
      v = it->second;
    } else if ((v = env(f.env))) {
      source = std::string(" (from ") + f.env + ")";
    }
    if (!v) continue;
    if (std::string e = apply(c, f.name, *v); !e.empty()) {
      message = e + source;
      return ConfigOutcome::error;
    }
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    message = "--tls-cert and --tls-key must be given together";
    return ConfigOutcome::error;
  }
  if (c.separate_metrics() && c.metrics_port != 0 && c.metrics_port == c.listen_port &&
      c.metrics_host == c.listen_host) {
    message =
        "--metrics-listen must differ from --listen (leave it unset to serve /metrics on "
        "the API port)";
    return ConfigOutcome::error;
  }
  if (c.default_ttl > c.max_ttl) {
    message = "--default-ttl " + std::to_string(c.default_ttl) + " exceeds --max-ttl " +
              std::to_string(c.max_ttl);
    return ConfigOutcome::error;
  }
  out = std::move(c);
  return ConfigOutcome::run;
}

}  // namespace shortcred::tokens
