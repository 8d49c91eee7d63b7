#include "options.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "shortcred/presence.hpp"
#include "shortcred/redis/transport.hpp"
#include "shortcred/schema.hpp"

namespace shortcred::plugin {
namespace {

bool parse_int(std::string_view text, std::int64_t lo, std::int64_t hi, std::int64_t& out) {
  std::uint64_t v = 0;
  if (!parse_u64(text, v) || v > static_cast<std::uint64_t>(hi)) return false;
  if (static_cast<std::int64_t>(v) < lo) return false;
  out = static_cast<std::int64_t>(v);
  return true;
}

std::string bad(std::string_view name, std::string_view value, std::string_view expected) {
  return "plugin_opt_" + std::string(name) + " '" + std::string(value) + "' is invalid: expected " +
         std::string(expected);
}

// What is wrong with a redis_url, naming the part but never the password.
std::string redis_url_error(const std::string& value) {
  RedisEndpoint ignored;
  std::string why;
  parse_redis_url(value, ignored, why);
  return why;
}

// Only %o and %u make sense in a client id prefix (%c would be circular).
bool valid_prefix_template(std::string_view p) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '%') continue;
    if (i + 1 == p.size() || (p[i + 1] != 'o' && p[i + 1] != 'u')) return false;
    ++i;
  }
  return p.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

// `HOST:PORT` with HOST an IPv4 address or a bracketed IPv6 address and
// PORT 1-65535. No names: resolving one at startup could pick an address
// nobody meant to expose.
bool parse_listen_address(std::string_view v, std::string& host, int& port) {
  const auto colon = v.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view h = v.substr(0, colon);
  std::int64_t n = 0;
  if (!parse_int(v.substr(colon + 1), 1, 65535, n)) return false;
  const bool v6 = h.size() > 2 && h.front() == '[' && h.back() == ']';
  if (v6) h = h.substr(1, h.size() - 2);
  const std::string text(h);
  unsigned char addr[16];
  if (inet_pton(v6 ? AF_INET6 : AF_INET, text.c_str(), addr) != 1) return false;
  host = text;
  port = static_cast<int>(n);
  return true;
}

// One option, as a table row: an integer in [lo, hi] stored in a field, or
// text checked and stored by `parse`. `expected` goes into the error.
struct OptionSpec {
  std::string_view name;
  std::string_view expected;
  std::int64_t lo = 0, hi = 0;
  int Options::*int_field = nullptr;
  std::int64_t Options::*wide_field = nullptr;
  bool (*parse)(const std::string& value, Options& o) = nullptr;

  bool apply(const std::string& value, Options& o) const {
    if (parse != nullptr) return parse(value, o);
    std::int64_t n = 0;
    if (!parse_int(value, lo, hi, n)) return false;
    if (int_field != nullptr) o.*int_field = static_cast<int>(n);
    if (wide_field != nullptr) o.*wide_field = n;
    return true;
  }
};

constexpr std::int64_t kLimitMax = 1'000'000'000;
constexpr std::string_view kLimitText = "a non-negative integer (0 = no limit)";

const OptionSpec kOptions[] = {
    {.name = "redis_url",
     .expected = "redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster://, "
                 "rediss-cluster:// or unix:// (see the README)",
     .parse = [](const std::string& v, Options& o) {
       if (parse_redis_url(v, o.redis) != Errc::ok) return false;
       o.redis_url = v;
       return true;
     }},
    {.name = "redis_timeout_ms", .expected = "an integer from 1 to 10000 (milliseconds)",
     .lo = 1, .hi = 10000, .int_field = &Options::redis_timeout_ms},
    {.name = "key_prefix", .expected = "1-128 bytes without spaces or braces (e.g. shortcred:)",
     .parse = [](const std::string& v, Options& o) {
       if (v.empty() || v.size() > 128 || v.find_first_of(" \t\r\n{}") != std::string::npos) {
         return false;
       }
       o.key_prefix = v;
       return true;
     }},
    {.name = "acl_file", .expected = "a path to a rule file (omit the option for the defaults)",
     .parse = [](const std::string& v, Options& o) {
       o.acl_file = v;
       return !v.empty();
     }},
    {.name = "revalidate_interval_s", .expected = "an integer from 1 to 86400 (seconds)",
     .lo = 1, .hi = 86400, .int_field = &Options::revalidate_interval_s},
    {.name = "pub_rate", .expected = kLimitText, .hi = kLimitMax, .wide_field = &Options::pub_rate},
    {.name = "pub_burst", .expected = kLimitText, .hi = kLimitMax,
     .wide_field = &Options::pub_burst},
    {.name = "max_connections", .expected = kLimitText, .hi = kLimitMax,
     .wide_field = &Options::max_connections},
    {.name = "client_id_prefix",
     .expected = "text of at most 256 bytes with only %o and %u placeholders, no + or #",
     .parse = [](const std::string& v, Options& o) {
       o.client_id_prefix = v;
       return valid_prefix_template(v) && v.size() <= 256;
     }},
    {.name = "client_id_prefix_mode",
     .expected = "refuse (a client id without the prefix is refused) or assign (the prefix is put "
                 "in front of it; Mosquitto 2.1 or later)",
     .parse = [](const std::string& v, Options& o) {
       o.client_id_prefix_mode = v == "assign" ? PrefixMode::assign : PrefixMode::refuse;
       return v == "refuse" || v == "assign";
     }},
    {.name = "delayed_auth",
     .expected = "auto (CONNECT lookups off the broker thread where Mosquitto 2.1 allows it) or "
                 "off (always on the broker thread)",
     .parse = [](const std::string& v, Options& o) {
       o.delayed_auth = v == "auto";
       return v == "auto" || v == "off";
     }},
    {.name = "client_id_owner_ttl_s",
     .expected = "an integer from 0 to 31536000 (seconds a client id stays its user's after a "
                 "disconnect; 0 = off)",
     .hi = 31'536'000, .int_field = &Options::client_id_owner_ttl_s},
    {.name = "auth_fail_per_address",
     .expected = "an integer from 0 to 100000 (failed CONNECTs per minute per client address "
                 "before it is refused from memory; 0 = off)",
     .hi = 100000, .int_field = &Options::auth_fail_per_address},
    {.name = "auth_fail_token_s",
     .expected = "an integer from 0 to 3600 (seconds after its last attempt that an unknown or "
                 "expired token id is still refused from memory; 0 = off)",
     .hi = 3600, .int_field = &Options::auth_fail_token_s},
    {.name = "metrics_listen",
     .expected = "HOST:PORT with HOST an IPv4 address or an IPv6 address in brackets and PORT "
                 "1-65535, e.g. 127.0.0.1:9234 (omit the option to serve no metrics)",
     .parse = [](const std::string& v, Options& o) {
       return parse_listen_address(v, o.metrics_host, o.metrics_port);
     }},
    {.name = "metrics_top_orgs",
     .expected = "an integer from 0 to 1000 (orgs with per-org metric series of their own; the "
                 "rest are summed as org=\"other\")",
     .hi = 1000, .int_field = &Options::metrics_top_orgs},
    {.name = "broker_id", .expected = "1-64 characters of [A-Za-z0-9._:-]",
     .parse = [](const std::string& v, Options& o) {
       o.broker_id = v;
       return validate_broker_id(v) == Errc::ok;
     }},
    {.name = "presence_interval_s",
     .expected = "an integer from 0 to 3600 (seconds between presence heartbeats; 0 = off)",
     .hi = 3600, .int_field = &Options::presence_interval_s},
    {.name = "sys_interval", .expected = "an integer from 0 to 86400 (seconds; 0 = off)",
     .hi = 86400, .int_field = &Options::sys_interval_s},
};

std::string known_options() {
  std::string names;
  for (const OptionSpec& spec : kOptions) {
    if (!names.empty()) names += ", ";
    names += spec.name;
  }
  return names;
}

}  // namespace

bool parse_options(const std::vector<RawOption>& raw, Options& out, std::string& error) {
  Options o;
  for (const auto& [name, value] : raw) {
    const OptionSpec* spec = nullptr;
    for (const OptionSpec& s : kOptions) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      error = "plugin_opt_" + name + " is not an option of mosquitto_shortcred (known: " +
              known_options() + ")";
      return false;
    }
    if (!spec->apply(value, o)) {
      // redis_url may hold a password: its value is never echoed.
      error = name == "redis_url" ? "plugin_opt_redis_url is invalid: " + redis_url_error(value)
                                  : bad(name, value, spec->expected);
      return false;
    }
  }
  if (o.redis_url == Options{}.redis_url) parse_redis_url(o.redis_url, o.redis);
  if (std::string why; !redis::check_tls_files(o.redis, why)) {
    error = "plugin_opt_redis_url: " + why;
    return false;
  }
  out = std::move(o);
  return true;
}

bool load_templates(const std::string& acl_file, std::vector<Rule>& out, std::string& error) {
  if (acl_file.empty()) {
    out = default_templates();
    return true;
  }
  std::ifstream in(acl_file, std::ios::binary);
  if (!in) {
    error = "plugin_opt_acl_file '" + acl_file + "' cannot be read";
    return false;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::vector<Rule> rules;
  std::vector<RuleError> errors;
  if (!parse_rule_file(ss.str(), rules, errors)) {
    error = "plugin_opt_acl_file '" + acl_file + "' is invalid:";
    for (const auto& e : errors) error += " line " + std::to_string(e.line) + ": " + e.message + ";";
    if (!error.empty() && error.back() == ';') error.pop_back();
    return false;
  }
  out = std::move(rules);
  return true;
}

std::string expand_prefix(std::string_view prefix, std::string_view org, std::string_view user) {
  std::string out;
  out.reserve(prefix.size() + org.size() + user.size());
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (prefix[i] == '%' && i + 1 < prefix.size() && (prefix[i + 1] == 'o' || prefix[i + 1] == 'u')) {
      out += prefix[i + 1] == 'o' ? org : user;
      ++i;
    } else {
      out += prefix[i];
    }
  }
  return out;
}

}  // namespace shortcred::plugin
