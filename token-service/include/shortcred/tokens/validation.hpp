// Validation of issuing input, shared by POST /v2/tokens and
// `shortcredctl token mint`: every failure names the field and the rule.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/tokens/status.hpp"

namespace shortcred::tokens {

inline constexpr std::int64_t kMinTtlSeconds = 60;
inline constexpr std::size_t kMaxClientIdLen = 256;

// `user_id`: DESIGN.md user id (1–128 bytes of [A-Za-z0-9._:@-]).
Status validate_user_field(std::string_view field, std::string_view user);

// `client_id` binding: 1–256 bytes of well-formed UTF-8, no NUL or other
// control byte, and none of `/ + #` (a client id is substituted into topic
// patterns as %c, where those would widen or break the rule).
Status validate_client_id_field(std::string_view field, std::string_view client_id);

// `scope`: core parse_scope (≤ 16 allow rules, ≤ 256 bytes each, no deny).
Status validate_scope_field(std::string_view field, const std::vector<std::string>& rules);

// `ttl_seconds` against [60, max_ttl].
Status validate_ttl_field(std::string_view field, std::int64_t ttl, std::int64_t max_ttl);

// Client-supplied text made safe for an error message: printable ASCII stays
// (a backslash is doubled), every other byte becomes `\xNN`, so a message is
// always valid UTF-8 without control characters, whatever the client sent.
std::string escape_for_message(std::string_view s);

// Well-formed UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

}  // namespace shortcred::tokens
