#include "shortcred/schema.hpp"

#include <limits>

#include "shortcred/ids.hpp"
#include "shortcred/presence.hpp"
#include "shortcred/secrets.hpp"

namespace shortcred {
namespace {

constexpr std::string_view kFieldUser = "user";
constexpr std::string_view kFieldSecret = "secret_sha256";
constexpr std::string_view kFieldIssued = "issued_at";
constexpr std::string_view kFieldExpires = "expires_at";
constexpr std::string_view kFieldScope = "scope";
constexpr std::string_view kFieldClientId = "client_id";
constexpr std::string_view kFieldApiKey = "apikey";

std::string concat(std::initializer_list<std::string_view> parts) {
  std::size_t n = 0;
  for (auto p : parts) n += p.size();
  std::string out;
  out.reserve(n);
  for (auto p : parts) out.append(p);
  return out;
}

// `<prefix>{<org>}`: the hash tag puts all of an org's keys in one Cluster slot.
std::string org_scoped(std::string_view prefix, std::string_view org, std::string_view rest) {
  return concat({prefix, "{", org, "}", rest});
}

bool is_sha256_hex(std::string_view s) noexcept {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// A unix-ms timestamp: a u64 that also fits the signed field it lands in.
bool parse_i64_nonneg(std::string_view s, std::int64_t& out) noexcept {
  std::uint64_t v = 0;
  if (!parse_u64(s, v) ||
      v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return false;
  }
  out = static_cast<std::int64_t>(v);
  return true;
}

// The stored scope is the rules joined by '\n' (rules never contain one).
// The schema layer only splits; the reader parses the rules.
std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> out;
  if (s.empty()) return out;
  std::size_t start = 0;
  for (;;) {
    const auto nl = s.find('\n', start);
    out.emplace_back(s.substr(start, nl - start));
    if (nl == std::string_view::npos) return out;
    start = nl + 1;
  }
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out.push_back('\n');
    out.append(lines[i]);
  }
  return out;
}

using OrgNumber = std::optional<std::int64_t> OrgRecord::*;
struct OrgNumericField {
  std::string_view name;
  OrgNumber member;
};
// One table for the parser and for org_numeric_fields(), so they cannot drift.
constexpr OrgNumericField kOrgNumeric[] = {
    {"default_ttl", &OrgRecord::default_ttl},
    {"max_ttl", &OrgRecord::max_ttl},
    {"pub_rate", &OrgRecord::pub_rate},
    {"pub_burst", &OrgRecord::pub_burst},
    {"max_connections", &OrgRecord::max_connections},
    {"user_pub_rate", &OrgRecord::user_pub_rate},
    {"user_max_connections", &OrgRecord::user_max_connections},
    {"max_tokens_per_user", &OrgRecord::max_tokens_per_user},
    {"exchange_rate", &OrgRecord::exchange_rate},
    {"exchange_user_rate", &OrgRecord::exchange_user_rate},
};

// Splits on single spaces; a message never carries empty tokens.
std::vector<std::string_view> split_words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    const auto sp = s.find(' ', start);
    out.push_back(s.substr(start, sp - start));
    if (sp == std::string_view::npos) return out;
    start = sp + 1;
  }
}

std::string_view kind_word(Revocation::Kind k) noexcept {
  switch (k) {
    case Revocation::Kind::token:
      return "token";
    case Revocation::Kind::user:
      return "user";
    case Revocation::Kind::org:
      return "org";
    case Revocation::Kind::client:
      return "client";
  }
  return "token";
}

}  // namespace

std::string cred_key(std::string_view prefix, std::string_view org, std::string_view token_id) {
  return org_scoped(prefix, org, concat({":cred:", token_id}));
}

std::string user_index_key(std::string_view prefix, std::string_view org, std::string_view user) {
  return org_scoped(prefix, org, concat({":user:", user}));
}

std::string org_tokens_key(std::string_view prefix, std::string_view org) {
  return org_scoped(prefix, org, ":tokens");
}

std::string org_key(std::string_view prefix, std::string_view org) {
  return org_scoped(prefix, org, ":org");
}

std::string org_apikeys_key(std::string_view prefix, std::string_view org) {
  return org_scoped(prefix, org, ":apikeys");
}

// Not org-scoped: the key id is all a request carries before we know its org.
std::string apikey_key(std::string_view prefix, std::string_view key_id) {
  return concat({prefix, "apikey:", key_id});
}

std::string audit_key(std::string_view prefix, std::string_view org) {
  return org_scoped(prefix, org, ":audit");
}

std::string revoked_channel(std::string_view prefix) {
  return concat({prefix, kRevokedChannelSuffix});
}

std::string format_revocation(const Revocation& r) {
  if (r.kind == Revocation::Kind::org) return concat({"org ", r.org});
  return concat({kind_word(r.kind), " ", r.org, " ", r.subject});
}

// Anyone who can PUBLISH on the channel can send us anything, so the parse is
// strict: exactly one space between words, the right word count for the kind,
// and every id valid. A message we do not understand is ignored by callers.
std::optional<Revocation> parse_revocation(std::string_view msg) {
  if (msg.starts_with("client ")) {
    const std::string_view rest = msg.substr(7);
    const auto sp = rest.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    Revocation r{Revocation::Kind::client, std::string(rest.substr(0, sp)),
                 std::string(rest.substr(sp + 1))};
    if (validate_org_id(r.org) != Errc::ok || !valid_kick_client_id(r.subject)) return std::nullopt;
    return r;
  }
  const auto words = split_words(msg);
  Revocation r;
  if (words[0] == "org" && words.size() == 2) {
    r.kind = Revocation::Kind::org;
  } else if (words[0] == "token" && words.size() == 3 && validate_token_id(words[2]) == Errc::ok) {
    r.kind = Revocation::Kind::token;
  } else if (words[0] == "user" && words.size() == 3 && validate_user_id(words[2]) == Errc::ok) {
    r.kind = Revocation::Kind::user;
  } else {
    return std::nullopt;
  }
  if (validate_org_id(words[1]) != Errc::ok) return std::nullopt;
  r.org = words[1];
  if (words.size() == 3) r.subject = words[2];
  return r;
}

Fields to_fields(const CredentialRecord& c) {
  Fields f;
  f.reserve(7);
  f.emplace_back(kFieldUser, c.user);
  f.emplace_back(kFieldSecret, c.secret_sha256);
  f.emplace_back(kFieldIssued, std::to_string(c.issued_at_ms));
  f.emplace_back(kFieldExpires, std::to_string(c.expires_at_ms));
  // Optional fields are omitted when empty so redis-cli shows only what is set.
  if (!c.scope.empty()) f.emplace_back(kFieldScope, join_lines(c.scope));
  if (!c.client_id.empty()) f.emplace_back(kFieldClientId, c.client_id);
  if (!c.apikey.empty()) f.emplace_back(kFieldApiKey, c.apikey);
  return f;
}

// Unknown fields are ignored, so a newer writer can add fields without
// breaking older readers. A credential missing a required field, or with one
// malformed, is unusable: the caller treats it as not found (deny).
std::optional<CredentialRecord> credential_from_fields(const Fields& f) {
  CredentialRecord c;
  bool have_user = false, have_secret = false, have_issued = false, have_expires = false;
  bool have_scope_ok = true;
  for (const auto& [name, value] : f) {
    if (name == kFieldUser) {
      have_user = validate_user_id(value) == Errc::ok;
      c.user = value;
    } else if (name == kFieldSecret) {
      have_secret = is_sha256_hex(value);
      c.secret_sha256 = value;
    } else if (name == kFieldIssued) {
      have_issued = parse_i64_nonneg(value, c.issued_at_ms);
    } else if (name == kFieldExpires) {
      have_expires = parse_i64_nonneg(value, c.expires_at_ms);
    } else if (name == kFieldScope) {
      // A scope field that is present must hold rules: an empty one (or an
      // empty line) would otherwise read as "no scope", i.e. the full
      // templates — fail closed instead.
      c.scope = split_lines(value);
      for (const auto& rule : c.scope) have_scope_ok = have_scope_ok && !rule.empty();
      have_scope_ok = have_scope_ok && !c.scope.empty();
    } else if (name == kFieldClientId) {
      c.client_id = value;
    } else if (name == kFieldApiKey) {
      c.apikey = value;
    }
  }
  if (!(have_user && have_secret && have_issued && have_expires && have_scope_ok)) {
    return std::nullopt;
  }
  return c;
}

// A numeric field that does not parse (`HSET … pub_rate fast`) is treated as
// absent, so the configured default applies: one typo in redis-cli must not
// lock an organisation out (or take its limits away) on every broker. The
// admin CLI validates before writing; this is the reader's fallback.
OrgRecord org_from_fields(const Fields& f) {
  OrgRecord o;
  for (const auto& [name, value] : f) {
    if (name == "name") {
      o.name = value;
    } else if (name == "created_at") {
      o.created_at = value;
    } else if (name == "pub_rate_scope") {
      o.pub_rate_global = value == "global";
    } else if (name == "disabled") {
      // Unlike a numeric typo, an unreadable `disabled` fails closed: the
      // operator meant to say something about access, and "enabled" is the
      // wrong guess for `HSET … disabled 01`.
      const std::optional<bool> d = parse_flag_word(value);
      o.disabled = d.value_or(true);
      o.disabled_unrecognised = !d.has_value();
    } else {
      for (const auto& field : kOrgNumeric) {
        if (name != field.name) continue;
        std::int64_t v = 0;
        o.*field.member = parse_i64_nonneg(value, v) ? std::optional(v) : std::nullopt;
      }
    }
  }
  return o;
}

const std::vector<std::string_view>& org_numeric_fields() {
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    for (const auto& field : kOrgNumeric) names.push_back(field.name);
    return names;
  }();
  return kNames;
}

std::optional<bool> parse_flag_word(std::string_view s) noexcept {
  const auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  if (s.size() > 5) return std::nullopt;
  char lower[5] = {};
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view w(lower, s.size());
  if (w == "1" || w == "true" || w == "yes" || w == "on") return true;
  if (w.empty() || w == "0" || w == "false" || w == "no" || w == "off") return false;
  return std::nullopt;
}

bool parse_u64(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty()) return false;
  std::uint64_t v = 0;
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    const auto d = static_cast<std::uint64_t>(c - '0');
    if (v > (kMax - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

std::string glob_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '*' || ch == '?' || ch == '[' || ch == ']' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out;
}

}  // namespace shortcred
