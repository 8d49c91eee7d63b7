// MQTT 5 §4.7 topic names and filters. Everything here works on string_views
// and allocates nothing: it runs on every PUBLISH, SUBSCRIBE and delivery.
#include "shortcred/topic.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>

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
    // A plain loop, not find(): levels are short, and a memchr call per level
    // costs more than the scan on the per-message path.
    std::size_t end = pos_;
    while (end < s_.size() && s_[end] != '/') ++end;
    const std::string_view level = s_.substr(pos_, end - pos_);
    ++index_;
    done_ = end == s_.size();
    pos_ = end + 1;
    return level;
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

bool is_wildcard_char(char c) noexcept {
  return c == '+' || c == '#';
}

// Word-at-a-time helpers (SWAR): validation runs on every check, and most
// topics are plain ASCII, so eight bytes are vetted with a few integer ops.
constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

// 0x80 in each byte of `x` that is zero, 0 elsewhere. Exact: no byte carries
// into the next (unlike the shorter "has a zero byte" trick).
constexpr std::uint64_t zero_bytes(std::uint64_t x) noexcept {
  const std::uint64_t low7 = ~kHighBits;
  return ~(((x & low7) + low7) | x | low7);
}

constexpr std::uint64_t bytes_equal(std::uint64_t x, char c) noexcept {
  return zero_bytes(x ^ (kOnes * static_cast<std::uint8_t>(c)));
}

// If s[i, i+8) is ASCII without NUL, `+` or `#`, adds its `/`s to `slashes`
// and returns true; otherwise the caller looks at s[i] alone.
bool plain_word(std::string_view s, std::size_t i, std::size_t& slashes) noexcept {
  if (i + 8 > s.size()) return false;
  std::uint64_t w = 0;
  std::memcpy(&w, s.data() + i, 8);
  if (((w & kHighBits) | bytes_equal(w, '\0') | bytes_equal(w, '+') | bytes_equal(w, '#')) != 0) {
    return false;
  }
  // Sums the 0/1 bytes into the top byte: cheaper than std::popcount, which
  // is a library call without -mpopcnt.
  slashes += static_cast<std::size_t>(((bytes_equal(w, '/') >> 7) * kOnes) >> 56);
  return true;
}

// The checks topic names and filters share: length, encoding, NUL, depth.
// One pass; `wildcards` tells whether a `+` or `#` occurs anywhere.
Errc validate_common(std::string_view s, bool& wildcards) noexcept {
  if (s.empty()) return Errc::empty;
  if (s.size() > kMaxTopicLen) return Errc::too_long;
  std::size_t slashes = 0;
  wildcards = false;
  for (std::size_t i = 0; i < s.size();) {
    if (plain_word(s, i, slashes)) {
      i += 8;
      continue;
    }
    const char c = s[i];
    if (static_cast<std::uint8_t>(c) >= 0x80) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n == 0) return Errc::bad_utf8;
      i += n;
      continue;
    }
    if (c == '\0') return Errc::nul_byte;
    if (c == '/') ++slashes;
    wildcards = wildcards || is_wildcard_char(c);
    ++i;
  }
  return slashes + 1 > kMaxTopicLevels ? Errc::too_deep : Errc::ok;
}

bool is_wildcard_level(std::string_view level) noexcept {
  return level == "+" || level == "#";
}

// `+` and `#` must each fill a whole level, and `#` must be the last one.
bool wildcards_well_placed(std::string_view filter) noexcept {
  Levels levels(filter);
  while (!levels.done()) {
    const std::string_view level = levels.next();
    if (is_wildcard_level(level)) {
      if (level == "#" && !levels.done()) return false;
      continue;
    }
    for (const char c : level) {
      if (is_wildcard_char(c)) return false;
    }
  }
  return true;
}

// Length of the common prefix of a[0..n) and b[0..n): eight bytes at a time,
// then bytewise to find the exact position.
std::size_t common_prefix(const char* a, const char* b, std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x = 0;
    std::uint64_t y = 0;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (x != y) break;
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

}  // namespace

Errc validate_topic(std::string_view topic) noexcept {
  bool wildcards = false;
  if (const Errc e = validate_common(topic, wildcards); e != Errc::ok) return e;
  return wildcards ? Errc::bad_wildcard : Errc::ok;
}

Errc validate_filter(std::string_view filter) noexcept {
  bool wildcards = false;
  if (const Errc e = validate_common(filter, wildcards); e != Errc::ok) return e;
  if (wildcards && !wildcards_well_placed(filter)) return Errc::bad_wildcard;
  // A shared subscription must be stripped by the caller: as a rule pattern
  // or a plain filter, a `$share` first level would never match a topic.
  if (filter == "$share" || filter.substr(0, 7) == "$share/") return Errc::bad_format;
  return Errc::ok;
}

// The innermost loop of every PUBLISH and delivery check. Topic names hold no
// wildcards, so filter and topic agree byte for byte (`/` included) until the
// filter reaches a wildcard or the two differ; only there is a decision made.
bool topic_matches(std::string_view filter, std::string_view topic) noexcept {
  // MQTT 5 §4.7.2: server topics (`$SYS/...`) are invisible to wildcards in
  // the first level, so `#` never grants them.
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      is_wildcard_char(filter.front())) {
    return false;
  }
  std::size_t f = 0;
  std::size_t t = 0;
  for (;;) {
    const std::size_t n = std::min(filter.size() - f, topic.size() - t);
    const std::size_t same = common_prefix(filter.data() + f, topic.data() + t, n);
    f += same;
    t += same;
    if (f == filter.size()) return t == topic.size();
    // A valid filter has wildcards only at the start of a level, and all
    // before it matched, so the topic is at the start of a level too.
    if (filter[f] == '#') return true;  // also matches the parent: `a/#` matches `a`
    if (filter[f] == '+') {
      while (t < topic.size() && topic[t] != '/') ++t;
      ++f;
      continue;
    }
    // `sport/#` matches `sport`: the topic ended where the filter has `/#`.
    return t == topic.size() && filter.substr(f) == "/#";
  }
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
