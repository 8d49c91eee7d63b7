// A compiled, per-session policy: templates ∩ scope with placeholders
// substituted once. Checks allocate nothing and do no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/rules.hpp"

namespace shortcred {

struct Identity {
  std::string_view org;
  std::string_view user;
  std::string_view client_id;
};

enum class DecisionSource : std::uint8_t { template_rule, scope_rule, default_deny };

enum class DenyReason : std::uint8_t {
  none,             // allowed
  no_rule,          // no rule applied (default deny)
  deny_rule,        // a `deny` rule decided
  qos_exceeded,     // deciding rule's max_qos < requested QoS
  retain_forbidden, // deciding rule has retain=false and the message is retained
  invalid_topic,    // topic or filter malformed
  expired,          // now >= expires_at
};

struct Decision {
  bool allowed = false;
  DecisionSource source = DecisionSource::default_deny;
  DenyReason reason = DenyReason::no_rule;
  // Index of the deciding rule within its source list (templates or scope);
  // -1 for default_deny.
  int rule_index = -1;
};

// Whether a topic name handed to check_publish / check_deliver still needs
// validate_topic. Anything that comes from a person, a file or a fuzzer is
// `unchecked`. `broker_validated` is for a caller that can name the code which
// already refused every malformed topic name (the Mosquitto plugin: see
// plugin/src/acl.cpp); the check then keeps only the cheap part of the
// validation the broker does not do for it (empty, and the depth limit).
enum class TopicTrust : std::uint8_t { unchecked, broker_validated };

std::string_view to_string(DecisionSource s) noexcept;  // "template"|"scope"|"default"
std::string_view to_string(DenyReason r) noexcept;

class Policy {
 public:
  // `expires_at_ms` 0 means no expiry. Identity values are copied.
  Policy(const std::vector<Rule>& templates, const std::vector<Rule>* scope,
         const Identity& id, std::int64_t expires_at_ms);

  // PUBLISH (incl. will and retained messages).
  Decision check_publish(std::string_view topic, int qos, bool retain, std::int64_t now_ms,
                         TopicTrust trust = TopicTrust::unchecked) const noexcept;
  // SUBSCRIBE with the raw filter as sent (`$share/<group>/` included).
  Decision check_subscribe(std::string_view raw_filter, int qos,
                           std::int64_t now_ms) const noexcept;
  // Delivery of a message on `topic` to this session (ACL READ).
  Decision check_deliver(std::string_view topic, std::int64_t now_ms,
                         TopicTrust trust = TopicTrust::unchecked) const noexcept;

  std::int64_t expires_at_ms() const noexcept { return expires_at_ms_; }

  // Text of the rule a decision names ("" for default_deny), for reports.
  std::string_view rule_text(const Decision& d) const noexcept;

 private:
  // How a compiled filter is matched against a topic name (policy.cpp).
  enum class Shape : std::uint8_t { exact, subtree, general };
  struct Compiled {
    std::string filter;  // substituted pattern
    Access access;
    std::int8_t max_qos;
    bool retain_allowed;
    bool matches_nothing;  // a substituted value had `/ + #` NUL or was empty
    std::string text;
    Shape shape = Shape::general;
  };
  std::vector<Compiled> templates_;
  std::vector<Compiled> scope_;
  bool has_scope_ = false;
  std::int64_t expires_at_ms_ = 0;
};

}  // namespace shortcred
