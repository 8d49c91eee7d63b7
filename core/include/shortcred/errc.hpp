// Error values of the core library. Every parser and validator returns one of
// these instead of throwing, so adapters map them to HTTP statuses, CONNACK
// codes or CLI exit codes in one place each.
#pragma once

#include <cstdint>
#include <string_view>

namespace shortcred {

enum class Errc : std::uint8_t {
  ok = 0,
  empty,          // value is empty
  too_long,       // value exceeds its length limit
  bad_char,       // a byte outside the allowed alphabet
  bad_prefix,     // secret without its `tkn_` / `sk_` prefix
  bad_length,     // id or secret part of the wrong length
  bad_format,     // structure is wrong (missing separator, `@`, …)
  bad_utf8,       // not well-formed UTF-8
  nul_byte,       // contains U+0000
  bad_wildcard,   // `+`/`#` misplaced, or present in a publish topic
  too_deep,       // too many topic levels
  bad_time,       // not an RFC 3339 UTC timestamp
  bad_url,        // not a redis:// or unix:// URL
};

// A short English sentence fragment for logs and error bodies, e.g.
// "contains a character outside [A-Za-z0-9._:@-]". Never includes the value.
std::string_view describe(Errc e) noexcept;

}  // namespace shortcred
