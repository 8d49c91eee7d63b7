// The Redis schema of DESIGN.md: key names, the revocation channel messages
// and the credential / org records. Pure formatting and parsing; the I/O
// layers (plugin, token service) share it so they cannot disagree.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "shortcred/errc.hpp"

namespace shortcred {

inline constexpr std::string_view kDefaultKeyPrefix = "shortcred:";
inline constexpr std::string_view kRevokedChannelSuffix = "revoked";

// `<prefix>{<org>}:cred:<token id>` and friends.
std::string cred_key(std::string_view prefix, std::string_view org, std::string_view token_id);
std::string user_index_key(std::string_view prefix, std::string_view org, std::string_view user);
// `<prefix>{<org>}:tokens`: every live credential of the org, by expiry.
std::string org_tokens_key(std::string_view prefix, std::string_view org);
std::string org_key(std::string_view prefix, std::string_view org);
// `s` with the characters SCAN MATCH treats specially (* ? [ ] \) escaped,
// for a pattern built from a configurable prefix or an id.
std::string glob_escape(std::string_view s);
std::string org_apikeys_key(std::string_view prefix, std::string_view org);
std::string apikey_key(std::string_view prefix, std::string_view key_id);
std::string audit_key(std::string_view prefix, std::string_view org);
std::string revoked_channel(std::string_view prefix);  // `<prefix>revoked`

// Messages on the revocation channel.
struct Revocation {
  enum class Kind : std::uint8_t { token, user, org, client } kind = Kind::token;
  std::string org;
  std::string subject;  // token id, user id, client id, or empty for org
};
std::string format_revocation(const Revocation& r);
// Strict: `token <org> <id>`, `user <org> <user>`, `org <org>`,
// `client <org> <client id>` (the client id is the rest of the message: it
// may hold spaces), ids validated.
std::optional<Revocation> parse_revocation(std::string_view msg);

using Fields = std::vector<std::pair<std::string, std::string>>;

// The cred hash.
struct CredentialRecord {
  std::string user;
  std::string secret_sha256;
  std::int64_t issued_at_ms = 0;
  std::int64_t expires_at_ms = 0;
  std::vector<std::string> scope;  // empty = no scope
  std::string client_id;           // empty = no binding
  std::string apikey;              // issuing key id (may be empty for CLI mints)
};
Fields to_fields(const CredentialRecord& c);
// Fails (returns nullopt) when a required field is missing or malformed.
std::optional<CredentialRecord> credential_from_fields(const Fields& f);

// The org hash; absent fields are std::nullopt and take configured defaults.
struct OrgRecord {
  std::string name;
  std::string created_at;
  // `disabled` as parse_flag_word reads it. A value it does not recognise
  // (`01`, `disable`, `2`) fails closed: the org counts as disabled and
  // disabled_unrecognised is set, so the reader can log the value.
  bool disabled = false;
  bool disabled_unrecognised = false;
  std::optional<std::int64_t> default_ttl, max_ttl, pub_rate, pub_burst, max_connections,
      user_pub_rate, user_max_connections, max_tokens_per_user,
      // POST /v2/tokens/exchange per second: the org's and each user claim value's.
      exchange_rate, exchange_user_rate;
  // `pub_rate_scope global`: pub_rate is the org's total over all brokers
  // (leased from Redis); `broker` (default, and any other value) is per broker.
  bool pub_rate_global = false;
};
// Live credentials one user may hold when the org hash sets no
// max_tokens_per_user (0 there = no cap). Bounds what one user's index costs
// to list or revoke, so one tenant cannot stall Redis for the others.
inline constexpr std::int64_t kDefaultMaxTokensPerUser = 100;
OrgRecord org_from_fields(const Fields& f);
// Names of the numeric org fields, for `shortcredctl org set --FIELD`.
const std::vector<std::string_view>& org_numeric_fields();

// An on/off word, trimmed of ASCII spaces and tabs, case-insensitive: `1`,
// `true`, `yes`, `on` are true; `0`, `false`, `no`, `off` and the empty
// string are false; anything else (`01`, `2`, `y`, `disabled`) is nullopt.
std::optional<bool> parse_flag_word(std::string_view s) noexcept;

// Parses a non-negative decimal integer without sign, spaces or overflow.
bool parse_u64(std::string_view s, std::uint64_t& out) noexcept;

}  // namespace shortcred
