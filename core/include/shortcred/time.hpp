// RFC 3339 UTC timestamps as used in the HTTP API: `2026-11-27T18:41:07Z`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "shortcred/errc.hpp"

namespace shortcred {

std::string format_rfc3339(std::int64_t unix_seconds);
// Accepts `YYYY-MM-DDTHH:MM:SS[.frac]Z` (also lower-case t/z) and numeric
// offsets `±HH:MM`; fractions are truncated. Returns Errc::bad_time otherwise.
Errc parse_rfc3339(std::string_view text, std::int64_t& unix_seconds) noexcept;

}  // namespace shortcred
