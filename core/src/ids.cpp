#include "shortcred/ids.hpp"

namespace shortcred {
namespace {

bool is_alnum(unsigned char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Org ids land in Redis hash tags and topic levels, so the alphabet excludes
// `{`, `}`, `/`, `+`, `#`, `$` and `@` (the username separator).
bool is_org_char(unsigned char c) noexcept {
  return is_alnum(c) || c == '_' || c == '-';
}

// User ids are the customer's, so a wider alphabet; still nothing that is an
// MQTT wildcard, a level separator, whitespace or a control byte.
bool is_user_char(unsigned char c) noexcept {
  return is_alnum(c) || c == '.' || c == '_' || c == ':' || c == '@' || c == '-';
}

template <typename Pred>
Errc validate(std::string_view s, std::size_t max, Pred allowed) noexcept {
  if (s.empty()) return Errc::empty;
  if (s.size() > max) return Errc::too_long;
  for (unsigned char c : s) {
    if (!allowed(c)) return Errc::bad_char;
  }
  return Errc::ok;
}

}  // namespace

Errc validate_org_id(std::string_view org) noexcept {
  return validate(org, kOrgIdMax, is_org_char);
}

Errc validate_user_id(std::string_view user) noexcept {
  return validate(user, kUserIdMax, is_user_char);
}

Errc parse_username(std::string_view username, Username& out) noexcept {
  const auto at = username.rfind('@');
  if (at == std::string_view::npos) return Errc::bad_format;
  const auto user = username.substr(0, at);
  const auto org = username.substr(at + 1);
  if (Errc e = validate_user_id(user); e != Errc::ok) return e;
  if (Errc e = validate_org_id(org); e != Errc::ok) return e;
  out = Username{user, org};
  return Errc::ok;
}

}  // namespace shortcred
