// The Prometheus text writer and the top-N split behind the per-org series.
#include <catch2/catch.hpp>

#include <limits>
#include <string>
#include <vector>

#include "shortcred/prometheus_text.hpp"
#include "shortcred/top_n.hpp"

using namespace shortcred;

TEST_CASE("a family is a HELP and a TYPE line followed by its samples", "[metrics]") {
  PrometheusText t;
  t.family("shortcred_broker_kicks_total", "counter", "Clients disconnected.");
  t.sample("shortcred_broker_kicks_total", {{"reason", "expired"}}, std::uint64_t{3});
  t.sample("shortcred_broker_kicks_total", {{"reason", "revoked"}, {"org", "o1"}}, std::uint64_t{0});
  t.family("shortcred_broker_sessions", "gauge", "Live sessions.");
  t.sample("shortcred_broker_sessions", {}, std::uint64_t{12});
  CHECK(t.text() ==
        "# HELP shortcred_broker_kicks_total Clients disconnected.\n"
        "# TYPE shortcred_broker_kicks_total counter\n"
        "shortcred_broker_kicks_total{reason=\"expired\"} 3\n"
        "shortcred_broker_kicks_total{reason=\"revoked\",org=\"o1\"} 0\n"
        "# HELP shortcred_broker_sessions Live sessions.\n"
        "# TYPE shortcred_broker_sessions gauge\n"
        "shortcred_broker_sessions 12\n");
}

TEST_CASE("label values escape backslash and quote and newline and HELP escapes backslash and newline",
          "[metrics]") {
  PrometheusText t;
  t.family("m", "gauge", "a \"quoted\" back\\slash\nnext");
  t.sample("m", {{"l", "a\"b\\c\nd"}}, std::uint64_t{1});
  CHECK(t.text() ==
        "# HELP m a \"quoted\" back\\\\slash\\nnext\n"
        "# TYPE m gauge\n"
        "m{l=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST_CASE("floating-point samples keep their precision and spell infinities as Prometheus does",
          "[metrics]") {
  PrometheusText t;
  t.sample("a", {}, 0.25);
  t.sample("b", {}, 1e-7);
  t.sample("c", {{"le", "+Inf"}}, std::numeric_limits<double>::infinity());
  CHECK(t.text() == "a 0.25\nb 9.9999999999999995e-08\nc{le=\"+Inf\"} +Inf\n");
}

namespace {

std::vector<std::string> names_of(const std::vector<NamedCount>& in, const TopSplit& s) {
  std::vector<std::string> out;
  for (std::size_t i : s.top) out.emplace_back(in[i].name);
  return out;
}

}  // namespace

TEST_CASE("the N highest counts are kept, highest first, and the rest is summed", "[top_n]") {
  const std::vector<NamedCount> in = {{"a", 5}, {"b", 50}, {"c", 7}, {"d", 1}, {"e", 9}};
  const TopSplit s = split_top(in, 2);
  CHECK(names_of(in, s) == std::vector<std::string>{"b", "e"});
  CHECK(s.other == 5 + 7 + 1);
}

TEST_CASE("equal counts are ordered by name, whatever the input order", "[top_n]") {
  const std::vector<NamedCount> in = {{"z", 3}, {"m", 3}, {"a", 3}, {"q", 1}};
  const std::vector<NamedCount> reversed(in.rbegin(), in.rend());
  CHECK(names_of(in, split_top(in, 2)) == std::vector<std::string>{"a", "m"});
  CHECK(names_of(reversed, split_top(reversed, 2)) == std::vector<std::string>{"a", "m"});
  CHECK(split_top(in, 2).other == 4);
}

TEST_CASE("zero counts never get a series and fewer entries than N keep them all", "[top_n]") {
  const std::vector<NamedCount> in = {{"a", 0}, {"b", 2}, {"c", 0}};
  const TopSplit s = split_top(in, 20);
  CHECK(names_of(in, s) == std::vector<std::string>{"b"});
  CHECK(s.other == 0);
}

TEST_CASE("N = 0 sums everything into other", "[top_n]") {
  const std::vector<NamedCount> in = {{"a", 4}, {"b", 2}};
  const TopSplit s = split_top(in, 0);
  CHECK(s.top.empty());
  CHECK(s.other == 6);
}
