// shortcredctl acl check | lint: the broker's own evaluation (core Policy),
// so an operator can ask "would this client be allowed?" without a broker.
#include <fstream>
#include <ostream>
#include <sstream>

#include "ctl_internal.hpp"
#include "shortcred/ids.hpp"
#include "shortcred/policy.hpp"
#include "shortcred/rules.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/tokens/validation.hpp"

namespace shortcred::tokens::ctl {
namespace {

bool read_whole(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

int check(Context& ctx) {
  const Args& a = ctx.args;
  a.allow_only({"org", "user", "client-id", "scope", "acl-file", "publish", "subscribe", "deliver",
                "qos", "retain"});
  a.expect_positionals(0,
                       "acl check --org ORG --user USER ... (--publish T | --subscribe F | "
                       "--deliver T)");
  const std::string org = org_option(a);
  const std::string user = a.require("user");
  if (Status s = validate_user_field("--user", user); !s.ok()) throw UsageError(s.message);
  const std::string client_id = a.get("client-id").value_or("");

  std::vector<Rule> templates = default_templates();
  if (auto file = a.get("acl-file")) {
    std::string content;
    if (!read_whole(*file, content)) throw UsageError("--acl-file: cannot read " + *file);
    std::vector<RuleError> errors;
    templates.clear();
    if (!parse_rule_file(content, templates, errors)) {
      throw UsageError("--acl-file " + *file + " line " + std::to_string(errors.front().line) +
                       ": " + errors.front().message);
    }
  }
  const auto scope_text = a.all("scope");
  std::vector<Rule> scope;
  std::vector<RuleError> scope_errors;
  if (!parse_scope(scope_text, scope, scope_errors)) {
    throw UsageError("--scope: " + scope_errors.front().message);
  }

  int qos = 0;
  if (auto q = a.get("qos")) {
    if (*q != "0" && *q != "1" && *q != "2") throw UsageError("--qos must be 0, 1 or 2");
    qos = (*q)[0] - '0';
  }
  const auto ops =
      a.options.count("publish") + a.options.count("subscribe") + a.options.count("deliver");
  if (ops != 1) throw UsageError("give exactly one of --publish, --subscribe, --deliver");

  Policy policy(templates, scope_text.empty() ? nullptr : &scope, Identity{org, user, client_id},
                0);
  Decision d;
  if (auto t = a.get("publish")) {
    d = policy.check_publish(*t, qos, a.flag("retain"), 0);
  } else if (auto f = a.get("subscribe")) {
    d = policy.check_subscribe(*f, qos, 0);
  } else {
    d = policy.check_deliver(*a.get("deliver"), 0);
  }
  const std::string rule(policy.rule_text(d));
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["allowed"] = d.allowed;
    v["rule"] = rule;
    v["source"] = std::string(to_string(d.source));
    v["reason"] = std::string(to_string(d.reason));
    ctx.print_json(v);
  } else {
    *ctx.out << (d.allowed ? "allow" : "deny") << "  (" << to_string(d.source);
    if (!rule.empty()) *ctx.out << " rule: " << rule;
    if (!d.allowed) *ctx.out << "; " << to_string(d.reason);
    *ctx.out << ")\n";
  }
  return d.allowed ? kExitOk : kExitRefused;
}

int lint(Context& ctx) {
  ctx.args.allow_only({});
  ctx.args.expect_positionals(1, "acl lint FILE");
  const std::string& path = ctx.args.positional[2];
  std::string content;
  if (!read_whole(path, content)) throw UsageError("cannot read " + path);
  std::vector<Rule> rules;
  std::vector<RuleError> errors;
  const bool ok = parse_rule_file(content, rules, errors);
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["ok"] = ok;
    v["errors"] = Json::Value(Json::arrayValue);
    for (const auto& e : errors) {
      Json::Value je(Json::objectValue);
      je["line"] = Json::UInt64(e.line);
      je["message"] = e.message;
      v["errors"].append(je);
    }
    ctx.print_json(v);
  } else {
    for (const auto& e : errors) *ctx.out << path << ":" << e.line << ": " << e.message << "\n";
    if (ok) *ctx.out << path << ": " << rules.size() << " rule(s), ok\n";
  }
  return ok ? kExitOk : kExitRefused;
}

}  // namespace

int cmd_acl(Context& ctx) {
  const auto& p = ctx.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (sub == "check") return check(ctx);
  if (sub == "lint") return lint(ctx);
  throw UsageError("acl: expected check or lint");
}

}  // namespace shortcred::tokens::ctl
