// Client-chosen text (client ids) in log lines and in shortcredctl's tables.
// A client id is up to 64 KiB of whatever the client sent: printed raw it
// could forge log or table lines, carry terminal escapes or flood the log.
// loggable() keeps printable ASCII except the backslash, writes every other
// byte as \xHH (the backslash as \\), and cuts the input after `max` bytes,
// marking the cut with "…".
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace shortcred {

inline constexpr std::size_t kLogTextMax = 128;

std::string loggable(std::string_view text, std::size_t max = kLogTextMax);

}  // namespace shortcred
