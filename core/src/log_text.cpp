#include "shortcred/log_text.hpp"

namespace shortcred {

std::string loggable(std::string_view text, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool cut = text.size() > max;
  if (cut) text = text.substr(0, max);
  std::string out;
  out.reserve(text.size() + (cut ? 3 : 0));
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (cut) out += "\u2026";
  return out;
}

}  // namespace shortcred
