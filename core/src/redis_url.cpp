#include "shortcred/redis_url.hpp"

#include <array>
#include <charconv>
#include <climits>
#include <utility>

namespace shortcred {
namespace {

constexpr std::string_view kUnixScheme = "unix://";

struct Scheme {
  std::string_view prefix;
  RedisEndpoint::Kind kind;
  bool tls;
};

constexpr std::array<Scheme, 6> kSchemes{{
    {"redis://", RedisEndpoint::Kind::single, false},
    {"rediss://", RedisEndpoint::Kind::single, true},
    {"redis-sentinel://", RedisEndpoint::Kind::sentinel, false},
    {"rediss-sentinel://", RedisEndpoint::Kind::sentinel, true},
    {"redis-cluster://", RedisEndpoint::Kind::cluster, false},
    {"rediss-cluster://", RedisEndpoint::Kind::cluster, true},
}};

std::string_view scheme_of(RedisEndpoint::Kind kind, bool tls) {
  for (const auto& s : kSchemes) {
    if (s.kind == kind && s.tls == tls) return s.prefix;
  }
  return kSchemes[0].prefix;
}

// Strict decimal in [lo, hi]: no sign, no spaces, nothing trailing.
bool parse_int(std::string_view s, int lo, int hi, int& out) noexcept {
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || s.front() == '-' || ec != std::errc() || end != s.data() + s.size()) {
    return false;
  }
  if (v < lo || v > hi) return false;
  out = v;
  return true;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding, so a password may carry `@`, `:` or `/`.
bool percent_decode(std::string_view in, std::string& out) {
  std::string s;
  s.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      s.push_back(in[i]);
      continue;
    }
    if (in.size() - i < 3) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    s.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  out = std::move(s);
  return true;
}

// The inverse for redacted(): unreserved characters and `/` stay as they are.
std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    const bool plain = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (plain) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool is_host_char(char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
         c == '-' || c == '_';
}

bool is_ipv6_char(char c) noexcept {
  return hex_value(c) >= 0 || c == ':' || c == '.';
}

template <typename Pred>
bool all_of(std::string_view s, Pred p) noexcept {
  for (char c : s) {
    if (!p(c)) return false;
  }
  return true;
}

// Values out of the URL are echoed in errors only when they cannot be part of
// a mis-split password: short words of [A-Za-z0-9_].
std::string quoted_if_safe(std::string_view s) {
  const bool safe = !s.empty() && s.size() <= 32 && all_of(s, [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  });
  return safe ? " '" + std::string(s) + "'" : std::string();
}

// The parse of one URL. Each step returns false after setting `error`.
class Parser {
 public:
  Parser(RedisEndpoint& ep, std::string& error) : ep_(ep), error_(error) {}

  bool parse(std::string_view url) {
    if (url.starts_with(kUnixScheme)) return parse_unix(url.substr(kUnixScheme.size()));
    for (const auto& s : kSchemes) {
      if (url.starts_with(s.prefix)) {
        scheme_ = s.prefix.substr(0, s.prefix.size() - 3);
        ep_.kind = s.kind;
        ep_.tls.enabled = s.tls;
        return parse_network(url.substr(s.prefix.size()));
      }
    }
    return fail(
        "unknown scheme: expected redis://, rediss://, redis-sentinel://, rediss-sentinel://, "
        "redis-cluster://, rediss-cluster:// or unix://");
  }

 private:
  bool fail(std::string why) {
    error_ = std::move(why);
    return false;
  }

  // unix:///abs/path[?db=N]: three slashes, since the authority is empty.
  bool parse_unix(std::string_view rest) {
    const auto q = rest.find('?');
    const auto path = rest.substr(0, q);
    if (path.size() < 2 || path.front() != '/') {
      return fail("unix:// needs an absolute socket path (unix:///path)");
    }
    if (q != std::string_view::npos) {
      const auto query = rest.substr(q + 1);
      if (!query.starts_with("db=")) return fail("unix:// takes only the query parameter db");
      if (!parse_int(query.substr(3), 0, INT_MAX, ep_.db)) {
        return fail("the database must be a non-negative integer");
      }
    }
    ep_.unix_path = path;
    return true;
  }

  // authority [/db] [?query]. The authority ends at the first `/` or `?`;
  // userinfo ends at the last `@` inside it, so an unencoded `@` in a
  // password still works (an unencoded `/` or `?` does not: encode them).
  bool parse_network(std::string_view rest) {
    const auto end = rest.find_first_of("/?");
    const auto authority = rest.substr(0, end);
    std::string_view path;
    std::string_view query;
    bool has_query = false;
    if (end != std::string_view::npos) {
      auto tail = rest.substr(end);
      const auto q = tail.find('?');
      if (q != std::string_view::npos) {
        query = tail.substr(q + 1);
        has_query = true;
        tail = tail.substr(0, q);
      }
      if (!tail.empty()) path = tail.substr(1);  // drop the '/'
    }
    const auto at = authority.rfind('@');
    if (at != std::string_view::npos && !parse_userinfo(authority.substr(0, at))) return false;
    const auto hosts = at == std::string_view::npos ? authority : authority.substr(at + 1);
    return parse_hosts(hosts) && parse_db(path) && (!has_query || parse_query(query)) &&
           check_combination();
  }

  // `user:pass`, `:pass` or `user`, each percent-encoded.
  bool parse_userinfo(std::string_view ui) {
    const auto colon = ui.find(':');
    if (!percent_decode(ui.substr(0, colon), ep_.username)) {
      return fail("the user name has a bad percent-escape");
    }
    if (colon != std::string_view::npos && !percent_decode(ui.substr(colon + 1), ep_.password)) {
      return fail("the password has a bad percent-escape");
    }
    return true;
  }

  bool parse_hosts(std::string_view list) {
    if (list.empty()) return fail("the host is missing");
    if (ep_.kind == RedisEndpoint::Kind::single) {
      if (list.find(',') != std::string_view::npos) {
        return fail(std::string(scheme_) +
                    ":// takes one host (several: redis-sentinel:// or redis-cluster://)");
      }
      RedisNode n;
      if (!parse_host_port(list, 6379, n, 0)) return false;
      ep_.host = std::move(n.host);
      ep_.port = n.port;
      return true;
    }
    const int default_port =
        ep_.kind == RedisEndpoint::Kind::sentinel ? kDefaultSentinelPort : 6379;
    std::size_t index = 0;
    while (true) {
      const auto comma = list.find(',');
      RedisNode n;
      if (!parse_host_port(list.substr(0, comma), default_port, n, ++index)) return false;
      ep_.nodes.push_back(std::move(n));
      if (comma == std::string_view::npos) break;
      list = list.substr(comma + 1);
    }
    return true;
  }

  std::string host_name(std::size_t index) const {
    return index == 0 ? std::string("the host") : "host #" + std::to_string(index);
  }

  // `host[:port]` or `[v6][:port]`; the brackets are dropped. The value is
  // never echoed: a mis-split password would land here.
  bool parse_host_port(std::string_view hp, int default_port, RedisNode& out, std::size_t index) {
    std::string_view host = hp;
    std::string_view port;
    bool has_port = false;
    if (hp.starts_with('[')) {
      const auto close = hp.find(']');
      if (close == std::string_view::npos) return fail(host_name(index) + " lacks its closing ']'");
      host = hp.substr(1, close - 1);
      const auto after = hp.substr(close + 1);
      if (!after.empty()) {
        if (!after.starts_with(':')) return fail(host_name(index) + " has text after ']'");
        port = after.substr(1);
        has_port = true;
      }
      if (host.empty() || !all_of(host, is_ipv6_char)) {
        return fail(host_name(index) + " is not a valid IPv6 address");
      }
    } else {
      const auto colon = hp.find(':');
      if (colon != std::string_view::npos) {
        host = hp.substr(0, colon);
        port = hp.substr(colon + 1);
        has_port = true;
      }
      if (host.empty()) return fail(host_name(index) + " is empty");
      if (!all_of(host, is_host_char)) {
        return fail(host_name(index) + " is not a valid host name (IPv6: in [brackets])");
      }
    }
    out.port = default_port;
    if (has_port && !parse_int(port, 1, 65535, out.port)) {
      return fail("the port of " + host_name(index) + " must be an integer in 1-65535");
    }
    out.host = host;
    return true;
  }

  bool parse_db(std::string_view path) {
    if (path.empty()) return true;  // `redis://host/` means database 0, as in redis-cli
    int db = 0;
    if (!parse_int(path, 0, INT_MAX, db)) {
      return fail("the database (after '/') must be a non-negative integer");
    }
    if (ep_.kind == RedisEndpoint::Kind::cluster && db != 0) {
      return fail("Redis Cluster has database 0 only");
    }
    ep_.db = db;
    return true;
  }

  // Pointer to the string field a query parameter fills, or null if this
  // scheme does not take it.
  std::string* field_of(std::string_view key, bool& is_tls) {
    is_tls = false;
    if (ep_.kind == RedisEndpoint::Kind::sentinel) {
      if (key == "master") return &ep_.master_name;
      if (key == "sentinel_user") return &ep_.sentinel_username;
      if (key == "sentinel_password") return &ep_.sentinel_password;
    }
    is_tls = true;
    if (key == "ca_file") return &ep_.tls.ca_file;
    if (key == "cert_file") return &ep_.tls.cert_file;
    if (key == "key_file") return &ep_.tls.key_file;
    if (key == "server_name") return &ep_.tls.server_name;
    if (key == "verify") return &verify_;
    is_tls = false;
    return nullptr;
  }

  bool parse_query(std::string_view query) {
    std::vector<std::string_view> seen;
    while (true) {
      const auto amp = query.find('&');
      const auto item = query.substr(0, amp);
      const auto eq = item.find('=');
      const auto key = item.substr(0, eq);
      if (key.empty()) return fail("a query parameter has no name");
      bool is_tls = false;
      std::string* field = field_of(key, is_tls);
      if (field == nullptr) {
        if (key == "master" || key == "sentinel_user" || key == "sentinel_password") {
          return fail("query parameter '" + std::string(key) + "' is for Sentinel URLs only");
        }
        return fail("unknown query parameter" + quoted_if_safe(key));
      }
      if (is_tls && !ep_.tls.enabled) {
        return fail("the TLS option '" + std::string(key) + "' needs a TLS scheme (rediss" +
                    std::string(scheme_.substr(5)) + ":// instead of " + std::string(scheme_) +
                    "://)");
      }
      for (auto s : seen) {
        if (s == key) return fail("query parameter '" + std::string(key) + "' is given twice");
      }
      seen.push_back(key);
      const auto value = eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1);
      if (value.empty()) return fail("query parameter '" + std::string(key) + "' needs a value");
      if (!percent_decode(value, *field)) {
        return fail("query parameter '" + std::string(key) + "' has a bad percent-escape");
      }
      if (amp == std::string_view::npos) break;
      query = query.substr(amp + 1);
    }
    return true;
  }

  std::vector<std::string_view> hosts() const {
    std::vector<std::string_view> out;
    if (ep_.kind == RedisEndpoint::Kind::single) {
      out.push_back(ep_.host);
    } else {
      for (const auto& n : ep_.nodes) out.push_back(n.host);
    }
    return out;
  }

  bool check_combination() {
    if (ep_.kind == RedisEndpoint::Kind::sentinel) {
      if (ep_.master_name.empty()) {
        return fail("a Sentinel URL needs ?master=NAME (the name the sentinels monitor)");
      }
      if (!all_of(ep_.master_name, [](char c) { return c > ' ' && c != 0x7f; })) {
        return fail("the master name contains a space or control character");
      }
      if (!ep_.sentinel_password.empty() || !ep_.sentinel_username.empty()) {
        if (ep_.sentinel_password.empty()) return fail("sentinel_user needs sentinel_password");
      }
    }
    if (ep_.tls.cert_file.empty() != ep_.tls.key_file.empty()) {
      return fail(ep_.tls.cert_file.empty() ? "key_file needs cert_file (the client certificate)"
                                            : "cert_file needs key_file (its private key)");
    }
    if (!verify_.empty()) {
      if (verify_ != "full" && verify_ != "none") return fail("verify must be full or none");
      ep_.tls.verify = verify_ == "full";
    }
    if (!ep_.tls.verify) {
      const auto list = hosts();
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (!is_loopback_host(list[i])) {
          return fail("verify=none is refused: " +
                      (list.size() == 1 ? std::string("the host") : host_name(i + 1)) +
                      " is not a loopback address");
        }
      }
    }
    return true;
  }

  RedisEndpoint& ep_;
  std::string& error_;
  std::string_view scheme_;
  std::string verify_;
};

std::string node_text(std::string_view host, int port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

void add_param(std::string& query, std::string_view key, std::string_view value) {
  if (value.empty()) return;
  query += query.empty() ? '?' : '&';
  query += key;
  query += '=';
  query += value;
}

}  // namespace

std::string RedisEndpoint::redacted() const {
  const std::string db_part = std::to_string(db);
  if (!unix_path.empty()) {
    return std::string(kUnixScheme) + unix_path + (db != 0 ? "?db=" + db_part : "");
  }
  std::string url(scheme_of(kind, tls.enabled));
  if (!username.empty() || !password.empty()) {
    url += percent_encode(username);
    if (!password.empty()) url += ":***";
    url += '@';
  }
  if (kind == Kind::single) {
    url += node_text(host, port);
  } else {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (i != 0) url += ',';
      url += node_text(nodes[i].host, nodes[i].port);
    }
  }
  if (kind != Kind::cluster) url += "/" + db_part;
  std::string query;
  if (kind == Kind::sentinel) {
    add_param(query, "master", percent_encode(master_name));
    add_param(query, "sentinel_user", percent_encode(sentinel_username));
    add_param(query, "sentinel_password", sentinel_password.empty() ? "" : "***");
  }
  if (tls.enabled) {
    add_param(query, "ca_file", percent_encode(tls.ca_file));
    add_param(query, "cert_file", percent_encode(tls.cert_file));
    add_param(query, "key_file", percent_encode(tls.key_file));
    add_param(query, "server_name", percent_encode(tls.server_name));
    add_param(query, "verify", tls.verify ? "" : "none");
  }
  return url + query;
}

RedisEndpoint RedisEndpoint::at(const RedisNode& n) const {
  RedisEndpoint ep;
  ep.host = n.host;
  ep.port = n.port;
  ep.username = username;
  ep.password = password;
  ep.db = db;
  ep.tls = tls;
  return ep;
}

RedisEndpoint RedisEndpoint::sentinel_at(const RedisNode& n) const {
  RedisEndpoint ep;
  ep.host = n.host;
  ep.port = n.port;
  ep.username = sentinel_username;
  ep.password = sentinel_password;
  ep.tls = tls;
  return ep;
}

Errc parse_redis_url(std::string_view url, RedisEndpoint& out, std::string& error) {
  RedisEndpoint ep;  // fill a fresh one: on error `out` is untouched
  std::string why;
  if (!Parser(ep, why).parse(url)) {
    error = std::move(why);
    return Errc::bad_url;
  }
  out = std::move(ep);
  return Errc::ok;
}

Errc parse_redis_url(std::string_view url, RedisEndpoint& out) {
  std::string ignored;
  return parse_redis_url(url, out, ignored);
}

bool is_loopback_host(std::string_view host) noexcept {
  if (host == "localhost" || host == "::1") return true;
  if (!host.starts_with("127.")) return false;
  // A dotted quad with every part in 0-255.
  int parts = 0;
  while (true) {
    const auto dot = host.find('.');
    int v = 0;
    if (!parse_int(host.substr(0, dot), 0, 255, v)) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    host = host.substr(dot + 1);
  }
  return parts == 4;
}

}  // namespace shortcred
