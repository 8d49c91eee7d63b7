#include "shortcred/time.hpp"

#include <cstdio>

namespace shortcred {
namespace {

constexpr std::int64_t kSecondsPerDay = 86400;

// Howard Hinnant's civil-calendar algorithms (proleptic Gregorian, day 0 =
// 1970-01-01). Pure integer arithmetic: no timegm, no TZ, no locale.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);                 // [0, 399]
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;  // [0, 365]
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;            // [0, 146096]
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

Civil civil_from_days(std::int64_t z) noexcept {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);                    // [0, 146096]
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const unsigned mp = (5 * doy + 2) / 153;                                     // [0, 11]
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool is_leap(std::int64_t y) noexcept {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// A cursor over the input; every reader fails (returns false) without
// consuming past the end.
class Reader {
 public:
  explicit Reader(std::string_view s) noexcept : s_(s) {}

  bool digits(std::size_t n, unsigned& out) noexcept {
    if (s_.size() - pos_ < n) return false;
    unsigned v = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const char c = s_[pos_ + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + static_cast<unsigned>(c - '0');
    }
    pos_ += n;
    out = v;
    return true;
  }

  bool literal(char a, char b = '\0') noexcept {
    if (done() || (s_[pos_] != a && (b == '\0' || s_[pos_] != b))) return false;
    ++pos_;
    return true;
  }

  // `.` then one or more digits; the value is dropped (truncation to seconds).
  bool optional_fraction() noexcept {
    if (!literal('.')) return true;
    const std::size_t start = pos_;
    while (!done() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
    return pos_ > start;
  }

  bool done() const noexcept { return pos_ == s_.size(); }
  char peek() const noexcept { return s_[pos_]; }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
};

// `Z`/`z` (offset 0) or `±HH:MM`; sets the offset east of UTC in seconds.
bool read_offset(Reader& r, std::int64_t& offset_s) noexcept {
  if (r.literal('Z', 'z')) {
    offset_s = 0;
    return true;
  }
  if (r.done()) return false;
  const int sign = r.peek() == '-' ? -1 : 1;
  unsigned hh = 0, mm = 0;
  if (!r.literal('+', '-') || !r.digits(2, hh) || !r.literal(':') || !r.digits(2, mm)) {
    return false;
  }
  if (hh > 23 || mm > 59) return false;
  offset_s = sign * static_cast<std::int64_t>(hh * 3600 + mm * 60);
  return true;
}

}  // namespace

// Years outside 0000–9999 have no RFC 3339 form; they are printed with their
// sign and digits anyway (never produced by real expiry times).
std::string format_rfc3339(std::int64_t unix_seconds) {
  std::int64_t days = unix_seconds / kSecondsPerDay;
  std::int64_t secs = unix_seconds % kSecondsPerDay;
  if (secs < 0) {  // floor division for instants before 1970
    secs += kSecondsPerDay;
    --days;
  }
  const Civil c = civil_from_days(days);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                static_cast<long long>(c.year), c.month, c.day, static_cast<long long>(secs / 3600),
                static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  return buf;
}

// Grammar (RFC 3339 §5.6, `date-time`):
//   YYYY "-" MM "-" DD ("T"|"t") hh ":" mm ":" ss ["." 1*DIGIT] ("Z"|"z"|("+"|"-") hh ":" mm)
// Every field has exactly its digit count. Calendar dates are checked (no
// Feb 30, Feb 29 only in leap years), hour 24 is rejected, and so is the leap
// second 60: Unix time has no representation for it.
Errc parse_rfc3339(std::string_view text, std::int64_t& unix_seconds) noexcept {
  Reader r(text);
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  std::int64_t offset_s = 0;
  const bool shaped = r.digits(4, year) && r.literal('-') && r.digits(2, month) && r.literal('-') &&
                      r.digits(2, day) && r.literal('T', 't') && r.digits(2, hour) &&
                      r.literal(':') && r.digits(2, minute) && r.literal(':') &&
                      r.digits(2, second) && r.optional_fraction() && read_offset(r, offset_s) &&
                      r.done();
  if (!shaped) return Errc::bad_time;
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) {
    return Errc::bad_time;
  }
  if (hour > 23 || minute > 59 || second > 59) return Errc::bad_time;
  const std::int64_t days = days_from_civil(year, month, day);
  unix_seconds = days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset_s;
  return Errc::ok;
}

}  // namespace shortcred
