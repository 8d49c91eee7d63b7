// The ACL rule grammar of DESIGN.md "Scope and ACL":
//
//   rule    = access SP pattern *(SP option)
//   access  = "read" | "write" | "readwrite" | "deny"
//   pattern = an MQTT topic filter; may contain %o (org id), %u (user id) and
//             %c (client id) anywhere inside a level; any other `%` is an error
//   option  = "max_qos=" ("0"|"1"|"2") | "retain=false"   (each at most once)
//
// A rule file holds one rule per line; `#` starts a comment line, blank lines
// are ignored, leading/trailing whitespace is trimmed. Every error carries its
// 1-based line number.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace shortcred {

enum class Access : std::uint8_t { read = 1, write = 2, readwrite = 3, deny = 4 };

struct Rule {
  Access access = Access::deny;
  std::string pattern;       // as written, placeholders unsubstituted
  std::int8_t max_qos = 2;   // 0..2
  bool retain_allowed = true;
  std::string text;          // normalised source text, for reports
};

struct RuleError {
  std::size_t line = 0;  // 1-based; 0 when not from a file
  std::string message;   // names the token at fault and what was expected
};

// Parses one rule. Returns false and sets `err.message` on failure.
bool parse_rule(std::string_view text, Rule& out, RuleError& err);

// Parses a whole file; collects every error (not only the first).
// Returns true only if there were no errors; `out` is then the full set.
bool parse_rule_file(std::string_view content, std::vector<Rule>& out,
                     std::vector<RuleError>& errors);

// Advice about rules that parse but are probably a mistake; never an error.
// Today one kind: an allow rule (read, write, readwrite) whose first topic
// level is not exactly `%o` is not anchored to the org, so different orgs'
// clients can meet on its topics: with `read %c/inbox` a client of any org
// that picks client id `acme` reads `acme/inbox`, the first level of org
// acme's namespace. (`%o-x` is not anchored either: org `a` would get `a-x`,
// the namespace of org `a-x`.) Deny rules only take access away: no warning.
std::vector<RuleError> rule_file_warnings(std::string_view content);
// The warning for one rule, or "" (RuleError::line 0).
std::string unanchored_warning(const Rule& rule);

inline constexpr std::size_t kMaxScopeRules = 16;
inline constexpr std::size_t kMaxScopeRuleLen = 256;

// A credential scope: at most 16 allow rules (no `deny`), each ≤ 256 bytes.
// `errors` names the offending index (line = index + 1).
bool parse_scope(const std::vector<std::string>& rules, std::vector<Rule>& out,
                 std::vector<RuleError>& errors);

// `readwrite %o/users/%u/#` and `readwrite %o/shared/#`.
const std::vector<Rule>& default_templates();

}  // namespace shortcred
