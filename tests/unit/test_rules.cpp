// ACL rule grammar: single rules, rule files with line numbers, scopes, and
// the stored (newline-joined) scope format.
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/rules.hpp"

using shortcred::Access;
using shortcred::Rule;
using shortcred::RuleError;
using shortcred::default_templates;
using shortcred::rule_file_warnings;
using shortcred::unanchored_warning;

namespace {

using namespace std::string_literals;

Rule parse_ok(std::string_view text) {
  Rule rule;
  RuleError err;
  INFO("rule: " << text);
  const bool ok = shortcred::parse_rule(text, rule, err);
  INFO("error: " << err.message);
  REQUIRE(ok);
  return rule;
}

std::string parse_error(std::string_view text) {
  Rule rule;
  rule.pattern = "untouched";
  RuleError err;
  INFO("rule: " << text);
  REQUIRE_FALSE(shortcred::parse_rule(text, rule, err));
  CHECK(rule.pattern == "untouched");  // no partial result on failure
  return err.message;
}

}  // namespace

TEST_CASE("valid rules parse into access, pattern and options", "[rules]") {
  struct Case {
    std::string_view text;
    Access access;
    std::string_view pattern;
    int max_qos;
    bool retain_allowed;
    std::string_view normalised;
  };
  const Case cases[] = {
      {"read a/b", Access::read, "a/b", 2, true, "read a/b"},
      {"write a/+", Access::write, "a/+", 2, true, "write a/+"},
      {"readwrite %o/users/%u/#", Access::readwrite, "%o/users/%u/#", 2, true,
       "readwrite %o/users/%u/#"},
      {"deny #", Access::deny, "#", 2, true, "deny #"},
      {"write a max_qos=0", Access::write, "a", 0, true, "write a max_qos=0"},
      {"write a max_qos=1", Access::write, "a", 1, true, "write a max_qos=1"},
      {"write a max_qos=2", Access::write, "a", 2, true, "write a max_qos=2"},
      {"write a retain=false", Access::write, "a", 2, false, "write a retain=false"},
      {"write a retain=false max_qos=1", Access::write, "a", 1, false,
       "write a retain=false max_qos=1"},
      {"  write \t a/b   max_qos=1  \r", Access::write, "a/b", 1, true, "write a/b max_qos=1"},
      {"read $SYS/#", Access::read, "$SYS/#", 2, true, "read $SYS/#"},
      {"read %c/%u%o/x", Access::read, "%c/%u%o/x", 2, true, "read %c/%u%o/x"},
      {"read pre%u-post/+", Access::read, "pre%u-post/+", 2, true, "read pre%u-post/+"},
      {"read /", Access::read, "/", 2, true, "read /"},
      {"read caf\xC3\xA9/#", Access::read, "caf\xC3\xA9/#", 2, true, "read caf\xC3\xA9/#"},
  };
  for (const auto& c : cases) {
    const Rule r = parse_ok(c.text);
    CAPTURE(c.text);
    CHECK(r.access == c.access);
    CHECK(r.pattern == c.pattern);
    CHECK(r.max_qos == c.max_qos);
    CHECK(r.retain_allowed == c.retain_allowed);
    CHECK(r.text == c.normalised);
  }
}

TEST_CASE("rule errors name the offending token and what was expected", "[rules]") {
  struct Case {
    std::string text;
    std::vector<std::string_view> mentions;
  };
  const Case cases[] = {
      {"", {"empty rule", "<access> <pattern>"}},
      {"   \t ", {"empty rule"}},
      {"publish a/b", {"'publish'", "read, write, readwrite or deny"}},
      {"READ a/b", {"'READ'", "expected read"}},
      {"read", {"missing pattern", "'read'", "topic filter"}},
      {"deny   ", {"missing pattern", "'deny'"}},
      {"read a#", {"'a#'", "wildcard"}},
      {"read a/#/b", {"'a/#/b'", "wildcard"}},
      {"read +a", {"'+a'", "wildcard"}},
      {"read a/%x", {"'a/%x'", "stray '%'", "%o, %u or %c"}},
      {"read a/%", {"'a/%'", "stray '%'"}},
      {"read %%u", {"'%%u'", "stray '%'"}},
      {"read %U/x", {"'%U/x'", "stray '%'"}},
      {"read a\xC0\xAF", {"UTF-8"}},
      {"read $share/g/a", {"'$share/g/a'", "$share"}},
      {"read a/b max_qos=3", {"'max_qos=3'", "max_qos=0, max_qos=1 or max_qos=2"}},
      {"read a/b max_qos=", {"'max_qos='", "expected max_qos=0"}},
      {"read a/b max_qos=01", {"'max_qos=01'", "expected"}},
      {"read a/b max_qos=-1", {"'max_qos=-1'", "expected"}},
      {"read a/b max_qos=1 max_qos=2", {"duplicate option", "'max_qos=2'", "already set"}},
      {"read a/b retain=false retain=false", {"duplicate option", "'retain=false'"}},
      {"read a/b retain=true", {"'retain=true'", "expected retain=false"}},
      {"read a/b retain=no", {"'retain=no'", "expected retain=false"}},
      {"read a/b qos=1", {"unknown option", "'qos=1'", "max_qos=0|1|2 or retain=false"}},
      {"read a/b =1", {"unknown option", "'=1'"}},
      {"read a/b c", {"unexpected token", "'c'", "max_qos=0|1|2 or retain=false"}},
      {"read a b/c", {"unexpected token", "'b/c'", "cannot contain spaces"}},
      {"read a/b max_qos=1 extra", {"unexpected token", "'extra'"}},
  };
  for (const auto& c : cases) {
    const std::string message = parse_error(c.text);
    CAPTURE(c.text, message);
    for (const auto m : c.mentions) CHECK_THAT(message, Catch::Contains(std::string(m)));
  }
}

TEST_CASE("a NUL byte in a pattern is an error", "[rules]") {
  CHECK_THAT(parse_error("read a\0b"s), Catch::Contains("NUL"));
}

TEST_CASE("error messages quote at most 64 bytes of a huge token", "[rules]") {
  const std::string message = parse_error("read a/b " + std::string(10000, 'x'));
  CHECK(message.size() < 200);
  CHECK_THAT(message, Catch::Contains("…'"));
  // A multi-byte character straddling the cut is not split.
  const std::string euros = parse_error("read a/b " + std::string(63, 'y') + "\xE2\x82\xAC!");
  CHECK_THAT(euros, Catch::Contains(std::string(63, 'y') + "…'"));
}

TEST_CASE("a rule file skips comments and blank lines and keeps rule order", "[rules]") {
  const std::string file =
      "# broker-wide ACL\n"
      "\n"
      "readwrite %o/users/%u/#\n"
      "   # indented comment\n"
      "deny %o/shared/secret/#\r\n"
      "   \t\n"
      "read %o/shared/#  max_qos=1\n"
      "write %o/telemetry/%c retain=false";  // no trailing newline
  std::vector<Rule> rules;
  std::vector<RuleError> errors;
  REQUIRE(shortcred::parse_rule_file(file, rules, errors));
  CHECK(errors.empty());
  REQUIRE(rules.size() == 4);
  CHECK(rules[0].text == "readwrite %o/users/%u/#");
  CHECK(rules[1].access == Access::deny);
  CHECK(rules[1].pattern == "%o/shared/secret/#");
  CHECK(rules[2].text == "read %o/shared/# max_qos=1");
  CHECK(rules[3].retain_allowed == false);
}

TEST_CASE("an empty or comment-only rule file is valid and holds no rules", "[rules]") {
  const std::string_view files[] = {"", "\n\n", "# nothing\n", "  \n# a\n\t\n"};
  for (const auto f : files) {
    std::vector<Rule> rules = {Rule{}};
    std::vector<RuleError> errors;
    CAPTURE(f);
    CHECK(shortcred::parse_rule_file(f, rules, errors));
    CHECK(rules.empty());
    CHECK(errors.empty());
  }
}

TEST_CASE("a rule file reports every error with its 1-based line and keeps out untouched",
          "[rules]") {
  const std::string file =
      "read ok/1\n"          // 1
      "publish a\n"          // 2
      "# comment\n"          // 3
      "read a#\n"            // 4
      "\n"                   // 5
      "read ok/2\n"          // 6
      "write a max_qos=9\n"  // 7
      "deny\n";              // 8
  std::vector<Rule> rules = {parse_ok("read previous")};
  std::vector<RuleError> errors;
  REQUIRE_FALSE(shortcred::parse_rule_file(file, rules, errors));
  REQUIRE(errors.size() == 4);
  CHECK(errors[0].line == 2);
  CHECK_THAT(errors[0].message, Catch::Contains("'publish'"));
  CHECK(errors[1].line == 4);
  CHECK_THAT(errors[1].message, Catch::Contains("'a#'"));
  CHECK(errors[2].line == 7);
  CHECK_THAT(errors[2].message, Catch::Contains("'max_qos=9'"));
  CHECK(errors[3].line == 8);
  CHECK_THAT(errors[3].message, Catch::Contains("missing pattern"));
  REQUIRE(rules.size() == 1);  // all or nothing: the old set survives
  CHECK(rules[0].text == "read previous");
}

TEST_CASE("CRLF rule files count lines like LF files", "[rules]") {
  std::vector<Rule> rules;
  std::vector<RuleError> errors;
  REQUIRE_FALSE(shortcred::parse_rule_file("read a\r\n\r\nbad a\r\n", rules, errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].line == 3);
}

TEST_CASE("the default templates are the two documented rules", "[rules]") {
  const auto& rules = shortcred::default_templates();
  REQUIRE(rules.size() == 2);
  CHECK(rules[0].text == "readwrite %o/users/%u/#");
  CHECK(rules[1].text == "readwrite %o/shared/#");
  CHECK(rules[0].access == Access::readwrite);
  CHECK(rules[1].max_qos == 2);
  CHECK(rules[1].retain_allowed);
  CHECK(&shortcred::default_templates() == &rules);  // built once
}

TEST_CASE("a scope holds up to 16 allow rules of up to 256 bytes", "[rules]") {
  std::vector<std::string> scope;
  for (int i = 0; i < 16; ++i) scope.push_back("read %o/room/" + std::to_string(i));
  scope.back() = "write a/" + std::string(256 - 8, 'x');
  REQUIRE(scope.back().size() == 256);
  std::vector<Rule> rules;
  std::vector<RuleError> errors;
  REQUIRE(shortcred::parse_scope(scope, rules, errors));
  CHECK(rules.size() == 16);
  CHECK(errors.empty());
  CHECK(rules[0].pattern == "%o/room/0");
}

TEST_CASE("an empty scope list parses to no rules", "[rules]") {
  std::vector<Rule> rules = {Rule{}};
  std::vector<RuleError> errors;
  CHECK(shortcred::parse_scope({}, rules, errors));
  CHECK(rules.empty());
}

TEST_CASE("scope errors name the rule's 1-based index", "[rules]") {
  struct Case {
    std::vector<std::string> scope;
    std::size_t line;
    std::string_view mention;
  };
  const Case cases[] = {
      {{"read a", "deny a/secret"}, 2, "'deny' is not allowed in a scope"},
      {{"read a/" + std::string(250, 'x')}, 1, "at most 256"},
      {{"read a", "read b", "publish c"}, 3, "'publish'"},
      {{""}, 1, "empty rule"},
      {{"read a\nwrite #"}, 1, "line break"},
      {{"read a\r"}, 1, "line break"},
      {{"read a/%x"}, 1, "stray '%'"},
      {std::vector<std::string>(17, "read a"), 17, "at most 16"},
  };
  for (const auto& c : cases) {
    std::vector<Rule> rules = {parse_ok("read previous")};
    std::vector<RuleError> errors;
    CAPTURE(c.line, c.mention);
    REQUIRE_FALSE(shortcred::parse_scope(c.scope, rules, errors));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].line == c.line);
    CHECK_THAT(errors[0].message, Catch::Contains(std::string(c.mention)));
    CHECK(rules.size() == 1);
  }
}

TEST_CASE("a scope reports every bad rule, not only the first", "[rules]") {
  std::vector<Rule> rules;
  std::vector<RuleError> errors;
  REQUIRE_FALSE(shortcred::parse_scope({"deny a", "read b", "nope c"}, rules, errors));
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].line == 1);
  CHECK(errors[1].line == 3);
}

TEST_CASE("an allow template whose first level is not %o gets an unanchored warning",
          "[rules]") {
  const std::string file =
      "# comment\n"
      "readwrite %o/users/%u/#\n"  // 2: anchored
      "read %c/inbox\n"            // 3
      "\n"
      "write %u/#\n"               // 5
      "readwrite #\n"              // 6
      "read %o-x/feed\n"           // 7: a prefix of the level is not an anchor
      "deny %c/#\n"                // 8: deny only takes access away
      "read %o\n"                  // 9: anchored, one level
      "read $SYS/#\n"              // 10
      "read +/shared/#\n"          // 11
      "bogus rule\n";              // 12: an error, not a warning
  const auto w = rule_file_warnings(file);
  std::vector<std::size_t> lines;
  for (const auto& e : w) lines.push_back(e.line);
  CHECK(lines == std::vector<std::size_t>{3, 5, 6, 7, 10, 11});
  REQUIRE(!w.empty());
  CHECK(w[0].message.find("'read %c/inbox'") != std::string::npos);
  CHECK(w[0].message.find("first topic level is '%c'") != std::string::npos);
  CHECK(rule_file_warnings("readwrite %o/users/%u/#\nreadwrite %o/shared/#\n").empty());
  for (const Rule& r : default_templates()) CHECK(unanchored_warning(r).empty());
}
