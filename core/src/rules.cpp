// Parser for ACL rules, rule files and credential scopes.
//
// Grammar (DESIGN.md "Scope and ACL"; tokens are separated by runs of ASCII
// whitespace, so a pattern can never contain a space):
//
//   file    = *(line LF)                  ; CR before LF is trimmed
//   line    = blank | comment | rule      ; surrounding whitespace is trimmed
//   comment = "#" *anychar                ; `#` as the first non-blank byte
//   rule    = access SP pattern *(SP option)
//   access  = "read" | "write" | "readwrite" | "deny"
//   pattern = an MQTT topic filter (MQTT 5 §4.7; no `$share/` prefix) that
//             may contain the placeholders %o (org id), %u (user id) and
//             %c (client id) anywhere inside a level; any other `%` is an
//             error. Placeholders are validated as ordinary characters here
//             and substituted per session by Policy.
//   option  = "max_qos=" ("0" | "1" | "2") | "retain=false"   ; each once
//
// A scope is a list of at most 16 rules of at most 256 bytes each, stored
// newline-joined, and holds only allow rules: it can narrow what the
// templates grant, never add a deny of its own.
#include "shortcred/rules.hpp"

#include <algorithm>
#include <string>

#include "shortcred/topic.hpp"

namespace shortcred {
namespace {

constexpr std::string_view kSpace = " \t\r\n\v\f";
constexpr std::size_t kMaxQuoted = 64;  // keeps messages readable for huge tokens

std::string_view trim(std::string_view s) {
  const std::size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// Splits off the first whitespace-separated token of `s` (already trimmed on
// the left) and advances `s` past it and the following whitespace.
std::string_view next_token(std::string_view& s) {
  const std::size_t end = std::min(s.find_first_of(kSpace), s.size());
  const std::string_view token = s.substr(0, end);
  const std::size_t after = s.find_first_not_of(kSpace, end);
  s = after == std::string_view::npos ? std::string_view{} : s.substr(after);
  return token;
}

// `'token'`, cut at a UTF-8 boundary when long, for error messages.
std::string quote(std::string_view token) {
  if (token.size() <= kMaxQuoted) return "'" + std::string(token) + "'";
  std::size_t cut = kMaxQuoted;
  while (cut > 0 && (static_cast<unsigned char>(token[cut]) & 0xC0U) == 0x80U) --cut;
  return "'" + std::string(token.substr(0, cut)) + "…'";
}

bool parse_access(std::string_view word, Access& out) {
  struct Word {
    std::string_view text;
    Access access;
  };
  static constexpr Word kWords[] = {{"read", Access::read},
                                    {"write", Access::write},
                                    {"readwrite", Access::readwrite},
                                    {"deny", Access::deny}};
  for (const Word& w : kWords) {
    if (w.text == word) {
      out = w.access;
      return true;
    }
  }
  return false;
}

// Wording specific to a rule pattern; never echoes more than the quoted token.
std::string_view filter_problem(Errc e) {
  switch (e) {
    case Errc::empty:
      return "is empty";
    case Errc::too_long:
      return "is longer than 65535 bytes";
    case Errc::bad_utf8:
      return "is not well-formed UTF-8";
    case Errc::nul_byte:
      return "contains a NUL byte";
    case Errc::bad_wildcard:
      return "misplaces a wildcard: `+` must fill a whole level and `#` the whole last level";
    case Errc::too_deep:
      return "has more than 128 levels";
    case Errc::bad_format:
      return "starts with $share: rules apply to the filter after the group";
    default:
      return "is not a valid MQTT topic filter";
  }
}

// Only %o, %u and %c may follow a `%`; anything else is most likely a typo
// that would otherwise silently become a literal level.
bool placeholders_ok(std::string_view pattern) {
  for (std::size_t i = pattern.find('%'); i != std::string_view::npos;
       i = pattern.find('%', i + 2)) {
    if (i + 1 >= pattern.size()) return false;
    const char c = pattern[i + 1];
    if (c != 'o' && c != 'u' && c != 'c') return false;
  }
  return true;
}

bool parse_pattern(std::string_view token, Rule& out, std::string& err) {
  if (!placeholders_ok(token)) {
    err = "pattern " + quote(token) + " has a stray '%': expected only %o, %u or %c";
    return false;
  }
  if (const Errc e = validate_filter(token); e != Errc::ok) {
    err = "pattern " + quote(token) + " " + std::string(filter_problem(e));
    return false;
  }
  out.pattern = std::string(token);
  return true;
}

constexpr std::string_view kExpectedOption = "expected max_qos=0|1|2 or retain=false";

bool parse_option(std::string_view token, Rule& out, bool& seen_qos, bool& seen_retain,
                  std::string& err) {
  const std::size_t eq = token.find('=');
  if (eq == std::string_view::npos) {
    err = "unexpected token " + quote(token) +
          " after the pattern: " + std::string(kExpectedOption) +
          " (a pattern cannot contain spaces)";
    return false;
  }
  const std::string_view key = token.substr(0, eq);
  const std::string_view value = token.substr(eq + 1);
  if (key != "max_qos" && key != "retain") {
    err = "unknown option " + quote(token) + ": " + std::string(kExpectedOption);
    return false;
  }
  bool& seen = key == "max_qos" ? seen_qos : seen_retain;
  if (seen) {
    err = "duplicate option " + quote(token) + ": " + std::string(key) + " is already set";
    return false;
  }
  seen = true;
  if (key == "retain") {
    if (value == "false") {
      out.retain_allowed = false;
      return true;
    }
    err = "bad value in " + quote(token) + ": expected retain=false (retain is allowed by default)";
    return false;
  }
  if (value.size() == 1 && value[0] >= '0' && value[0] <= '2') {
    out.max_qos = static_cast<std::int8_t>(value[0] - '0');
    return true;
  }
  err = "bad value in " + quote(token) + ": expected max_qos=0, max_qos=1 or max_qos=2";
  return false;
}

std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= s.size()) {
    const std::size_t end = std::min(s.find('\n', start), s.size());
    lines.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// What is wrong with one scope rule, or "" when `rule` now holds it.
std::string scope_rule_problem(const std::string& text, Rule& rule) {
  if (text.size() > kMaxScopeRuleLen) {
    return "rule is " + std::to_string(text.size()) + " bytes: at most 256 are allowed";
  }
  // Scopes are stored newline-joined: a line break would smuggle in a rule.
  if (text.find_first_of("\r\n") != std::string::npos) {
    return "rule contains a line break: a scope rule is a single line";
  }
  RuleError err;
  if (!parse_rule(text, rule, err)) return err.message;
  if (rule.access == Access::deny) {
    return "'deny' is not allowed in a scope: expected read, write or readwrite";
  }
  return {};
}

}  // namespace

bool parse_rule(std::string_view text, Rule& out, RuleError& err) {
  std::string_view rest = trim(text);
  if (rest.empty()) {
    err.message = "empty rule: expected '<access> <pattern> [options]'";
    return false;
  }
  Rule rule;
  const std::string_view access = next_token(rest);
  if (!parse_access(access, rule.access)) {
    err.message = "unknown access " + quote(access) + ": expected read, write, readwrite or deny";
    return false;
  }
  if (rest.empty()) {
    err.message = "missing pattern after " + quote(access) + ": expected an MQTT topic filter";
    return false;
  }
  const std::string_view pattern = next_token(rest);
  if (!parse_pattern(pattern, rule, err.message)) return false;
  rule.text = std::string(access) + " " + std::string(pattern);
  bool seen_qos = false;
  bool seen_retain = false;
  while (!rest.empty()) {
    const std::string_view option = next_token(rest);
    if (!parse_option(option, rule, seen_qos, seen_retain, err.message)) return false;
    rule.text += " ";
    rule.text += option;
  }
  out = std::move(rule);
  return true;
}

namespace {

// Calls f(1-based line number, trimmed line) for each line of a rule file
// that is neither blank nor a `#` comment.
template <class F>
void for_each_rule_line(std::string_view content, F&& f) {
  const std::vector<std::string_view> lines = split_lines(content);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = trim(lines[i]);
    if (!line.empty() && line.front() != '#') f(i + 1, line);
  }
}

}  // namespace

bool parse_rule_file(std::string_view content, std::vector<Rule>& out,
                     std::vector<RuleError>& errors) {
  std::vector<Rule> rules;
  const std::size_t errors_before = errors.size();
  for_each_rule_line(content, [&](std::size_t line_no, std::string_view line) {
    Rule rule;
    RuleError err;
    if (parse_rule(line, rule, err)) {
      rules.push_back(std::move(rule));
    } else {
      err.line = line_no;
      errors.push_back(std::move(err));
    }
  });
  // All or nothing: a reload must never leave half a policy behind.
  if (errors.size() != errors_before) return false;
  out = std::move(rules);
  return true;
}

std::string unanchored_warning(const Rule& rule) {
  if (rule.access == Access::deny) return {};
  const std::string_view pattern(rule.pattern);
  const std::string_view first = pattern.substr(0, pattern.find('/'));
  if (first == "%o") return {};
  return "'" + rule.text + "' is not anchored to the org: its first topic level is '" +
         std::string(first) +
         "', not '%o', so clients of different orgs can share its topics";
}

std::vector<RuleError> rule_file_warnings(std::string_view content) {
  std::vector<RuleError> warnings;
  for_each_rule_line(content, [&](std::size_t line_no, std::string_view line) {
    Rule rule;
    RuleError err;
    if (!parse_rule(line, rule, err)) return;  // an error, reported by parse_rule_file
    if (std::string w = unanchored_warning(rule); !w.empty()) {
      warnings.push_back({line_no, std::move(w)});
    }
  });
  return warnings;
}

bool parse_scope(const std::vector<std::string>& rules, std::vector<Rule>& out,
                 std::vector<RuleError>& errors) {
  std::vector<Rule> parsed;
  const std::size_t errors_before = errors.size();
  if (rules.size() > kMaxScopeRules) {
    errors.push_back({kMaxScopeRules + 1, "scope has " + std::to_string(rules.size()) +
                                              " rules: at most 16 are allowed"});
  }
  for (std::size_t i = 0; i < rules.size(); ++i) {
    Rule rule;
    std::string problem = scope_rule_problem(rules[i], rule);
    if (problem.empty()) {
      parsed.push_back(std::move(rule));
    } else {
      errors.push_back({i + 1, std::move(problem)});
    }
  }
  if (errors.size() != errors_before) return false;
  out = std::move(parsed);
  return true;
}

const std::vector<Rule>& default_templates() {
  static const std::vector<Rule> rules = [] {
    std::vector<Rule> out;
    std::vector<RuleError> errors;
    parse_rule_file("readwrite %o/users/%u/#\nreadwrite %o/shared/#\n", out, errors);
    return out;
  }();
  return rules;
}

}  // namespace shortcred
