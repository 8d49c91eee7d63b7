// RFC 3339 UTC timestamps of the HTTP API.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "shortcred/time.hpp"

using namespace shortcred;

TEST_CASE("unix seconds format as RFC 3339 UTC with a Z", "[time]") {
  struct Case {
    std::int64_t t;
    const char* text;
  };
  const Case cases[] = {
      {0, "1970-01-01T00:00:00Z"},
      {1'795'804'867, "2026-11-27T18:41:07Z"},
      {951'782'400, "2000-02-29T00:00:00Z"},    // leap day of a /400 year
      {4'107'542'400, "2100-03-01T00:00:00Z"},  // 2100 is not a leap year
      {-1, "1969-12-31T23:59:59Z"},
      {-86'400, "1969-12-31T00:00:00Z"},
      {253'402'300'799, "9999-12-31T23:59:59Z"},
      {-62'167'219'200, "0000-01-01T00:00:00Z"},
      {946'684'800, "2000-01-01T00:00:00Z"},
      {4'102'444'800, "2100-01-01T00:00:00Z"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.t);
    CHECK(format_rfc3339(c.t) == c.text);
  }
}

TEST_CASE("formatted timestamps parse back to the same second", "[time]") {
  // A spread over the 4-digit-year range, then every day of the century
  // years 2000 (leap) and 2100 (not), at a second that moves through the day.
  std::int64_t back = 0;
  for (std::int64_t t = -62'167'219'200; t < 253'402'300'800; t += 77'777'777) {
    REQUIRE(parse_rfc3339(format_rfc3339(t), back) == Errc::ok);
    REQUIRE(back == t);
  }
  for (std::int64_t year_start : {std::int64_t{946'684'800}, std::int64_t{4'102'444'800}}) {
    for (std::int64_t day = 0; day < 366; ++day) {
      const std::int64_t t = year_start + day * 86'400 + day * 236;
      REQUIRE(parse_rfc3339(format_rfc3339(t), back) == Errc::ok);
      REQUIRE(back == t);
    }
  }
  for (std::int64_t t :
       {std::int64_t{0}, std::int64_t{59}, std::int64_t{86'399}, std::int64_t{1'795'804'867}}) {
    REQUIRE(parse_rfc3339(format_rfc3339(t), back) == Errc::ok);
    CHECK(back == t);
  }
}

TEST_CASE("RFC 3339 variants are accepted: fractions, lower case, offsets", "[time]") {
  struct Case {
    const char* text;
    std::int64_t t;
  };
  const Case cases[] = {
      {"2026-11-27T18:41:07Z", 1'795'804'867},
      {"2026-11-27t18:41:07z", 1'795'804'867},
      {"2026-11-27T18:41:07.999Z", 1'795'804'867},  // truncated, not rounded
      {"2026-11-27T18:41:07.1Z", 1'795'804'867},
      {"2026-11-27T18:41:07.123456789012Z", 1'795'804'867},
      {"2026-11-27T19:41:07+01:00", 1'795'804'867},
      {"2026-11-27T13:11:07-05:30", 1'795'804'867},
      {"2026-11-28T00:41:07+06:00", 1'795'804'867},  // across midnight
      {"2026-11-27T18:41:07+00:00", 1'795'804'867},
      {"2026-11-27T18:41:07-00:00", 1'795'804'867},
      {"2026-11-27T18:41:07.5+23:59", 1'795'804'867 - 23 * 3600 - 59 * 60},
      {"2024-02-29T12:00:00Z", 1'709'208'000},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    std::int64_t t = -1;
    REQUIRE(parse_rfc3339(c.text, t) == Errc::ok);
    CHECK(t == c.t);
  }
}

TEST_CASE("malformed or impossible timestamps are refused", "[time]") {
  const char* const rejects[] = {
      "",
      "2026-11-27",
      "2026-11-27T18:41:07",  // no zone: local time is ambiguous
      "2026-11-27 18:41:07Z",
      "2026-11-27T18:41Z",
      "26-11-27T18:41:07Z",
      "2026-1-27T18:41:07Z",
      "2026-11-27T8:41:07Z",
      "+2026-11-27T18:41:07Z",
      "2026-11-27T18:41:07ZZ",
      "2026-11-27T18:41:07Z ",
      " 2026-11-27T18:41:07Z",
      "2026-11-27T18:41:07.Z",
      "2026-11-27T18:41:07,5Z",
      "2026-11-27T18:41:07+0100",
      "2026-11-27T18:41:07+01",
      "2026-11-27T18:41:07+24:00",
      "2026-11-27T18:41:07+01:60",
      "2026-11-27T18:41:07UTC",
      "2026-00-10T00:00:00Z",
      "2026-13-10T00:00:00Z",
      "2026-11-00T00:00:00Z",
      "2026-11-31T00:00:00Z",
      "2026-02-30T00:00:00Z",
      "2026-02-29T00:00:00Z",  // not a leap year
      "2100-02-29T00:00:00Z",  // not a leap year either
      "2026-11-27T24:00:00Z",
      "2026-11-27T18:60:00Z",
      "2026-11-27T18:41:60Z",  // leap seconds have no Unix time
      "2026-11-27T18:41:0xZ",
      "2026-\xef\xbc\x91\x31-27T18:41:07Z",
  };
  for (const char* text : rejects) {
    CAPTURE(text);
    std::int64_t t = 42;
    CHECK(parse_rfc3339(text, t) == Errc::bad_time);
    CHECK(t == 42);
  }
}

TEST_CASE("a NUL byte inside a timestamp is refused", "[time]") {
  const std::string text("2026-11-27T18:41:07\0Z", 21);
  std::int64_t t = 0;
  CHECK(parse_rfc3339(text, t) == Errc::bad_time);
}
