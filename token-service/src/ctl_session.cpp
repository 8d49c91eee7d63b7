// shortcredctl session list | kick: presence across brokers (sessions.hpp).
#include <ostream>

#include "ctl_internal.hpp"
#include "shortcred/presence.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/time.hpp"
#include "shortcred/tokens/sessions.hpp"
#include "shortcred/tokens/validation.hpp"

namespace shortcred::tokens::ctl {
namespace {

int presence_interval(const Args& a) {
  const auto v = a.get("presence-interval");
  if (!v) return kDefaultPresenceIntervalS;
  std::uint64_t n = 0;
  if (!parse_u64(*v, n) || n < 1 || n > 3600) {
    throw UsageError("--presence-interval must be a whole number of seconds in 1-3600, got '" +
                     *v + "'");
  }
  return static_cast<int>(n);
}

int list(Context& ctx) {
  const Args& a = ctx.args;
  a.allow_only({"org", "user", "presence-interval"});
  a.expect_positionals(0, "session list --org ORG [--user USER] [--presence-interval S]");
  const std::string org = org_option(a);
  const auto user = a.get("user");
  if (user) {
    if (Status s = validate_user_field("--user", *user); !s.ok()) throw UsageError(s.message);
  }
  std::vector<SessionInfo> sessions;
  if (Status s = list_sessions(ctx.redis(), ctx.prefix, org, user, presence_interval(a), sessions);
      !s.ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    ctx.print_json(sessions_json(sessions));
    return kExitOk;
  }
  for (const SessionInfo& s : sessions) {
    *ctx.out << table_text(s.client_id) << "  " << table_text(s.user) << "  broker "
             << table_text(s.broker) << "  token " << table_text(s.token) << "  since "
             << format_rfc3339(s.connected_at_ms / 1000) << "\n";
  }
  if (sessions.empty()) *ctx.out << "(no live sessions)\n";
  return kExitOk;
}

int kick(Context& ctx) {
  const Args& a = ctx.args;
  a.allow_only({"presence-interval"});
  a.expect_positionals(2, "session kick ORG CLIENT_ID [--presence-interval S]");
  const std::string& org = a.positional[2];
  const std::string& client_id = a.positional[3];
  require_org_id(org);
  if (!valid_kick_client_id(client_id)) throw UsageError("CLIENT_ID must be 1-65535 bytes");
  if (Status s = kick_session(ctx.redis(), ctx.prefix, org, client_id, presence_interval(a),
                                ctx.audit());
      !s.ok()) {
    return ctx.fail(s);
  }
  if (ctx.json) {
    Json::Value v(Json::objectValue);
    v["kicked"] = true;
    v["client_id"] = client_id;
    ctx.print_json(v);
  } else {
    *ctx.out << "kicked " << client_id << " (its broker disconnects it at the next tick)\n";
  }
  return kExitOk;
}

}  // namespace

int cmd_session(Context& ctx) {
  const auto& p = ctx.args.positional;
  const std::string sub = p.size() > 1 ? p[1] : "";
  if (sub == "list") return list(ctx);
  if (sub == "kick") return kick(ctx);
  throw UsageError("session: expected list or kick");
}

}  // namespace shortcred::tokens::ctl
