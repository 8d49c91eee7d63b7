#include "shortcred/tokens/validation.hpp"

#include "shortcred/ids.hpp"
#include "shortcred/rules.hpp"

namespace shortcred::tokens {
namespace {

std::string named(std::string_view field, std::string_view rule) {
  std::string s(field);
  s.append(" ").append(rule);
  return s;
}

}  // namespace

std::string escape_for_message(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size());
  for (const char ch : s) {
    const auto b = static_cast<unsigned char>(ch);
    if (b == '\\') {
      out += "\\\\";
    } else if (b >= 0x20 && b < 0x7F) {
      out.push_back(ch);
    } else {
      out += "\\x";
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 0xF]);
    }
  }
  return out;
}

bool is_valid_utf8(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      n = 1, cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 2, cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 3, cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto cb = static_cast<unsigned char>(s[i + k]);
      if ((cb & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cb & 0x3F);
    }
    static constexpr std::uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n + 1;
  }
  return true;
}

Status validate_user_field(std::string_view field, std::string_view user) {
  const Errc e = validate_user_id(user);
  if (e == Errc::ok) return Status::success();
  return Status::invalid(
      named(field, std::string(describe(e)) + " (1-128 bytes of [A-Za-z0-9._:@-])"));
}

Status validate_client_id_field(std::string_view field, std::string_view id) {
  const auto bad = [&](std::string_view rule) { return Status::invalid(named(field, rule)); };
  if (id.empty()) return bad("must not be empty");
  if (id.size() > kMaxClientIdLen) return bad("must be at most 256 bytes");
  for (char ch : id) {
    const auto b = static_cast<unsigned char>(ch);
    if (b == 0) return bad("must not contain a NUL byte");
    if (b < 0x20 || b == 0x7F) return bad("must not contain control characters");
    // The binding is the client's own id: under a client_id_prefix such as
    // %o/%u/ the part after it, which the broker puts together.
    if (ch == '/') {
      return bad("must not contain '/', '+' or '#' (it names the part after the broker's "
                 "client_id_prefix: app-1, not org/user/app-1)");
    }
    if (ch == '+' || ch == '#') return bad("must not contain '/', '+' or '#'");
  }
  if (!is_valid_utf8(id)) return bad("must be well-formed UTF-8");
  return Status::success();
}

Status validate_scope_field(std::string_view field, const std::vector<std::string>& rules) {
  std::vector<Rule> parsed;
  std::vector<RuleError> errors;
  if (parse_scope(rules, parsed, errors)) return Status::success();
  std::string msg(field);
  if (!errors.empty()) {
    if (errors.front().line > 0 && rules.size() <= kMaxScopeRules)
      msg += "[" + std::to_string(errors.front().line - 1) + "]";
    msg += ": " + escape_for_message(errors.front().message);  // may quote the rule
  } else {
    msg += " is invalid";
  }
  return Status::invalid(msg);
}

Status validate_ttl_field(std::string_view field, std::int64_t ttl, std::int64_t max_ttl) {
  if (ttl < kMinTtlSeconds || ttl > max_ttl) {
    return Status::invalid(named(field, "must lie in [60, " + std::to_string(max_ttl) +
                                            "] seconds, got " + std::to_string(ttl)));
  }
  return Status::success();
}

}  // namespace shortcred::tokens
