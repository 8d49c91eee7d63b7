// MQTT 5 §4.7 topic names and filters. Everything here works on string_views
// and allocates nothing: it runs on every PUBLISH, SUBSCRIBE and delivery.
#include "shortcred/topic.hpp"

#include <cstdint>

namespace shortcred {
namespace {

// Walks the `/`-separated levels of a topic or filter. "a//b" has three
// levels, "/" has two empty ones, "" has one empty level.
class Levels {
 public:
  explicit Levels(std::string_view s) noexcept : s_(s) {}

  bool done() const noexcept { return done_; }
  std::size_t index() const noexcept { return index_; }
  // The unconsumed tail, e.g. "b/c" after `next()` on "a/b/c".
  std::string_view rest() const noexcept { return done_ ? std::string_view{} : s_.substr(pos_); }

  std::string_view next() noexcept {
    const std::size_t end = s_.find('/', pos_);
    const std::size_t start = pos_;
    ++index_;
    if (end == std::string_view::npos) {
      done_ = true;
      return s_.substr(start);
    }
    pos_ = end + 1;
    return s_.substr(start, end - start);
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
  std::size_t index_ = 0;  // levels consumed so far
  bool done_ = false;
};

// Length of the UTF-8 sequence starting at s[i], or 0 when it is not
// well-formed (Unicode Table 3-7: no overlongs, no surrogates, ≤ U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto byte = [&](std::size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<std::uint8_t>(s[i + k]) : 0x100U;
  };
  const auto cont = [&](std::size_t k, unsigned lo = 0x80, unsigned hi = 0xBF) {
    return byte(k) >= lo && byte(k) <= hi;
  };
  const unsigned b0 = byte(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 == 0xE0) return cont(1, 0xA0) && cont(2) ? 3 : 0;        // no overlongs
  if (b0 == 0xED) return cont(1, 0x80, 0x9F) && cont(2) ? 3 : 0;  // no surrogates
  if (b0 >= 0xE1 && b0 <= 0xEF) return cont(1) && cont(2) ? 3 : 0;
  if (b0 == 0xF0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;  // no overlongs
  if (b0 >= 0xF1 && b0 <= 0xF3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 == 0xF4) return cont(1, 0x80, 0x8F) && cont(2) && cont(3) ? 4 : 0;  // ≤ U+10FFFF
  return 0;  // stray continuation byte, C0/C1 overlong lead, or F5..FF
}

// The checks topic names and filters share: length, encoding, NUL, depth.
Errc validate_common(std::string_view s) noexcept {
  if (s.empty()) return Errc::empty;
  if (s.size() > kMaxTopicLen) return Errc::too_long;
  std::size_t levels = 1;
  for (std::size_t i = 0; i < s.size();) {
    if (s[i] == '\0') return Errc::nul_byte;
    if (s[i] == '/') ++levels;
    const std::size_t n = utf8_sequence_length(s, i);
    if (n == 0) return Errc::bad_utf8;
    i += n;
  }
  return levels > kMaxTopicLevels ? Errc::too_deep : Errc::ok;
}

bool is_wildcard_level(std::string_view level) noexcept {
  return level == "+" || level == "#";
}

}  // namespace

Errc validate_topic(std::string_view topic) noexcept {
  if (const Errc e = validate_common(topic); e != Errc::ok) return e;
  return topic.find_first_of("+#") == std::string_view::npos ? Errc::ok : Errc::bad_wildcard;
}

Errc validate_filter(std::string_view filter) noexcept {
  if (const Errc e = validate_common(filter); e != Errc::ok) return e;
  Levels levels(filter);
  while (!levels.done()) {
    const std::string_view level = levels.next();
    // A shared subscription must be stripped by the caller: as a rule pattern
    // or a plain filter, a `$share` first level would never match a topic.
    if (levels.index() == 1 && level == "$share") return Errc::bad_format;
    if (is_wildcard_level(level)) {
      if (level == "#" && !levels.done()) return Errc::bad_wildcard;
      continue;
    }
    if (level.find_first_of("+#") != std::string_view::npos) return Errc::bad_wildcard;
  }
  return Errc::ok;
}

bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
  // MQTT 5 §4.7.2: server topics (`$SYS/...`) are invisible to wildcards in
  // the first level, so `#` never grants them.
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  Levels f(filter);
  Levels t(topic);
  while (!f.done()) {
    const std::string_view fl = f.next();
    if (fl == "#") return true;  // also matches the parent: `a/#` matches `a`
    if (t.done()) return false;
    const std::string_view tl = t.next();
    if (fl != "+" && fl != tl) return false;
  }
  return t.done();
}

// Compares level by level. `inner` is within `outer` iff at each level the
// outer level covers the inner one (`#` covers everything below, `+` covers
// any single non-`#` level) and both run out together.
bool filter_within(std::string_view inner, std::string_view outer) noexcept {
  Levels in(inner);
  Levels out(outer);
  while (!out.done()) {
    const bool first = out.index() == 0;
    const std::string_view ol = out.next();
    // A wildcard first level never matches `$` topics, so it cannot cover a
    // `$SYS`-like first level of `inner`.
    const bool dollar = first && !inner.empty() && inner.front() == '$';
    if (ol == "#") return !dollar;
    if (in.done()) return false;  // outer needs a level inner may lack
    const std::string_view il = in.next();
    if (il == "#") {
      // `#` as the whole inner filter matches every non-`$` topic of one or
      // more levels, and so does `+/#` (its `#` matches the parent level).
      // Deeper down, inner `a/#` matches `a` itself, which only `#` covers.
      return first && ol == "+" && out.rest() == "#";
    }
    if (ol == "+") {
      if (dollar) return false;
      continue;
    }
    if (il != ol) return false;  // includes inner `+` against a literal
  }
  return in.done();
}

Errc strip_shared(std::string_view raw, std::string_view& filter) noexcept {
  constexpr std::string_view kPrefix = "$share/";
  if (raw.substr(0, kPrefix.size()) != kPrefix) {
    filter = raw;
    return Errc::ok;
  }
  const std::string_view rest = raw.substr(kPrefix.size());
  const std::size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return Errc::bad_format;  // no filter part
  const std::string_view group = rest.substr(0, slash);
  if (group.empty() || group.find_first_of("+#") != std::string_view::npos) {
    return Errc::bad_format;
  }
  const std::string_view inner = rest.substr(slash + 1);
  if (inner.empty()) return Errc::bad_format;
  filter = inner;
  return Errc::ok;
}

}  // namespace shortcred
