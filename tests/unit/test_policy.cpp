// The compiled per-session policy: placeholder substitution and injection,
// first-match evaluation, templates ∩ scope, QoS and retain limits, expiry,
// `$` topics and decision reporting.
#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/policy.hpp"
#include "shortcred/topic.hpp"

using shortcred::Decision;
using shortcred::DecisionSource;
using shortcred::DenyReason;
using shortcred::Identity;
using shortcred::Policy;
using shortcred::Rule;
using shortcred::TopicTrust;

namespace {

using namespace std::string_literals;

constexpr std::int64_t kNow = 1'700'000'000'000;
const Identity kAlice{"org_a", "alice", "dev1"};

std::vector<Rule> rules(std::initializer_list<std::string_view> texts) {
  std::vector<Rule> out;
  for (const auto text : texts) {
    Rule rule;
    shortcred::RuleError err;
    const bool ok = shortcred::parse_rule(text, rule, err);
    INFO(text << ": " << err.message);
    REQUIRE(ok);
    out.push_back(std::move(rule));
  }
  return out;
}

struct Expect {
  bool allowed;
  DecisionSource source;
  DenyReason reason;
  int rule_index;
};

constexpr Expect allowed_by(DecisionSource s, int i) {
  return {true, s, DenyReason::none, i};
}
constexpr Expect template_allows(int i) {
  return allowed_by(DecisionSource::template_rule, i);
}
constexpr Expect scope_allows(int i) {
  return allowed_by(DecisionSource::scope_rule, i);
}
constexpr Expect refused_by(DecisionSource s, DenyReason r, int i) {
  return {false, s, r, i};
}
constexpr Expect template_denies(DenyReason r, int i) {
  return refused_by(DecisionSource::template_rule, r, i);
}
constexpr Expect scope_denies(DenyReason r, int i) {
  return refused_by(DecisionSource::scope_rule, r, i);
}
constexpr Expect default_denies(DenyReason r = DenyReason::no_rule) {
  return refused_by(DecisionSource::default_deny, r, -1);
}

void check_decision(const Decision& d, const Expect& e) {
  CHECK(d.allowed == e.allowed);
  CHECK(to_string(d.source) == to_string(e.source));
  CHECK(to_string(d.reason) == to_string(e.reason));
  CHECK(d.rule_index == e.rule_index);
}

enum class Op { publish, publish_retained, subscribe, deliver };

struct OpCase {
  Op op;
  std::string topic;
  int qos;
  Expect expect;
};

Decision run(const Policy& p, const OpCase& c, TopicTrust trust = TopicTrust::unchecked) {
  switch (c.op) {
    case Op::publish:
      return p.check_publish(c.topic, c.qos, false, kNow, trust);
    case Op::publish_retained:
      return p.check_publish(c.topic, c.qos, true, kNow, trust);
    case Op::subscribe:
      return p.check_subscribe(c.topic, c.qos, kNow);
    case Op::deliver:
      return p.check_deliver(c.topic, kNow, trust);
  }
  return {};
}

// Every table also checks the plugin's path: for a topic name the broker has
// already validated, skipping the validation must not change any decision.
void check_all(const Policy& p, std::initializer_list<OpCase> cases) {
  for (const auto& c : cases) {
    CAPTURE(static_cast<int>(c.op), c.topic, c.qos);
    check_decision(run(p, c), c.expect);
    if (c.op != Op::subscribe && shortcred::validate_topic(c.topic) == shortcred::Errc::ok) {
      check_decision(run(p, c, TopicTrust::broker_validated), c.expect);
    }
  }
}

}  // namespace

TEST_CASE("decision sources and deny reasons have stable names", "[policy]") {
  CHECK(to_string(DecisionSource::template_rule) == "template");
  CHECK(to_string(DecisionSource::scope_rule) == "scope");
  CHECK(to_string(DecisionSource::default_deny) == "default");
  CHECK(to_string(DenyReason::none) == "none");
  CHECK(to_string(DenyReason::no_rule) == "no_rule");
  CHECK(to_string(DenyReason::deny_rule) == "deny_rule");
  CHECK(to_string(DenyReason::qos_exceeded) == "qos_exceeded");
  CHECK(to_string(DenyReason::retain_forbidden) == "retain_forbidden");
  CHECK(to_string(DenyReason::invalid_topic) == "invalid_topic");
  CHECK(to_string(DenyReason::expired) == "expired");
}

TEST_CASE("default templates confine a user to their own subtree and the org's shared tree",
          "[policy]") {
  const Policy p(shortcred::default_templates(), nullptr, kAlice, 0);
  check_all(p, {
                   {Op::publish, "org_a/users/alice/x", 2, template_allows(0)},
                   {Op::publish, "org_a/users/alice", 0, template_allows(0)},
                   {Op::publish_retained, "org_a/users/alice/a/b/c", 1, template_allows(0)},
                   {Op::publish, "org_a/shared/news", 1, template_allows(1)},
                   {Op::subscribe, "org_a/users/alice/#", 2, template_allows(0)},
                   {Op::subscribe, "org_a/users/alice/+/y", 1, template_allows(0)},
                   {Op::subscribe, "org_a/shared/#", 0, template_allows(1)},
                   {Op::deliver, "org_a/shared/news", 0, template_allows(1)},
                   {Op::publish, "org_a/users/bob/x", 0, default_denies()},
                   {Op::publish, "org_a/users/alicex/x", 0, default_denies()},
                   {Op::publish, "org_b/users/alice/x", 0, default_denies()},
                   {Op::publish, "org_a/x", 0, default_denies()},
                   {Op::subscribe, "org_a/users/+/x", 0, default_denies()},
                   {Op::subscribe, "org_a/users/#", 0, default_denies()},
                   {Op::subscribe, "org_a/#", 0, default_denies()},
                   {Op::subscribe, "#", 0, default_denies()},
                   {Op::subscribe, "+/users/alice/#", 0, default_denies()},
                   {Op::deliver, "org_a/users/bob/x", 0, default_denies()},
               });
}

TEST_CASE("an identity value with / + # NUL or nothing makes its rules match nothing",
          "[policy][injection]") {
  struct Injection {
    std::string user;
    std::string client;
  };
  const Injection cases[] = {
      {"bob/x", "dev1"},   {"+", "dev1"},       {"#", "dev1"},  {"", "dev1"},     {"a\0b"s, "dev1"},
      {"alice/+", "dev1"}, {"alice/#", "dev1"}, {"a+", "dev1"}, {"/", "dev1"},    {"alice", "+"},
      {"alice", "#"},      {"alice", "a/b"},    {"alice", ""},  {"alice", "\0"s}, {"alice", "x/#"},
  };
  // %u and %c at the start, in the middle and inside a level.
  const auto templates =
      rules({"readwrite %o/users/%u/#", "readwrite %c/#", "readwrite pre-%u-%c/x"});
  for (const auto& c : cases) {
    const Identity id{"org_a", c.user, c.client};
    const Policy p(templates, nullptr, id, 0);
    CAPTURE(c.user, c.client);
    const bool user_ok = c.user == "alice";
    const bool client_ok = c.client == "dev1";
    const std::string_view probes[] = {"org_a/users/bob/x",
                                       "org_a/users/alice/x",
                                       "org_a/users//x",
                                       "org_a/users/a/x",
                                       "a/b/x",
                                       "x/y",
                                       "dev1/x",
                                       "pre-alice-dev1/x",
                                       "pre-bob-dev1/x"};
    for (const auto topic : probes) {
      CAPTURE(topic);
      const Decision pub = p.check_publish(topic, 0, false, kNow);
      const Decision sub = p.check_subscribe(topic, 0, kNow);
      const Decision del = p.check_deliver(topic, kNow);
      // Only the rules whose values are clean may grant anything, and only
      // on the topics they grant to alice on dev1.
      const bool expected = (user_ok && topic == "org_a/users/alice/x") ||
                            (client_ok && topic == "dev1/x") ||
                            (user_ok && client_ok && topic == "pre-alice-dev1/x");
      CHECK(pub.allowed == expected);
      CHECK(sub.allowed == expected);
      CHECK(del.allowed == expected);
    }
    // No wildcard subscription can reach across users either.
    CHECK_FALSE(p.check_subscribe("org_a/users/#", 0, kNow).allowed);
    CHECK_FALSE(p.check_subscribe("org_a/users/+/x", 0, kNow).allowed);
    CHECK_FALSE(p.check_subscribe("#", 0, kNow).allowed);
  }
}

TEST_CASE("an injected org id makes its rules match nothing", "[policy][injection]") {
  const std::string orgs[] = {"+", "#", "org/x", "", "o\0x"s};
  for (const auto& org : orgs) {
    const Policy p(shortcred::default_templates(), nullptr, {org, "alice", "dev1"}, 0);
    CAPTURE(org);
    check_all(p, {{Op::publish, "org/x/users/alice/x", 0, default_denies()},
                  {Op::publish, "anything/users/alice/x", 0, default_denies()},
                  {Op::subscribe, "+/users/alice/#", 0, default_denies()},
                  {Op::deliver, "x/shared/y", 0, default_denies()}});
  }
}

TEST_CASE("a rule with a bad value is skipped, later rules still decide", "[policy][injection]") {
  const Policy p(rules({"readwrite %u/#", "deny %o/secret/#", "readwrite %o/#"}), nullptr,
                 {"org_a", "#", "dev1"}, 0);
  check_all(p, {{Op::publish, "x/y", 0, default_denies()},
                {Op::publish, "org_a/secret/k", 0, template_denies(DenyReason::deny_rule, 1)},
                {Op::publish, "org_a/public", 0, template_allows(2)}});
}

TEST_CASE("values without / + # are literal: .. and $ stay inside their level",
          "[policy][injection]") {
  const auto templates = shortcred::default_templates();
  const Policy dots(templates, nullptr, {"org_a", "..", "dev1"}, 0);
  check_all(dots, {{Op::publish, "org_a/users/../x", 0, template_allows(0)},
                   {Op::publish, "org_a/x", 0, default_denies()},
                   {Op::publish, "org_a/users/x", 0, default_denies()}});
  const Policy sys(templates, nullptr, {"org_a", "$SYS", "dev1"}, 0);
  check_all(sys, {{Op::publish, "org_a/users/$SYS/x", 0, template_allows(0)},
                  {Op::publish, "$SYS/x", 0, default_denies()}});
}

TEST_CASE("a value that would make a $ first level matches nothing", "[policy][injection]") {
  const auto templates = rules({"readwrite %u/#", "readwrite %c"});
  const Policy p(templates, nullptr, {"org_a", "$SYS", "$CONTROL"}, 0);
  check_all(p, {{Op::publish, "$SYS/broker", 0, default_denies()},
                {Op::subscribe, "$SYS/#", 0, default_denies()},
                {Op::deliver, "$SYS/broker/clients", 0, default_denies()},
                {Op::publish, "$CONTROL", 0, default_denies()}});
  const Policy share(rules({"read %u/x"}), nullptr, {"org_a", "$share", "c"}, 0);
  check_all(share, {{Op::deliver, "$share/x", 0, default_denies()}});
}

TEST_CASE("very long identity values work up to the topic limit", "[policy][injection]") {
  const std::string long_user(1000, 'u');
  const Policy p(shortcred::default_templates(), nullptr, {"org_a", long_user, "c"}, 0);
  CHECK(p.check_publish("org_a/users/" + long_user + "/x", 0, false, kNow).allowed);
  CHECK_FALSE(p.check_publish("org_a/users/" + long_user.substr(1) + "/x", 0, false, kNow).allowed);
  // Too long to form a valid filter: the rule matches nothing.
  const std::string huge(70000, 'u');
  const Policy q(shortcred::default_templates(), nullptr, {"org_a", huge, "c"}, 0);
  CHECK_FALSE(q.check_publish("org_a/users/uuu/x", 0, false, kNow).allowed);
  CHECK(q.check_publish("org_a/shared/x", 0, false, kNow).allowed);
}

TEST_CASE("a value that is not UTF-8 makes its rule match nothing", "[policy][injection]") {
  const Policy p(shortcred::default_templates(), nullptr, {"org_a", "\xC0\xAF", "c"}, 0);
  check_all(p, {{Op::deliver, "org_a/shared/x", 0, template_allows(1)},
                {Op::deliver, "org_a/users/x", 0, default_denies()}});
}

TEST_CASE("identity values are copied at compile time", "[policy]") {
  std::string user = "alice";
  const Policy p(shortcred::default_templates(), nullptr, {"org_a", user, "c"}, 0);
  user = "mallory";
  CHECK(p.check_publish("org_a/users/alice/x", 0, false, kNow).allowed);
  CHECK_FALSE(p.check_publish("org_a/users/mallory/x", 0, false, kNow).allowed);
}

TEST_CASE("the first applicable rule decides: deny before allow wins, allow before deny wins",
          "[policy]") {
  const Policy deny_first(rules({"deny a/secret/#", "readwrite a/#"}), nullptr, kAlice, 0);
  check_all(deny_first,
            {{Op::publish, "a/secret/x", 0, template_denies(DenyReason::deny_rule, 0)},
             {Op::publish, "a/secret", 0, template_denies(DenyReason::deny_rule, 0)},
             {Op::deliver, "a/secret/x", 0, template_denies(DenyReason::deny_rule, 0)},
             {Op::subscribe, "a/secret/+", 0, template_denies(DenyReason::deny_rule, 0)},
             {Op::publish, "a/public", 0, template_allows(1)},
             {Op::deliver, "a/public", 0, template_allows(1)}});
  const Policy allow_first(rules({"readwrite a/#", "deny a/secret/#"}), nullptr, kAlice, 0);
  check_all(allow_first, {{Op::publish, "a/secret/x", 0, template_allows(0)},
                          {Op::deliver, "a/secret/x", 0, template_allows(0)},
                          {Op::subscribe, "a/secret/#", 0, template_allows(0)}});
}

TEST_CASE("a deny that only partly overlaps a subscription is left to delivery", "[policy]") {
  const Policy p(rules({"deny a/secret/#", "read a/#"}), nullptr, kAlice, 0);
  check_all(p, {
                   {Op::subscribe, "a/#", 1, template_allows(1)},
                   {Op::subscribe, "a/+/x", 1, template_allows(1)},
                   {Op::subscribe, "a/secret/#", 1, template_denies(DenyReason::deny_rule, 0)},
                   {Op::subscribe, "a/secret", 1, template_denies(DenyReason::deny_rule, 0)},
                   {Op::deliver, "a/secret/x", 0, template_denies(DenyReason::deny_rule, 0)},
                   {Op::deliver, "a/other/x", 0, template_allows(1)},
               });
}

TEST_CASE("a subscription must lie wholly within an allow rule", "[policy]") {
  const Policy p(rules({"read a/+", "read b/#"}), nullptr, kAlice, 0);
  check_all(p, {{Op::subscribe, "a/x", 0, template_allows(0)},
                {Op::subscribe, "a/+", 0, template_allows(0)},
                {Op::subscribe, "a/#", 0, default_denies()},
                {Op::subscribe, "a/x/y", 0, default_denies()},
                {Op::subscribe, "+/x", 0, default_denies()},
                {Op::subscribe, "b", 0, template_allows(1)},
                {Op::subscribe, "b/+/c/#", 0, template_allows(1)},
                {Op::subscribe, "#", 0, default_denies()}});
}

TEST_CASE("access words decide which checks a rule takes part in", "[policy]") {
  const Policy p(rules({"read r/#", "write w/#", "deny d/#", "readwrite rw/#"}), nullptr, kAlice,
                 0);
  check_all(p, {
                   {Op::publish, "r/x", 0, default_denies()},
                   {Op::subscribe, "r/x", 0, template_allows(0)},
                   {Op::deliver, "r/x", 0, template_allows(0)},
                   {Op::publish, "w/x", 0, template_allows(1)},
                   {Op::subscribe, "w/x", 0, default_denies()},
                   {Op::deliver, "w/x", 0, default_denies()},
                   {Op::publish, "d/x", 0, template_denies(DenyReason::deny_rule, 2)},
                   {Op::subscribe, "d/x", 0, template_denies(DenyReason::deny_rule, 2)},
                   {Op::deliver, "d/x", 0, template_denies(DenyReason::deny_rule, 2)},
                   {Op::publish, "rw/x", 0, template_allows(3)},
                   {Op::subscribe, "rw/x", 0, template_allows(3)},
                   {Op::deliver, "rw/x", 0, template_allows(3)},
               });
}

TEST_CASE("a deny rule for reads does not hide a later write rule, and vice versa", "[policy]") {
  // `read` rules are invisible to PUBLISH, so a later `write` still applies.
  const Policy p(rules({"read a/#", "write a/#"}), nullptr, kAlice, 0);
  check_all(p, {{Op::publish, "a/x", 0, template_allows(1)},
                {Op::deliver, "a/x", 0, template_allows(0)}});
}

TEST_CASE("max_qos caps publish and subscribe QoS but not delivery", "[policy]") {
  const Policy p(rules({"readwrite q0/# max_qos=0", "readwrite q1/# max_qos=1", "readwrite q2/#"}),
                 nullptr, kAlice, 0);
  const auto exceeded = [](int i) { return template_denies(DenyReason::qos_exceeded, i); };
  check_all(p, {
                   {Op::publish, "q0/x", 0, template_allows(0)},
                   {Op::publish, "q0/x", 1, exceeded(0)},
                   {Op::publish, "q0/x", 2, exceeded(0)},
                   {Op::publish, "q1/x", 1, template_allows(1)},
                   {Op::publish, "q1/x", 2, exceeded(1)},
                   {Op::publish, "q2/x", 2, template_allows(2)},
                   {Op::subscribe, "q0/#", 0, template_allows(0)},
                   {Op::subscribe, "q0/#", 1, exceeded(0)},
                   {Op::subscribe, "q1/+", 2, exceeded(1)},
                   {Op::subscribe, "q2/+", 2, template_allows(2)},
                   {Op::deliver, "q0/x", 0, template_allows(0)},
               });
}

TEST_CASE("retain=false refuses retained publishes only", "[policy]") {
  const Policy p(rules({"readwrite live/# retain=false max_qos=1", "readwrite state/#"}), nullptr,
                 kAlice, 0);
  check_all(
      p, {
             {Op::publish, "live/x", 1, template_allows(0)},
             {Op::publish_retained, "live/x", 0, template_denies(DenyReason::retain_forbidden, 0)},
             // QoS is checked before retain.
             {Op::publish_retained, "live/x", 2, template_denies(DenyReason::qos_exceeded, 0)},
             {Op::publish_retained, "state/x", 0, template_allows(1)},
             {Op::subscribe, "live/#", 1, template_allows(0)},
             {Op::deliver, "live/x", 0, template_allows(0)},
         });
}

TEST_CASE("a scope narrows the templates and names its own rule", "[policy][scope]") {
  const auto scope = rules({"read %o/users/%u/inbox/#", "write %o/users/%u/outbox max_qos=1"});
  const Policy p(shortcred::default_templates(), &scope, kAlice, 0);
  check_all(p, {
                   {Op::subscribe, "org_a/users/alice/inbox/#", 1, scope_allows(0)},
                   {Op::deliver, "org_a/users/alice/inbox/x", 0, scope_allows(0)},
                   {Op::publish, "org_a/users/alice/outbox", 1, scope_allows(1)},
                   // Templates allow, the scope has no rule: the scope's default deny.
                   {Op::publish, "org_a/users/alice/inbox/x", 0, default_denies()},
                   {Op::subscribe, "org_a/users/alice/#", 0, default_denies()},
                   {Op::publish, "org_a/shared/x", 0, default_denies()},
                   // Templates allow, the scope's rule refuses.
                   {Op::publish, "org_a/users/alice/outbox", 2,
                    scope_denies(DenyReason::qos_exceeded, 1)},
                   // Templates refuse first: their decision is reported.
                   {Op::publish, "org_a/users/bob/outbox", 0, default_denies()},
               });
}

TEST_CASE("a scope cannot widen the templates", "[policy][scope]") {
  const auto templates = rules({"deny a/secret", "readwrite a/#", "read b/# max_qos=1"});
  const auto scope = rules({"readwrite #"});
  const Policy p(templates, &scope, kAlice, 0);
  check_all(p, {
                   {Op::publish, "a/x", 2, scope_allows(0)},
                   {Op::publish, "a/secret", 0, template_denies(DenyReason::deny_rule, 0)},
                   {Op::publish, "c/x", 0, default_denies()},
                   {Op::publish, "b/x", 0, default_denies()},
                   {Op::subscribe, "b/#", 2, template_denies(DenyReason::qos_exceeded, 2)},
                   {Op::subscribe, "b/#", 1, scope_allows(0)},
                   {Op::subscribe, "#", 0, default_denies()},
               });
}

TEST_CASE("scope rules carry their own max_qos and retain limits", "[policy][scope]") {
  const auto scope = rules({"write %o/shared/# max_qos=0 retain=false"});
  const Policy p(shortcred::default_templates(), &scope, kAlice, 0);
  check_all(p, {{Op::publish, "org_a/shared/x", 0, scope_allows(0)},
                {Op::publish, "org_a/shared/x", 1, scope_denies(DenyReason::qos_exceeded, 0)},
                {Op::publish_retained, "org_a/shared/x", 0,
                 scope_denies(DenyReason::retain_forbidden, 0)}});
}

TEST_CASE("an empty scope allows nothing, no scope defers to the templates", "[policy][scope]") {
  const std::vector<Rule> empty;
  const Policy scoped(shortcred::default_templates(), &empty, kAlice, 0);
  const Policy unscoped(shortcred::default_templates(), nullptr, kAlice, 0);
  check_all(scoped, {{Op::publish, "org_a/shared/x", 0, default_denies()},
                     {Op::subscribe, "org_a/shared/x", 0, default_denies()},
                     {Op::deliver, "org_a/shared/x", 0, default_denies()}});
  check_all(unscoped, {{Op::publish, "org_a/shared/x", 0, template_allows(1)}});
}

TEST_CASE("scope placeholders are substituted and guarded like templates", "[policy][scope]") {
  const auto scope = rules({"read %c/#"});
  const Policy p(rules({"read #"}), &scope, {"org_a", "alice", "+"}, 0);
  check_all(p, {{Op::deliver, "+/x", 0, default_denies(DenyReason::invalid_topic)},
                {Op::deliver, "x/y", 0, default_denies()},
                {Op::subscribe, "#", 0, default_denies()}});
}

TEST_CASE("$ topics are reached only by rules with the same literal $ first level", "[policy]") {
  const Policy p(rules({"readwrite #", "read +/monitor/#", "read $SYS/broker/#"}), nullptr, kAlice,
                 0);
  check_all(p, {
                   {Op::publish, "$SYS/broker/x", 0, default_denies()},
                   {Op::publish, "$CONTROL/dynamic-security/v1", 0, default_denies()},
                   {Op::subscribe, "$SYS/#", 0, default_denies()},
                   {Op::subscribe, "$SYS/broker/#", 0, template_allows(2)},
                   {Op::subscribe, "$SYS/monitor/x", 0, default_denies()},
                   {Op::deliver, "$SYS/monitor/x", 0, default_denies()},
                   {Op::deliver, "$SYS/broker/load", 0, template_allows(2)},
                   {Op::deliver, "SYS/monitor/x", 0, template_allows(0)},
                   {Op::subscribe, "#", 0, template_allows(0)},
                   {Op::subscribe, "+/monitor/#", 0, template_allows(0)},
               });
}

TEST_CASE("shared subscriptions are checked on the filter after the group", "[policy]") {
  const Policy p(shortcred::default_templates(), nullptr, kAlice, 0);
  const auto invalid = default_denies(DenyReason::invalid_topic);
  check_all(p, {
                   {Op::subscribe, "$share/g/org_a/shared/#", 1, template_allows(1)},
                   {Op::subscribe, "$share/workers/org_a/users/alice/jobs", 0, template_allows(0)},
                   {Op::subscribe, "$share/g/org_a/users/bob/#", 0, default_denies()},
                   {Op::subscribe, "$share/g/#", 0, default_denies()},
                   {Op::subscribe, "$share//org_a/shared/x", 0, invalid},
                   {Op::subscribe, "$share/+/org_a/shared/x", 0, invalid},
                   {Op::subscribe, "$share/g", 0, invalid},
                   {Op::subscribe, "$share/g/", 0, invalid},
                   {Op::subscribe, "$share/g/$share/h/org_a/shared/x", 0, invalid},
                   {Op::subscribe, "$share", 0, invalid},
               });
}

TEST_CASE("malformed topics and filters are refused before any rule", "[policy]") {
  const Policy p(rules({"readwrite #"}), nullptr, kAlice, 0);
  const auto invalid = default_denies(DenyReason::invalid_topic);
  check_all(p, {
                   {Op::publish, "", 0, invalid},
                   {Op::publish, "a/+", 0, invalid},
                   {Op::publish, "a/#", 0, invalid},
                   {Op::publish, "a\0b"s, 0, invalid},
                   {Op::publish, "\xC0\xAF", 0, invalid},
                   {Op::publish, std::string(65536, 'a'), 0, invalid},
                   {Op::deliver, "a/#", 0, invalid},
                   {Op::deliver, "", 0, invalid},
                   {Op::subscribe, "a/#/b", 0, invalid},
                   {Op::subscribe, "a+", 0, invalid},
                   {Op::subscribe, "", 0, invalid},
                   {Op::subscribe, "a\0b"s, 0, invalid},
                   {Op::publish, "a/b", 0, template_allows(0)},
               });
}

TEST_CASE("after expires_at every check is refused as expired, before anything else", "[policy]") {
  const std::int64_t expiry = kNow + 1000;
  Policy p(rules({"readwrite #"}), nullptr, kAlice, expiry);
  CHECK(p.expires_at_ms() == expiry);
  const auto expired = default_denies(DenyReason::expired);
  check_decision(p.check_publish("a", 0, false, expiry - 1), template_allows(0));
  check_decision(p.check_publish("a", 0, false, expiry), expired);
  check_decision(p.check_publish("a", 0, false, expiry + 1), expired);
  check_decision(p.check_subscribe("a", 0, expiry), expired);
  check_decision(p.check_deliver("a", expiry), expired);
  check_decision(p.check_publish("a/+", 0, false, expiry), expired);  // before validation
  check_decision(p.check_subscribe("$share//x", 0, expiry), expired);
}

TEST_CASE("expires_at 0 means the policy never expires", "[policy]") {
  const Policy p(rules({"readwrite #"}), nullptr, kAlice, 0);
  CHECK(p.check_publish("a", 0, false, INT64_MAX).allowed);
  CHECK(p.check_deliver("a", 0).allowed);
}

TEST_CASE("rule_text names the deciding rule's normalised text", "[policy]") {
  const auto scope = rules({"read   a/#    max_qos=1"});
  const Policy p(rules({"deny a/secret", "readwrite  a/#"}), &scope, kAlice, 0);
  CHECK(p.rule_text(p.check_deliver("a/secret", kNow)) == "deny a/secret");
  CHECK(p.rule_text(p.check_deliver("a/x", kNow)) == "read a/# max_qos=1");
  CHECK(p.rule_text(p.check_publish("a/x", 0, false, kNow)).empty());  // scope: no write rule
  CHECK(p.rule_text(p.check_deliver("b", kNow)).empty());
  Decision bogus;
  bogus.source = DecisionSource::template_rule;
  bogus.rule_index = 99;
  CHECK(p.rule_text(bogus).empty());
}

TEST_CASE("rules with no templates deny everything", "[policy]") {
  const Policy p({}, nullptr, kAlice, 0);
  check_all(p, {{Op::publish, "a", 0, default_denies()},
                {Op::subscribe, "#", 0, default_denies()},
                {Op::deliver, "a", 0, default_denies()}});
}

TEST_CASE("a hand-built rule with an unknown placeholder fails closed", "[policy][injection]") {
  std::vector<Rule> templates(2);
  templates[0].access = shortcred::Access::readwrite;
  templates[0].pattern = "a/%x/#";
  templates[1].access = shortcred::Access::readwrite;
  templates[1].pattern = "b/%";
  const Policy p(templates, nullptr, kAlice, 0);
  check_all(p, {{Op::publish, "a/%x/y", 0, default_denies()},
                {Op::publish, "a/dev1/y", 0, default_denies()},
                {Op::publish, "b/%", 0, default_denies()}});
}

TEST_CASE("the broker-validated path still refuses empty and over-deep topics", "[policy]") {
  const Policy p(rules({"readwrite #"}), nullptr, kAlice, 0);
  constexpr auto trusted = TopicTrust::broker_validated;
  // The plugin maps a NULL topic to "".
  check_decision(p.check_publish("", 0, false, kNow, trusted),
                 default_denies(DenyReason::invalid_topic));
  check_decision(p.check_deliver("", kNow, trusted), default_denies(DenyReason::invalid_topic));
  // Mosquitto allows 201 levels, we allow 128: the shortest topics on either
  // side of our limit, and one Mosquitto would also accept.
  std::string deepest = "a";
  for (int i = 1; i < 128; ++i) deepest += "/a";
  const std::string too_deep = deepest + "/a";
  const std::string shortest_too_deep(128, '/');
  for (const std::string& t : {deepest, too_deep, shortest_too_deep}) {
    const bool valid = shortcred::validate_topic(t) == shortcred::Errc::ok;
    CAPTURE(t.size(), valid);
    CHECK(p.check_publish(t, 0, false, kNow, trusted).allowed == valid);
    CHECK(p.check_deliver(t, kNow, trusted).allowed == valid);
  }
  CHECK(p.check_deliver(deepest, kNow, trusted).allowed);
  CHECK_FALSE(p.check_deliver(too_deep, kNow, trusted).allowed);
  check_decision(p.check_deliver(shortest_too_deep, kNow, trusted),
                 default_denies(DenyReason::invalid_topic));
}

TEST_CASE("the broker-validated path checks expiry first", "[policy]") {
  const std::int64_t expiry = kNow + 1000;
  const Policy p(rules({"readwrite a/#"}), nullptr, kAlice, expiry);
  constexpr auto trusted = TopicTrust::broker_validated;
  CHECK(p.check_deliver("a/b", expiry - 1, trusted).allowed);
  check_decision(p.check_deliver("a/b", expiry, trusted), default_denies(DenyReason::expired));
  check_decision(p.check_publish("a/b", 0, false, expiry, trusted),
                 default_denies(DenyReason::expired));
}

TEST_CASE("literal and literal-subtree rules match exactly like topic_matches", "[policy]") {
  const std::string_view filters[] = {"a",     "a/b",   "a/b/#", "ab/#",  "a/#",   "$SYS/#",
                                      "$SYS",  "a//#",  "a/+/c", "#",     "+/#",   "/#",
                                      "a/b/c", "/a/#",  "a/",    "a/b/+", "+",     "a/b/c/#"};
  const std::string_view topics[] = {"a",      "a/",    "a/b",   "a/bc",   "ab",    "ab/c",
                                     "a/b/c",  "a/b/",  "a//",   "a//b",   "$SYS",  "$SYS/x",
                                     "/",      "/a",    "/a/b",  "b",      "a/b/c/d", "abc/d"};
  for (const auto filter : filters) {
    const Policy p(rules({"read " + std::string(filter)}), nullptr, kAlice, 0);
    for (const auto topic : topics) {
      CAPTURE(filter, topic);
      const bool want = shortcred::topic_matches(filter, topic);
      CHECK(p.check_deliver(topic, kNow).allowed == want);
      CHECK(p.check_deliver(topic, kNow, TopicTrust::broker_validated).allowed == want);
    }
  }
}
