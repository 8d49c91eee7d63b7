// shortcredctl acl check | lint: the broker's own evaluation (core Policy),
// so an operator can ask "would this client be allowed?" without a broker.
#include <algorithm>
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

// [{"line","message"}…]: lint's errors and warnings, check's warnings.
Json::Value warnings_json(const std::vector<RuleError>& list) {
  Json::Value a(Json::arrayValue);
  for (const auto& e : list) {
    Json::Value je(Json::objectValue);
    je["line"] = Json::UInt64(e.line);
    je["message"] = e.message;
    a.append(je);
  }
  return a;
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
  std::vector<RuleError> warnings;
  if (auto file = a.get("acl-file")) {
    std::string content;
    if (!read_whole(*file, content)) throw UsageError("--acl-file: cannot read " + *file);
    std::vector<RuleError> errors;
    templates.clear();
    if (!parse_rule_file(content, templates, errors)) {
      throw UsageError("--acl-file " + *file + " line " + std::to_string(errors.front().line) +
                       ": " + errors.front().message);
    }
    warnings = rule_file_warnings(content);
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
    v["warnings"] = warnings_json(warnings);
    ctx.print_json(v);
  } else {
    *ctx.out << (d.allowed ? "allow" : "deny") << "  (" << to_string(d.source);
    if (!rule.empty()) *ctx.out << " rule: " << rule;
    if (!d.allowed) *ctx.out << "; " << to_string(d.reason);
    *ctx.out << ")\n";
    // On stderr: stdout stays the one-line decision scripts read.
    for (const auto& w : warnings) {
      *ctx.err << "warning: " << *a.get("acl-file") << ":" << w.line << ": " << w.message << "\n";
    }
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
  // Warnings are advice: they never fail the lint (exit 0 if no error).
  const std::vector<RuleError> warnings = rule_file_warnings(content);
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["ok"] = ok;
    v["errors"] = warnings_json(errors);
    v["warnings"] = warnings_json(warnings);
    ctx.print_json(v);
  } else {
    std::vector<std::pair<std::size_t, std::string>> lines;  // in file order
    for (const auto& e : errors) lines.emplace_back(e.line, e.message);
    for (const auto& w : warnings) lines.emplace_back(w.line, "warning: " + w.message);
    std::stable_sort(lines.begin(), lines.end(),
                     [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& [line, message] : lines) *ctx.out << path << ":" << line << ": " << message << "\n";
    if (ok) {
      *ctx.out << path << ": " << rules.size() << " rule(s), ok";
      if (!warnings.empty()) *ctx.out << ", " << warnings.size() << " warning(s)";
      *ctx.out << "\n";
    }
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
