// From a verified token's user claim to a shortcred user id
// (`[A-Za-z0-9._:@-]{1,128}`, ids.hpp). Configured per provider
// (`user_map`); every rule is injective and ACL-safe (its output is a valid
// user id, so never holds `/`, `+`, `#`, `$`, `|`, spaces or control bytes),
// and a value it cannot map is refused, never passed through:
//
//   refuse (default)  the claim must already be a valid user id and is used
//                     as it is; anything else is refused.
//   encode            every byte outside [A-Za-z0-9._@-] (so also ':') is
//                     written as ':' and two lower-case hex digits:
//                     `google-oauth2|1234` → `google-oauth2:7c1234`. Values
//                     without such bytes stay unchanged; ':' escaping itself
//                     keeps it injective. Refused if longer than 128 bytes.
//   hash              the lower-case hex SHA-256 of the value (64 chars),
//                     for every value: for claims such as long or
//                     personal values that should not appear in topics.
//
// The rule applies to every token of the provider, so one user claim value
// always maps to one user id and two different values never to the same.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shortcred::jose {

enum class UserMap : std::uint8_t { refuse, encode, hash };

std::optional<UserMap> parse_user_map(std::string_view name) noexcept;
std::string_view user_map_name(UserMap m) noexcept;

// The user id for claim `value`, or nullopt with `why` (a sentence that
// does not quote the value) when the rule refuses it.
std::optional<std::string> map_user(std::string_view value, UserMap rule, std::string& why);

// map_user of `claims[claim]`, which must be a non-empty string.
std::optional<std::string> user_from_claims(const Json::Value& claims, const std::string& claim,
                                            UserMap rule, std::string& why);

}  // namespace shortcred::jose
