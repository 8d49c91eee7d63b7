// Per-session ACL evaluation (DESIGN.md "Scope and ACL"). The constructor does
// all the work that allocates — substituting %o, %u and %c — so every check is
// a scan over a few pre-built filters with string_views only.
#include "shortcred/policy.hpp"

#include <string>
#include <vector>

#include "shortcred/topic.hpp"

namespace shortcred {
namespace {

bool grants_read(Access a) noexcept {
  return a == Access::read || a == Access::readwrite;
}
bool grants_write(Access a) noexcept {
  return a == Access::write || a == Access::readwrite;
}

// An identity value can only ever stand for one whole, ordinary piece of a
// level: a value with `/`, `+`, `#` or NUL would let a client id such as `#`
// or a user id such as `x/../other` widen its own rule, and an empty value
// would let `%o/users/%u/#` collapse into `%o/users//#`.
bool safe_value(std::string_view v) noexcept {
  return !v.empty() && v.find_first_of(std::string_view("/+#\0", 4)) == std::string_view::npos;
}

// The value a placeholder stands for; false for anything but %o, %u and %c
// (the parser refuses those, but a hand-built Rule must still fail closed).
bool placeholder_value(char key, const Identity& id, std::string_view& value) noexcept {
  switch (key) {
    case 'o':
      value = id.org;
      return true;
    case 'u':
      value = id.user;
      return true;
    case 'c':
      value = id.client_id;
      return true;
    default:
      return false;
  }
}

// Substitutes the placeholders of `pattern`; false when one is unknown or its
// value is unsafe.
bool substitute(std::string_view pattern, const Identity& id, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') {
      out += pattern[i];
      continue;
    }
    std::string_view value;
    if (++i == pattern.size() || !placeholder_value(pattern[i], id, value) || !safe_value(value)) {
      return false;
    }
    out += value;
  }
  return true;
}

// MQTT gives `$` topics to the server: only a pattern that itself starts with
// a literal `$` may reach them, never one that got its `$` from an identity
// value (user `$SYS` in `%u/#`).
bool dollar_from_value(std::string_view pattern, std::string_view filter) noexcept {
  return !filter.empty() && filter.front() == '$' && (pattern.empty() || pattern.front() != '$');
}

Decision decided(bool allowed, DenyReason reason) noexcept {
  Decision d;
  d.allowed = allowed;
  d.reason = reason;
  return d;
}

Decision refused(DenyReason reason) noexcept {
  return decided(false, reason);
}

// Every check passes two gates first, in this order: expiry, then input
// validity. Both refuse: invalid input is a deny, never "no opinion".
bool expired(std::int64_t expires_at_ms, std::int64_t now_ms) noexcept {
  return expires_at_ms != 0 && now_ms >= expires_at_ms;
}

// Most filters are a literal (`org/users/alice/status`) or a literal subtree
// (`org/users/alice/#`); for those a match is one comparison of bytes instead
// of the level walk of topic_matches. Only a filter with `+`, or a `#` right
// at the top (`#`, `/#`), takes the general path. Both shortcuts give
// topic_matches' answer: there is no leading wildcard for the `$` rule to
// apply to, and `a/#` matches `a` itself.
template <class Shape>
Shape shape_of(std::string_view filter) noexcept {
  const std::size_t w = filter.find_first_of("+#");
  if (w == std::string_view::npos) return Shape::exact;
  if (w >= 2 && w + 1 == filter.size() && filter[w] == '#' && filter[w - 1] == '/') {
    return Shape::subtree;
  }
  return Shape::general;
}

template <class Compiled>
bool filter_matches(const Compiled& r, std::string_view topic) noexcept {
  using Shape = decltype(r.shape);
  const std::string_view filter = r.filter;
  switch (r.shape) {
    case Shape::exact:
      return topic == filter;
    case Shape::subtree: {
      const std::size_t n = filter.size() - 2;  // without the `/#`
      return topic.size() >= n && topic.substr(0, n) == filter.substr(0, n) &&
             (topic.size() == n || topic[n] == '/');
    }
    case Shape::general:
      break;
  }
  return topic_matches(filter, topic);
}

// Compiles one rule list. A rule whose substitution is unsafe is kept, so that
// indexes still match the source list, but it can never match. (Templates
// over the element type: Policy::Compiled is private and never named here.)
template <class Compiled>
void compile(const std::vector<Rule>& rules, const Identity& id, std::vector<Compiled>& out) {
  out.reserve(rules.size());
  for (const Rule& rule : rules) {
    Compiled c{{}, rule.access, rule.max_qos, rule.retain_allowed, false, rule.text, {}};
    c.matches_nothing = !substitute(rule.pattern, id, c.filter) ||
                        validate_filter(c.filter) != Errc::ok ||
                        dollar_from_value(rule.pattern, c.filter);
    if (c.matches_nothing) c.filter.clear();
    c.shape = shape_of<decltype(c.shape)>(c.filter);
    out.push_back(std::move(c));
  }
}

// A topic name is checked before it is matched: topic_matches assumes a valid
// one. A broker-validated name (TopicTrust) is known to be 1..65535 bytes of
// well-formed UTF-8 without NUL, `+` or `#`, at most 201 levels deep
// (Mosquitto's TOPIC_HIERARCHY_LIMIT is 200 `/`). Two of our limits are not
// covered by that: a NULL topic reaches us as "" and is refused here, and our
// depth limit is lower (kMaxTopicLevels). A name shorter than kMaxTopicLevels
// bytes cannot hold kMaxTopicLevels `/`, so only longer ones are walked, and
// then fully: the result is the same as validate_topic for every topic the
// broker lets through, without the per-byte pass on the ones it sees most.
bool topic_valid(std::string_view topic, TopicTrust trust) noexcept {
  if (trust == TopicTrust::broker_validated && topic.size() < kMaxTopicLevels) {
    return !topic.empty();
  }
  return validate_topic(topic) == Errc::ok;
}

// The first rule that applies decides; none applying is a default deny.
template <class Compiled, class Applies, class Decide>
Decision first_match(const std::vector<Compiled>& rules, DecisionSource source,
                     const Applies& applies, const Decide& decide) noexcept {
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (rules[i].matches_nothing || !applies(rules[i])) continue;
    Decision d = decide(rules[i]);
    d.source = source;
    d.rule_index = static_cast<int>(i);
    return d;
  }
  return refused(DenyReason::no_rule);
}

// Templates ∩ scope. A template refusal is reported as is; otherwise the
// scope, when present, has the last word and names its own rule.
template <class Compiled, class Applies, class Decide>
Decision intersect(const std::vector<Compiled>& templates, const std::vector<Compiled>* scope,
                   const Applies& applies, const Decide& decide) noexcept {
  const Decision t = first_match(templates, DecisionSource::template_rule, applies, decide);
  if (!t.allowed || scope == nullptr) return t;
  return first_match(*scope, DecisionSource::scope_rule, applies, decide);
}

// `deny` rules take part in every kind of check; allow rules only in the
// checks their access grants.
bool reads_or_denies(Access a) noexcept {
  return grants_read(a) || a == Access::deny;
}
bool writes_or_denies(Access a) noexcept {
  return grants_write(a) || a == Access::deny;
}

}  // namespace

std::string_view to_string(DecisionSource s) noexcept {
  switch (s) {
    case DecisionSource::template_rule:
      return "template";
    case DecisionSource::scope_rule:
      return "scope";
    case DecisionSource::default_deny:
      return "default";
  }
  return "default";
}

std::string_view to_string(DenyReason r) noexcept {
  switch (r) {
    case DenyReason::none:
      return "none";
    case DenyReason::no_rule:
      return "no_rule";
    case DenyReason::deny_rule:
      return "deny_rule";
    case DenyReason::qos_exceeded:
      return "qos_exceeded";
    case DenyReason::retain_forbidden:
      return "retain_forbidden";
    case DenyReason::invalid_topic:
      return "invalid_topic";
    case DenyReason::expired:
      return "expired";
  }
  return "unknown";
}

Policy::Policy(const std::vector<Rule>& templates, const std::vector<Rule>* scope,
               const Identity& id, std::int64_t expires_at_ms)
    : has_scope_(scope != nullptr), expires_at_ms_(expires_at_ms) {
  compile(templates, id, templates_);
  if (scope != nullptr) compile(*scope, id, scope_);
}

Decision Policy::check_publish(std::string_view topic, int qos, bool retain, std::int64_t now_ms,
                               TopicTrust trust) const noexcept {
  if (expired(expires_at_ms_, now_ms)) return refused(DenyReason::expired);
  if (!topic_valid(topic, trust)) return refused(DenyReason::invalid_topic);
  const auto applies = [topic](const auto& r) {
    return writes_or_denies(r.access) && filter_matches(r, topic);
  };
  const auto decide = [qos, retain](const auto& r) {
    if (r.access == Access::deny) return refused(DenyReason::deny_rule);
    if (qos > r.max_qos) return refused(DenyReason::qos_exceeded);
    if (retain && !r.retain_allowed) return refused(DenyReason::retain_forbidden);
    return decided(true, DenyReason::none);
  };
  return intersect(templates_, has_scope_ ? &scope_ : nullptr, applies, decide);
}

// A rule decides a subscription only if it covers the whole requested filter.
// A `deny` that covers just part of it (`deny a/secret` under `a/#`) is left
// to check_deliver, message by message.
Decision Policy::check_subscribe(std::string_view raw_filter, int qos,
                                 std::int64_t now_ms) const noexcept {
  if (expired(expires_at_ms_, now_ms)) return refused(DenyReason::expired);
  std::string_view filter;
  if (strip_shared(raw_filter, filter) != Errc::ok || validate_filter(filter) != Errc::ok) {
    return refused(DenyReason::invalid_topic);
  }
  const auto applies = [filter](const auto& r) {
    return reads_or_denies(r.access) && filter_within(filter, r.filter);
  };
  const auto decide = [qos](const auto& r) {
    if (r.access == Access::deny) return refused(DenyReason::deny_rule);
    if (qos > r.max_qos) return refused(DenyReason::qos_exceeded);
    return decided(true, DenyReason::none);
  };
  return intersect(templates_, has_scope_ ? &scope_ : nullptr, applies, decide);
}

// max_qos and retain=false limit what the client sends, not what it receives.
Decision Policy::check_deliver(std::string_view topic, std::int64_t now_ms,
                               TopicTrust trust) const noexcept {
  if (expired(expires_at_ms_, now_ms)) return refused(DenyReason::expired);
  if (!topic_valid(topic, trust)) return refused(DenyReason::invalid_topic);
  const auto applies = [topic](const auto& r) {
    return reads_or_denies(r.access) && filter_matches(r, topic);
  };
  const auto decide = [](const auto& r) {
    return r.access == Access::deny ? refused(DenyReason::deny_rule)
                                    : decided(true, DenyReason::none);
  };
  return intersect(templates_, has_scope_ ? &scope_ : nullptr, applies, decide);
}

std::string_view Policy::rule_text(const Decision& d) const noexcept {
  if (d.source == DecisionSource::default_deny || d.rule_index < 0) return {};
  const auto& rules = d.source == DecisionSource::template_rule ? templates_ : scope_;
  const auto i = static_cast<std::size_t>(d.rule_index);
  return i < rules.size() ? std::string_view(rules[i].text) : std::string_view{};
}

}  // namespace shortcred
