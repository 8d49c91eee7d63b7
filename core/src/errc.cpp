#include "shortcred/errc.hpp"

namespace shortcred {

// Phrases complete a sentence whose subject is the field name ("user_id is
// empty"). They never quote the value: it may be a secret.
std::string_view describe(Errc e) noexcept {
  switch (e) {
    case Errc::ok:
      return "is valid";
    case Errc::empty:
      return "is empty";
    case Errc::too_long:
      return "is longer than allowed";
    case Errc::bad_char:
      return "contains a character outside the allowed set";
    case Errc::bad_prefix:
      return "does not start with the expected prefix";
    case Errc::bad_length:
      return "has the wrong length";
    case Errc::bad_format:
      return "is not in the expected format";
    case Errc::bad_utf8:
      return "is not well-formed UTF-8";
    case Errc::nul_byte:
      return "contains a NUL byte";
    case Errc::bad_wildcard:
      return "has a misplaced wildcard";
    case Errc::too_deep:
      return "has too many topic levels";
    case Errc::bad_time:
      return "is not an RFC 3339 timestamp";
    case Errc::bad_url:
      return "is not a redis:// or unix:// URL";
  }
  return "is invalid";
}

}  // namespace shortcred
