#include "shortcred/redis_url.hpp"

#include <charconv>
#include <climits>
#include <utility>

namespace shortcred {
namespace {

constexpr std::string_view kRedisScheme = "redis://";
constexpr std::string_view kUnixScheme = "unix://";

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

// `host[:port]` or `[v6]:port`; the brackets are dropped from `out.host`.
bool parse_host_port(std::string_view hp, RedisEndpoint& out) {
  std::string_view host = hp;
  std::string_view port;
  if (hp.starts_with('[')) {
    const auto close = hp.find(']');
    if (close == std::string_view::npos) return false;
    host = hp.substr(1, close - 1);
    const auto after = hp.substr(close + 1);
    if (!after.empty() && (!after.starts_with(':') || (port = after.substr(1)).empty())) {
      return false;
    }
    if (host.empty() || !all_of(host, is_ipv6_char)) return false;
  } else {
    const auto colon = hp.find(':');
    if (colon != std::string_view::npos) {
      host = hp.substr(0, colon);
      port = hp.substr(colon + 1);
      if (port.empty()) return false;
    }
    if (host.empty() || !all_of(host, is_host_char)) return false;
  }
  if (!port.empty() && !parse_int(port, 1, 65535, out.port)) return false;
  out.host = host;
  return true;
}

// `user:pass`, `:pass` or `user`, each percent-encoded.
bool parse_userinfo(std::string_view ui, RedisEndpoint& out) {
  const auto colon = ui.find(':');
  if (!percent_decode(ui.substr(0, colon), out.username)) return false;
  return colon == std::string_view::npos || percent_decode(ui.substr(colon + 1), out.password);
}

// redis://[userinfo@]host[:port][/db]. The authority ends at the first `/`;
// userinfo ends at the last `@` inside it, so an unencoded `@` in a password
// still works (an unencoded `/` does not: encode it as %2F).
bool parse_tcp(std::string_view rest, RedisEndpoint& out) {
  const auto slash = rest.find('/');
  const auto authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    const auto db = rest.substr(slash + 1);
    // `redis://host/` means the default database, as in redis-cli.
    if (!db.empty() && !parse_int(db, 0, INT_MAX, out.db)) return false;
  }
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos && !parse_userinfo(authority.substr(0, at), out)) return false;
  return parse_host_port(at == std::string_view::npos ? authority : authority.substr(at + 1), out);
}

// unix:///abs/path[?db=N]: three slashes, since the authority is empty.
bool parse_unix(std::string_view rest, RedisEndpoint& out) {
  const auto q = rest.find('?');
  const auto path = rest.substr(0, q);
  if (path.size() < 2 || path.front() != '/') return false;
  if (q != std::string_view::npos) {
    const auto query = rest.substr(q + 1);
    if (!query.starts_with("db=") || !parse_int(query.substr(3), 0, INT_MAX, out.db)) {
      return false;
    }
  }
  out.unix_path = path;
  return true;
}

}  // namespace

std::string RedisEndpoint::redacted() const {
  const std::string db_part = std::to_string(db);
  if (!unix_path.empty()) {
    return std::string(kUnixScheme) + unix_path + (db != 0 ? "?db=" + db_part : "");
  }
  std::string url(kRedisScheme);
  if (!username.empty() || !password.empty()) {
    url += username;
    if (!password.empty()) url += ":***";
    url += '@';
  }
  const bool v6 = host.find(':') != std::string::npos;
  url += v6 ? "[" + host + "]" : host;
  return url + ":" + std::to_string(port) + "/" + db_part;
}

Errc parse_redis_url(std::string_view url, RedisEndpoint& out) {
  RedisEndpoint ep;  // fill a fresh one: on error `out` is untouched
  bool ok = false;
  if (url.starts_with(kRedisScheme)) {
    ok = parse_tcp(url.substr(kRedisScheme.size()), ep);
  } else if (url.starts_with(kUnixScheme)) {
    ok = parse_unix(url.substr(kUnixScheme.size()), ep);
  }
  if (!ok) return Errc::bad_url;
  out = std::move(ep);
  return Errc::ok;
}

}  // namespace shortcred
