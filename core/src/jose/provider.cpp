#include "shortcred/jose/provider.hpp"

#include "shortcred/ids.hpp"
#include "shortcred/rules.hpp"

namespace shortcred::jose {
namespace {

constexpr std::size_t kMaxTextBytes = 512;
constexpr std::size_t kMaxUrlBytes = 2048;
constexpr std::int64_t kMinTtl = 60;
constexpr std::int64_t kMaxTtl = 365LL * 86400;

bool printable_ascii(std::string_view s) noexcept {
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string check_text(std::string_view field, std::string_view v, bool required) {
  if (v.empty()) return required ? std::string(field) + " is required" : std::string();
  if (v.size() > kMaxTextBytes) {
    return std::string(field) + " is longer than " + std::to_string(kMaxTextBytes) + " bytes";
  }
  if (!printable_ascii(v)) {
    return std::string(field) + " must be printable ASCII without spaces";
  }
  return {};
}

bool all_digits(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// 127.0.0.0/8 written as four decimal octets.
bool ipv4_loopback(std::string_view host) {
  int parts = 0;
  std::size_t pos = 0;
  for (;;) {
    const auto dot = host.find('.', pos);
    const std::string_view octet = host.substr(pos, dot - pos);
    if (!all_digits(octet) || octet.size() > 3 || std::stoi(std::string(octet)) > 255) return false;
    if (parts == 0 && octet != "127") return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return parts == 4;
}

bool loopback_host(std::string_view host) {
  return host == "localhost" || host == "[::1]" || ipv4_loopback(host);
}

}  // namespace

std::string apply_provider_field(Provider& p, std::string_view field, const std::string& value) {
  if (field == "issuer") {
    p.issuer = value;
  } else if (field == "jwks_url") {
    p.jwks_url = value;
  } else if (field == "audience") {
    p.audience = value;
  } else if (field == "azp") {
    p.azp = value;
  } else if (field == "user_claim") {
    p.user_claim = value;
  } else if (field == "algorithms") {
    std::string why;
    if (!parse_alg_list(value, p.algorithms, why)) return why;
  } else if (field == "scope") {
    p.scope.clear();
    std::size_t pos = 0;
    while (pos <= value.size()) {
      const auto nl = value.find('\n', pos);
      std::string rule = value.substr(pos, nl - pos);
      if (!rule.empty()) p.scope.push_back(std::move(rule));
      if (nl == std::string::npos) break;
      pos = nl + 1;
    }
  } else if (field == "max_ttl") {
    std::uint64_t v = 0;
    if (!parse_u64(value, v) || v > static_cast<std::uint64_t>(kMaxTtl)) {
      return "max_ttl must be a whole number of seconds in [60, " + std::to_string(kMaxTtl) + "]";
    }
    p.max_ttl = static_cast<std::int64_t>(v);
  } else if (field == "user_map") {
    const auto m = parse_user_map(value);
    if (!m) return "user_map must be refuse, encode or hash";
    p.user_map = *m;
  } else {
    return "unknown provider field; expected issuer, jwks_url, audience, azp, user_claim, "
           "algorithms, scope, max_ttl, user_map";
  }
  return {};
}

std::string idps_key(std::string_view prefix, std::string_view org) {
  return std::string(prefix) + "{" + std::string(org) + "}:idps";
}

std::string idp_key(std::string_view prefix, std::string_view org, std::string_view name) {
  return std::string(prefix) + "{" + std::string(org) + "}:idp:" + std::string(name);
}

const std::vector<std::string_view>& provider_fields() {
  static const std::vector<std::string_view> f{"issuer",     "jwks_url",   "audience",
                                               "azp",        "user_claim", "algorithms",
                                               "scope",      "max_ttl",    "user_map"};
  return f;
}

bool valid_provider_name(std::string_view name) noexcept {
  return validate_org_id(name) == Errc::ok;
}

std::string check_jwks_url(std::string_view url) {
  if (url.empty()) return "jwks_url is required";
  if (url.size() > kMaxUrlBytes || !printable_ascii(url)) {
    return "jwks_url must be a printable ASCII URL of at most 2048 bytes";
  }
  bool https = false;
  std::string_view rest;
  if (url.substr(0, 8) == "https://") {
    https = true;
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else {
    return "jwks_url must start with https:// (http:// only to a loopback host)";
  }
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return "jwks_url must not carry user info (user@host)";
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return "jwks_url has an unterminated [IPv6] host";
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return "jwks_url has garbage after its [IPv6] host";
    if (!after.empty()) port = after.substr(1);
    if (!after.empty() && port.empty()) return "jwks_url has an empty port";
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return "jwks_url has an empty port";
  }
  if (host.empty()) return "jwks_url has no host";
  if (!port.empty() && (!all_digits(port) || port.size() > 5 || std::stoi(std::string(port)) < 1 ||
                        std::stoi(std::string(port)) > 65535)) {
    return "jwks_url has a port outside 1-65535";
  }
  if (!https && !loopback_host(host)) {
    return "jwks_url must use https (http:// is allowed only to 127.0.0.0/8, [::1] or localhost)";
  }
  return {};
}

std::string validate_provider(const Provider& p) {
  if (!valid_provider_name(p.name)) return "the provider name must be 1-64 of [A-Za-z0-9_-]";
  if (auto e = check_text("issuer", p.issuer, true); !e.empty()) return e;
  if (auto e = check_jwks_url(p.jwks_url); !e.empty()) return e;
  if (auto e = check_text("audience", p.audience, false); !e.empty()) return e;
  if (auto e = check_text("azp", p.azp, false); !e.empty()) return e;
  if (p.audience.empty() && p.azp.empty()) {
    // Without either, a token the issuer minted for any other app of the
    // same tenant would be accepted.
    return "audience or azp is required (the token must be meant for this app)";
  }
  if (auto e = check_text("user_claim", p.user_claim, true); !e.empty()) return e;
  if (p.algorithms.empty()) return "algorithms must name at least one algorithm";
  if (p.max_ttl && (*p.max_ttl < kMinTtl || *p.max_ttl > kMaxTtl)) {
    return "max_ttl must be a whole number of seconds in [60, " + std::to_string(kMaxTtl) + "]";
  }
  std::vector<Rule> rules;
  std::vector<RuleError> errors;
  if (!p.scope.empty() && !parse_scope(p.scope, rules, errors)) {
    std::string why = "scope";
    if (!errors.empty()) {
      why += " rule " + std::to_string(errors.front().line) + ": " + errors.front().message;
    } else {
      why += " is invalid";
    }
    return why;
  }
  return {};
}

std::string provider_from_fields(std::string_view name, const Fields& fields, Provider& out) {
  Provider p;
  p.name = std::string(name);
  for (const auto& [k, v] : fields) {
    if (auto e = apply_provider_field(p, k, v); !e.empty()) return e;
  }
  if (auto e = validate_provider(p); !e.empty()) return e;
  out = std::move(p);
  return {};
}

Fields provider_to_fields(const Provider& p) {
  Fields f{{"issuer", p.issuer}, {"jwks_url", p.jwks_url}};
  if (!p.audience.empty()) f.emplace_back("audience", p.audience);
  if (!p.azp.empty()) f.emplace_back("azp", p.azp);
  f.emplace_back("user_claim", p.user_claim);
  f.emplace_back("algorithms", p.algorithms.to_string());
  if (!p.scope.empty()) {
    std::string joined;
    for (const auto& r : p.scope) joined += (joined.empty() ? "" : "\n") + r;
    f.emplace_back("scope", joined);
  }
  if (p.max_ttl) f.emplace_back("max_ttl", std::to_string(*p.max_ttl));
  f.emplace_back("user_map", std::string(user_map_name(p.user_map)));
  return f;
}

}  // namespace shortcred::jose
