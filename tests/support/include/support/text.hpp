#pragma once

#include <cstddef>
#include <string_view>

namespace support {

// How often `needle` occurs in `text` (overlapping occurrences counted), e.g.
// a log line that must be written once.
inline std::size_t count_of(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace support
