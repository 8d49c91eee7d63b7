// Topic names and filters: MQTT 5 §4.7 validation, matching (every example of
// §4.7.1–4.7.2), filter-within-filter and shared subscriptions.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/topic.hpp"

using shortcred::Errc;
using shortcred::filter_within;
using shortcred::strip_shared;
using shortcred::topic_matches;
using shortcred::validate_filter;
using shortcred::validate_topic;

namespace {

using namespace std::string_literals;

struct ValidationCase {
  std::string input;
  Errc topic;   // expected from validate_topic
  Errc filter;  // expected from validate_filter
};

std::string levels(std::size_t n) {
  std::string s = "a";
  for (std::size_t i = 1; i < n; ++i) s += "/a";
  return s;
}

struct MatchCase {
  std::string_view filter;
  std::string_view topic;
  bool matches;
};

struct WithinCase {
  std::string_view inner;
  std::string_view outer;
  bool within;
};

}  // namespace

TEST_CASE("topic names and filters are validated per MQTT 5 section 4.7", "[topic]") {
  const ValidationCase cases[] = {
      {"sport/tennis/player1", Errc::ok, Errc::ok},
      {"/", Errc::ok, Errc::ok},
      {"//", Errc::ok, Errc::ok},
      {"/finance", Errc::ok, Errc::ok},
      {"a b/c d", Errc::ok, Errc::ok},  // spaces are legal in topics
      {"$SYS/broker", Errc::ok, Errc::ok},
      {"ACCOUNTS/accounts", Errc::ok, Errc::ok},
      {"caf\xC3\xA9/\xE2\x82\xAC/\xF0\x9F\x98\x80", Errc::ok, Errc::ok},  // é € 😀
      {"\xF4\x8F\xBF\xBF", Errc::ok, Errc::ok},                           // U+10FFFF
      {"\xEF\xBF\xBF", Errc::ok, Errc::ok},                               // U+FFFF allowed
      {"", Errc::empty, Errc::empty},
      {"a\0b"s, Errc::nul_byte, Errc::nul_byte},
      {"\0"s, Errc::nul_byte, Errc::nul_byte},
      {"\xC0\xAF", Errc::bad_utf8, Errc::bad_utf8},          // overlong '/'
      {"\xC1\xBF", Errc::bad_utf8, Errc::bad_utf8},          // overlong
      {"\xE0\x80\xAF", Errc::bad_utf8, Errc::bad_utf8},      // overlong, 3 bytes
      {"\xF0\x80\x80\xAF", Errc::bad_utf8, Errc::bad_utf8},  // overlong, 4 bytes
      {"\xED\xA0\x80", Errc::bad_utf8, Errc::bad_utf8},      // surrogate U+D800
      {"\xED\xBF\xBF", Errc::bad_utf8, Errc::bad_utf8},      // surrogate U+DFFF
      {"\xF4\x90\x80\x80", Errc::bad_utf8, Errc::bad_utf8},  // U+110000
      {"\xF5\x80\x80\x80", Errc::bad_utf8, Errc::bad_utf8},
      {"\xFF", Errc::bad_utf8, Errc::bad_utf8},
      {"a\x80", Errc::bad_utf8, Errc::bad_utf8},      // stray continuation
      {"\xC3", Errc::bad_utf8, Errc::bad_utf8},       // truncated at end
      {"\xE2\x82", Errc::bad_utf8, Errc::bad_utf8},   // truncated at end
      {"\xE2\x82/", Errc::bad_utf8, Errc::bad_utf8},  // truncated before '/'
      {"#", Errc::bad_wildcard, Errc::ok},
      {"+", Errc::bad_wildcard, Errc::ok},
      {"sport/#", Errc::bad_wildcard, Errc::ok},
      {"sport/+/player1", Errc::bad_wildcard, Errc::ok},
      {"+/+", Errc::bad_wildcard, Errc::ok},
      {"/+", Errc::bad_wildcard, Errc::ok},
      {"+/tennis/#", Errc::bad_wildcard, Errc::ok},
      {"a#", Errc::bad_wildcard, Errc::bad_wildcard},
      {"sport/tennis#", Errc::bad_wildcard, Errc::bad_wildcard},
      {"a/#/b", Errc::bad_wildcard, Errc::bad_wildcard},
      {"#/", Errc::bad_wildcard, Errc::bad_wildcard},
      {"+a", Errc::bad_wildcard, Errc::bad_wildcard},
      {"sport+", Errc::bad_wildcard, Errc::bad_wildcard},
      {"a/++/b", Errc::bad_wildcard, Errc::bad_wildcard},
      {"##", Errc::bad_wildcard, Errc::bad_wildcard},
      {"$share/g/a", Errc::ok, Errc::bad_format},  // filters must be stripped first
      {"$share", Errc::ok, Errc::bad_format},
      {"$shared/g/a", Errc::ok, Errc::ok},
      {std::string(65535, 'a'), Errc::ok, Errc::ok},
      {std::string(65536, 'a'), Errc::too_long, Errc::too_long},
      {levels(128), Errc::ok, Errc::ok},
      {levels(129), Errc::too_deep, Errc::too_deep},
      {std::string(128, '/'), Errc::too_deep, Errc::too_deep},  // 129 empty levels
      {std::string(127, '/'), Errc::ok, Errc::ok},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input.size(), c.input.substr(0, 40));
    CHECK(validate_topic(c.input) == c.topic);
    CHECK(validate_filter(c.input) == c.filter);
  }
}

TEST_CASE("bad bytes are found wherever they sit in a long topic", "[topic]") {
  // Validation vets eight bytes at a time; probe every offset around words.
  struct Bad {
    std::string bytes;
    Errc topic;
    Errc filter;
  };
  const Bad bads[] = {{"\0"s, Errc::nul_byte, Errc::nul_byte},
                      {"+", Errc::bad_wildcard, Errc::bad_wildcard},
                      {"#", Errc::bad_wildcard, Errc::bad_wildcard},
                      {"\x80", Errc::bad_utf8, Errc::bad_utf8},
                      {"\xED\xA0\x80", Errc::bad_utf8, Errc::bad_utf8}};
  for (std::size_t offset = 0; offset < 20; ++offset) {
    for (const auto& bad : bads) {
      const std::string s = std::string(offset, 'x') + bad.bytes + std::string(20, 'y');
      CAPTURE(offset, bad.bytes);
      CHECK(validate_topic(s) == bad.topic);
      CHECK(validate_filter(s) == bad.filter);
    }
    const std::string good = std::string(offset, 'x') + "\xE2\x82\xAC" + std::string(20, '/');
    CHECK(validate_topic(good) == Errc::ok);
  }
}

TEST_CASE("levels are counted across long topics", "[topic]") {
  std::string deep;
  for (int i = 0; i < 127; ++i) deep += "level" + std::to_string(i) + "/";
  CHECK(validate_topic(deep + "last") == Errc::ok);          // 128 levels
  CHECK(validate_topic(deep + "x/last") == Errc::too_deep);  // 129 levels
  CHECK(validate_topic(deep + "\xC3\xA9/x") == Errc::too_deep);
}

TEST_CASE("a 128-level filter ending in # is valid, 129 levels is too deep", "[topic]") {
  CHECK(validate_filter(levels(127) + "/#") == Errc::ok);
  CHECK(validate_filter(levels(128) + "/#") == Errc::too_deep);
  CHECK(validate_filter(levels(127) + "/+") == Errc::ok);
}

TEST_CASE("topics match filters as in the MQTT 5 spec examples", "[topic]") {
  const MatchCase cases[] = {
      // §4.7.1.2 multi-level wildcard
      {"sport/tennis/player1/#", "sport/tennis/player1", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
      {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
      {"sport/tennis/player1/#", "sport/tennis/player2", false},
      {"sport/tennis/player1/#", "sport/tennis", false},
      {"sport/#", "sport", true},  // # also matches the parent level
      {"sport/#", "sport/", true},
      {"sport/#", "sports", false},
      {"#", "sport", true},
      {"#", "sport/tennis/player1", true},
      {"#", "/", true},
      {"#", "/finance", true},
      // §4.7.1.3 single-level wildcard
      {"sport/tennis/+", "sport/tennis/player1", true},
      {"sport/tennis/+", "sport/tennis/player2", true},
      {"sport/tennis/+", "sport/tennis/player1/ranking", false},
      {"sport/tennis/+", "sport/tennis", false},
      {"sport/+", "sport", false},
      {"sport/+", "sport/", true},
      {"sport/+/player1", "sport/tennis/player1", true},
      {"sport/+/player1", "sport/golf/player1", true},
      {"sport/+/player1", "sport/tennis/player2", false},
      {"+/+", "/finance", true},
      {"/+", "/finance", true},
      {"+", "/finance", false},
      {"+", "sport", true},
      {"+/tennis/#", "sport/tennis/player1", true},
      {"+/tennis/#", "sport/tennis", true},
      {"+/tennis/#", "sport/golf", false},
      // §4.7.2 topics beginning with $
      {"#", "$SYS/broker/clients", false},
      {"#", "$SYS", false},
      {"+/monitor/Clients", "$SYS/monitor/Clients", false},
      {"+/monitor/Clients", "SYS/monitor/Clients", true},
      {"$SYS/#", "$SYS/monitor/Clients", true},
      {"$SYS/#", "$SYS", true},
      {"$SYS/monitor/+", "$SYS/monitor/Clients", true},
      {"$SYS/monitor/+", "$SYS/monitor", false},
      {"+/#", "$SYS/x", false},
      {"+", "$SYS", false},
      {"a/$SYS", "a/$SYS", true},
      {"a/+", "a/$SYS", true},  // only the first level is special
      // §4.7.3 case sensitivity and literal matching
      {"ACCOUNTS", "Accounts", false},
      {"ACCOUNTS", "ACCOUNTS", true},
      {"Accounts payable", "Accounts payable", true},
      {"a/b", "a/b/", false},
      {"a/b/", "a/b", false},
      {"a//b", "a//b", true},
      {"a/+/b", "a//b", true},
      {"/", "/", true},
      {"+/+", "/", true},
      {"+", "/", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.filter, c.topic);
    CHECK(topic_matches(c.filter, c.topic) == c.matches);
  }
}

TEST_CASE("filter_within holds exactly when every matched topic is matched by the outer",
          "[topic]") {
  const WithinCase cases[] = {
      {"a/+/c", "a/#", true},
      {"a/#", "a/+", false},
      {"+/+", "#", true},
      {"$SYS/#", "#", false},
      {"$SYS/x", "+/x", false},
      {"$SYS/x", "+/#", false},
      {"$SYS", "+", false},
      {"$SYS/#", "$SYS/#", true},
      {"$SYS/a/b", "$SYS/#", true},
      {"$SYS/a", "$SYS/+", true},
      {"a/$x", "a/+", true},  // `$` is special only in the first level
      {"a/#", "a/#", true},
      {"a", "a/#", true},
      {"a/b/c/d", "a/#", true},
      {"a/+", "a/b", false},
      {"+", "a", false},
      {"#", "+/#", true},  // both match every non-$ topic of one or more levels
      {"+/#", "#", true},
      {"+/#", "+/#", true},
      {"#", "+", false},
      {"#", "+/+/#", false},
      {"#", "#", true},
      {"#", "a/#", false},
      {"a/#", "a/+/#", false},  // a/# matches `a`, a/+/# does not
      {"a/+/#", "a/#", true},
      {"a/+", "a/+", true},
      {"a/b", "a/+", true},
      {"a/b", "+/b", true},
      {"a/b", "+/+", true},
      {"a/b", "a/b", true},
      {"a/b", "a/c", false},
      {"a/b", "a", false},
      {"a", "a/b", false},
      {"a", "a/+", false},
      {"a/b/c", "a/+", false},
      {"a/+", "+/+", true},
      {"+/+", "a/+", false},
      {"/", "+/+", true},
      {"/", "#", true},
      {"/a", "/+", true},
      {"sport", "sport/#", true},
      {"sport/tennis/#", "sport/#", true},
      {"sport/#", "sport/tennis/#", false},
  };
  for (const auto& c : cases) {
    CAPTURE(c.inner, c.outer);
    CHECK(filter_within(c.inner, c.outer) == c.within);
  }
}

TEST_CASE("every valid filter is within itself and a topic within a filter it matches", "[topic]") {
  const std::string_view filters[] = {"a",      "a/b",   "/",  "+",   "#",    "+/+", "a/#",
                                      "$SYS/#", "a/+/c", "//", "+/#", "$SYS", "/+",  "a/b/c/d/#"};
  for (const auto f : filters) {
    CAPTURE(f);
    CHECK(filter_within(f, f));
  }
  const MatchCase topics[] = {{"a/#", "a/b/c", true},     {"+/+", "x/y", true},
                              {"#", "$SYS/x", false},     {"sport/+", "sport", false},
                              {"sport/#", "sport", true}, {"$SYS/#", "$SYS/a", true}};
  for (const auto& c : topics) {
    CAPTURE(c.filter, c.topic);
    // A topic name is a filter matching exactly itself.
    CHECK(filter_within(c.topic, c.filter) == topic_matches(c.filter, c.topic));
  }
}

TEST_CASE("shared subscriptions are stripped to the filter after the group", "[topic]") {
  struct Case {
    std::string_view raw;
    Errc result;
    std::string_view filter;
  };
  const Case cases[] = {
      {"$share/g/a/b", Errc::ok, "a/b"},
      {"$share/group1/#", Errc::ok, "#"},
      {"$share/g/+/x", Errc::ok, "+/x"},
      {"$share/g//", Errc::ok, "/"},
      {"$share/g/$share/h/x", Errc::ok, "$share/h/x"},  // then refused by validate_filter
      {"a/b", Errc::ok, "a/b"},
      {"$SYS/#", Errc::ok, "$SYS/#"},
      {"$share", Errc::ok, "$share"},  // not shared; validate_filter refuses it
      {"$shared/g/x", Errc::ok, "$shared/g/x"},
      {"share/g/x", Errc::ok, "share/g/x"},
      {"$share/", Errc::bad_format, ""},
      {"$share//a", Errc::bad_format, ""},
      {"$share/g", Errc::bad_format, ""},
      {"$share/g/", Errc::bad_format, ""},
      {"$share/+/a", Errc::bad_format, ""},
      {"$share/#/a", Errc::bad_format, ""},
      {"$share/g+/a", Errc::bad_format, ""},
      {"$share/g#/a", Errc::bad_format, ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.raw);
    std::string_view filter = "unchanged";
    REQUIRE(strip_shared(c.raw, filter) == c.result);
    CHECK(filter == (c.result == Errc::ok ? c.filter : "unchanged"));
  }
  std::string_view filter;
  REQUIRE(strip_shared("$share/g/$share/h/x", filter) == Errc::ok);
  CHECK(validate_filter(filter) == Errc::bad_format);
}

namespace {

// Every string of 1..max_levels levels drawn from `alphabet`, joined by `/`.
std::vector<std::string> all_strings(const std::vector<std::string>& alphabet,
                                     std::size_t max_levels) {
  std::vector<std::string> out;
  std::vector<std::string> frontier = {""};
  for (std::size_t depth = 1; depth <= max_levels; ++depth) {
    std::vector<std::string> next;
    for (const auto& prefix : frontier) {
      for (const auto& level : alphabet) next.push_back(depth == 1 ? level : prefix + "/" + level);
    }
    out.insert(out.end(), next.begin(), next.end());
    frontier = std::move(next);
  }
  return out;
}

}  // namespace

TEST_CASE("filter_within agrees with topic_matches over every small filter and topic", "[topic]") {
  // `z` stands for any literal the filters do not name; `$x` for server topics.
  const auto topics = all_strings({"a", "$x", "", "z"}, 4);
  std::vector<std::string> filters;
  for (auto& f : all_strings({"a", "$x", "", "+", "#"}, 3)) {
    if (validate_filter(f) == Errc::ok) filters.push_back(std::move(f));
  }
  REQUIRE(filters.size() > 50);
  std::size_t mismatches = 0;
  std::string first_mismatch;
  for (const auto& inner : filters) {
    for (const auto& outer : filters) {
      bool covered = true;
      for (const auto& t : topics) {
        if (topic_matches(inner, t) && !topic_matches(outer, t)) {
          covered = false;
          break;
        }
      }
      if (covered != filter_within(inner, outer) && mismatches++ == 0) {
        first_mismatch = "'" + inner + "' within '" + outer + "'";
      }
    }
  }
  INFO("first mismatch: " << first_mismatch);
  CHECK(mismatches == 0);
}
