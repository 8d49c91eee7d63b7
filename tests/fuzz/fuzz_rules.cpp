// Fuzzes the rule-file parser, and for every file that parses, compiles a
// Policy (with and without a scope made of the file's allow rules) and runs
// each kind of check on topics taken from the patterns themselves.
//
// Invariants checked:
//   - parse_rule_file never crashes; it returns true exactly when it reported
//     no errors, and every error carries a line inside the input;
//   - a rule's normalised text parses back to the same rule;
//   - checks never crash, and an allowed decision names an existing rule;
//   - a scope never turns a template refusal into an allow, and a scope made
//     of all the file's allow rules (when they fit) changes no outcome.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/policy.hpp"
#include "shortcred/rules.hpp"

namespace {

using namespace shortcred;

void require(bool ok) {
  if (!ok) std::abort();
}

void check_round_trip(const Rule& rule) {
  Rule again;
  RuleError err;
  require(parse_rule(rule.text, again, err));
  require(again.access == rule.access && again.pattern == rule.pattern &&
          again.max_qos == rule.max_qos && again.retain_allowed == rule.retain_allowed &&
          again.text == rule.text);
}

void check_decision(const Policy& p, const Decision& d) {
  if (d.allowed) require(!p.rule_text(d).empty());
  if (d.source == DecisionSource::default_deny) require(!d.allowed && d.rule_index == -1);
}

// `complete`: the scope holds every allow rule of the templates, in order.
void compare(const Policy& templates_only, const Decision& t, const Policy& scoped,
             const Decision& s, bool complete) {
  check_decision(templates_only, t);
  check_decision(scoped, s);
  if (s.allowed) require(t.allowed);
  if (complete) require(s.allowed == t.allowed);
}

// Runs every check on `subject`, which is a pattern with its placeholders
// substituted by hand (so that rules can actually match).
void run_checks(const Policy& templates_only, const Policy& scoped, bool complete,
                std::string_view subject) {
  for (int qos = 0; qos <= 2; ++qos) {
    const bool retain = qos == 1;
    compare(templates_only, templates_only.check_publish(subject, qos, retain, 0), scoped,
            scoped.check_publish(subject, qos, retain, 0), complete);
    compare(templates_only, templates_only.check_subscribe(subject, qos, 0), scoped,
            scoped.check_subscribe(subject, qos, 0), complete);
  }
  compare(templates_only, templates_only.check_deliver(subject, 0), scoped,
          scoped.check_deliver(subject, 0), complete);
}

std::string substitute_by_hand(std::string pattern) {
  for (std::size_t i = pattern.find('%'); i != std::string::npos; i = pattern.find('%', i)) {
    const char key = pattern[i + 1];
    pattern.replace(i, 2, key == 'o' ? "org" : key == 'u' ? "user" : "client");
  }
  return pattern;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view content(reinterpret_cast<const char*>(data), size);
  std::vector<Rule> rules;
  std::vector<RuleError> errors;
  const bool ok = parse_rule_file(content, rules, errors);
  require(ok == errors.empty());
  const std::size_t lines =
      static_cast<std::size_t>(std::count(content.begin(), content.end(), '\n')) + 1;
  for (const RuleError& e : errors) require(e.line >= 1 && e.line <= lines && !e.message.empty());
  if (!ok) return 0;

  std::vector<Rule> scope;
  bool complete = true;
  for (const Rule& rule : rules) {
    check_round_trip(rule);
    if (rule.access == Access::deny) continue;
    if (scope.size() < kMaxScopeRules) {
      scope.push_back(rule);
    } else {
      complete = false;
    }
  }
  const Identity id{"org", "user", "client"};
  const Policy templates_only(rules, nullptr, id, 0);
  const Policy scoped(rules, &scope, id, 0);
  for (const Rule& rule : rules)
    run_checks(templates_only, scoped, complete, substitute_by_hand(rule.pattern));
  run_checks(templates_only, scoped, complete, "org/users/user/x");
  return 0;
}
