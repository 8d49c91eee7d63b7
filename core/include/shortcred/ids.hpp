// Identifiers of DESIGN.md "Identifiers and secrets": org ids, user ids and the
// MQTT username `<user>@<org>`.
#pragma once

#include <string_view>

#include "shortcred/errc.hpp"

namespace shortcred {

inline constexpr std::size_t kOrgIdMax = 64;    // [A-Za-z0-9_-]{1,64}
inline constexpr std::size_t kUserIdMax = 128;  // [A-Za-z0-9._:@-]{1,128}

Errc validate_org_id(std::string_view org) noexcept;
Errc validate_user_id(std::string_view user) noexcept;

struct Username {
  std::string_view user;
  std::string_view org;
};

// Splits `<user>@<org>` on the last `@` (user ids may contain `@`) and
// validates both halves. On error `out` is left untouched.
Errc parse_username(std::string_view username, Username& out) noexcept;

}  // namespace shortcred
