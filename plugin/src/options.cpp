#include "options.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

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

// Only %o and %u make sense in a client id prefix (%c would be circular).
bool valid_prefix_template(std::string_view p) {
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '%') continue;
    if (i + 1 == p.size() || (p[i + 1] != 'o' && p[i + 1] != 'u')) return false;
    ++i;
  }
  return p.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

}  // namespace

bool parse_options(const std::vector<RawOption>& raw, Options& out, std::string& error) {
  Options o;
  for (const auto& [name, value] : raw) {
    std::int64_t n = 0;
    if (name == "redis_url") {
      if (parse_redis_url(value, o.redis) != Errc::ok) {
        // The value may hold a password: never echo it.
        error = "plugin_opt_redis_url is invalid: expected redis://[user:pass@]host[:port][/db] "
                "or unix:///path[?db=N]";
        return false;
      }
      o.redis_url = value;
    } else if (name == "redis_timeout_ms") {
      if (!parse_int(value, 1, 10000, n)) {
        error = bad(name, value, "an integer from 1 to 10000 (milliseconds)");
        return false;
      }
      o.redis_timeout_ms = static_cast<int>(n);
    } else if (name == "key_prefix") {
      if (value.empty() || value.size() > 128 ||
          value.find_first_of(" \t\r\n{}") != std::string::npos) {
        error = bad(name, value, "1-128 bytes without spaces or braces (e.g. shortcred:)");
        return false;
      }
      o.key_prefix = value;
    } else if (name == "acl_file") {
      if (value.empty()) {
        error = bad(name, value, "a path to a rule file (omit the option for the defaults)");
        return false;
      }
      o.acl_file = value;
    } else if (name == "revalidate_interval_s") {
      if (!parse_int(value, 1, 86400, n)) {
        error = bad(name, value, "an integer from 1 to 86400 (seconds)");
        return false;
      }
      o.revalidate_interval_s = static_cast<int>(n);
    } else if (name == "pub_rate" || name == "pub_burst" || name == "max_connections") {
      if (!parse_int(value, 0, 1'000'000'000, n)) {
        error = bad(name, value, "a non-negative integer (0 = no limit)");
        return false;
      }
      (name == "pub_rate" ? o.pub_rate : name == "pub_burst" ? o.pub_burst : o.max_connections) = n;
    } else if (name == "client_id_prefix") {
      if (!valid_prefix_template(value) || value.size() > 256) {
        error = bad(name, value, "text of at most 256 bytes with only %o and %u placeholders, "
                                 "no + or #");
        return false;
      }
      o.client_id_prefix = value;
    } else if (name == "client_id_prefix_mode") {
      if (value != "refuse" && value != "assign") {
        error = bad(name, value, "refuse (a client id without the prefix is refused) or assign "
                                 "(the prefix is put in front of it; Mosquitto 2.1 or later)");
        return false;
      }
      o.client_id_prefix_mode = value == "assign" ? PrefixMode::assign : PrefixMode::refuse;
    } else if (name == "delayed_auth") {
      if (value != "auto" && value != "off") {
        error = bad(name, value, "auto (CONNECT lookups off the broker thread where Mosquitto "
                                 "2.1 allows it) or off (always on the broker thread)");
        return false;
      }
      o.delayed_auth = value == "auto";
    } else if (name == "auth_fail_per_address") {
      if (!parse_int(value, 0, 100000, n)) {
        error = bad(name, value, "an integer from 0 to 100000 (failed CONNECTs per minute per "
                                 "client address before it is refused from memory; 0 = off)");
        return false;
      }
      o.auth_fail_per_address = static_cast<int>(n);
    } else if (name == "client_id_owner_ttl_s") {
      if (!parse_int(value, 0, 31'536'000, n)) {
        error = bad(name, value, "an integer from 0 to 31536000 (seconds a client id stays its "
                                 "user's after a disconnect; 0 = off)");
        return false;
      }
      o.client_id_owner_ttl_s = static_cast<int>(n);
    } else if (name == "auth_fail_token_s") {
      if (!parse_int(value, 0, 3600, n)) {
        error = bad(name, value, "an integer from 0 to 3600 (seconds an unknown or expired "
                                 "token id is refused from memory; 0 = off)");
        return false;
      }
      o.auth_fail_token_s = static_cast<int>(n);
    } else if (name == "sys_interval") {
      if (!parse_int(value, 0, 86400, n)) {
        error = bad(name, value, "an integer from 0 to 86400 (seconds; 0 = off)");
        return false;
      }
      o.sys_interval_s = static_cast<int>(n);
    } else {
      error = "plugin_opt_" + name +
              " is not an option of mosquitto_shortcred (known: redis_url, redis_timeout_ms, "
              "key_prefix, acl_file, revalidate_interval_s, pub_rate, pub_burst, "
              "max_connections, client_id_prefix, client_id_prefix_mode, delayed_auth, auth_fail_per_address, auth_fail_token_s, client_id_owner_ttl_s, "
              "sys_interval)";
      return false;
    }
  }
  if (o.redis_url == Options{}.redis_url) parse_redis_url(o.redis_url, o.redis);
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
