#include "shortcred/tokens/sessions.hpp"

#include <algorithm>

#include "shortcred/presence.hpp"
#include "shortcred/redis/script.hpp"
#include "shortcred/schema.hpp"
#include "shortcred/time.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {
namespace {

// Removes the org's stale members (kTrimStaleScript). One script per worker
// thread: it keeps the SHA it loaded.
Status trim_stale(redis::Client& c, const std::string& prefix, const std::string& org,
                  std::int64_t cutoff) {
  thread_local redis::Script trim(kTrimStaleScript);
  redis::Reply r =
      trim.run(c, {sessions_key(prefix, org), session_seen_key(prefix, org)}, {std::to_string(cutoff)});
  if (!r || r->type == REDIS_REPLY_ERROR) return reply_status(c, r);
  return Status::success();
}

// Live members (`<broker>|<client id>` → heartbeat ms) of a seen set.
Status live_members(redis::Client& c, const std::string& key, std::int64_t cutoff,
                    std::vector<std::pair<std::string, std::int64_t>>& out) {
  redis::Reply r = c.command({"ZRANGEBYSCORE", key, std::to_string(cutoff), "+inf", "WITHSCORES"});
  if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    std::uint64_t ms = 0;
    const std::string score = redis::to_string(r->element[i + 1]);
    parse_u64(score.substr(0, score.find('.')), ms);
    out.emplace_back(redis::to_string(r->element[i]), static_cast<std::int64_t>(ms));
  }
  return Status::success();
}

std::optional<SessionInfo> parse_session(const std::string& field, const std::string& value,
                                         std::int64_t seen) {
  const auto parts = split_presence_field(field);
  Json::Value v;
  Json::CharReaderBuilder b;
  std::string errs;
  const std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  if (!parts || !reader->parse(value.data(), value.data() + value.size(), &v, &errs) ||
      !v.isObject()) {
    return std::nullopt;
  }
  SessionInfo s;
  s.client_id = std::string(parts->client_id);
  s.broker = std::string(parts->broker);
  s.user = v.get("user", "").asString();
  s.token = v.get("token", "").asString();
  s.connected_at_ms = v.get("connected_at", 0).isIntegral() ? v["connected_at"].asInt64() : 0;
  s.proto = v.get("proto", 0).isIntegral() ? v["proto"].asInt() : 0;
  s.seen_at_ms = seen;
  return s;
}

}  // namespace

Status list_sessions(redis::Client& c, const std::string& prefix, const std::string& org,
                     const std::optional<std::string>& user, int interval_s,
                     std::vector<SessionInfo>& out) {
  out.clear();
  const std::int64_t cutoff = presence_stale_before(now_ms(), interval_s);
  if (Status s = trim_stale(c, prefix, org, cutoff); !s.ok()) return s;
  std::vector<std::pair<std::string, std::int64_t>> members;
  const std::string seen = user ? user_seen_key(prefix, org, *user) : session_seen_key(prefix, org);
  if (Status s = live_members(c, seen, cutoff, members); !s.ok()) return s;
  if (members.empty()) return Status::success();
  std::vector<std::string> argv{"HMGET", sessions_key(prefix, org)};
  for (const auto& [field, ms] : members) argv.push_back(field);
  redis::Reply r = c.command(argv);
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != members.size()) return reply_status(c, r);
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (r->element[i]->type != REDIS_REPLY_STRING) continue;  // left meanwhile
    auto s = parse_session(members[i].first, redis::to_string(r->element[i]), members[i].second);
    if (s && (!user || s->user == *user)) out.push_back(std::move(*s));
  }
  std::sort(out.begin(), out.end(), [](const SessionInfo& a, const SessionInfo& b) {
    return a.connected_at_ms != b.connected_at_ms ? a.connected_at_ms < b.connected_at_ms
                                                  : a.client_id < b.client_id;
  });
  return Status::success();
}

Status kick_session(redis::Client& c, const std::string& prefix, const std::string& org,
                    const std::string& client_id, int interval_s, const AuditInfo& who) {
  if (!valid_kick_client_id(client_id)) {
    return Status::make(Code::not_found, "no live session with that client id");
  }
  const std::int64_t cutoff = presence_stale_before(now_ms(), interval_s);
  if (Status s = trim_stale(c, prefix, org, cutoff); !s.ok()) return s;
  std::vector<std::pair<std::string, std::int64_t>> members;
  if (Status s = live_members(c, session_seen_key(prefix, org), cutoff, members); !s.ok()) return s;
  const auto found = std::find_if(members.begin(), members.end(), [&](const auto& m) {
    const auto parts = split_presence_field(m.first);
    return parts && parts->client_id == client_id;
  });
  if (found == members.end()) {
    return Status::make(Code::not_found, "no live session with that client id");
  }
  // Whose session it was, for the audit entry (gone meanwhile: still kick).
  redis::Reply v = c.command({"HGET", sessions_key(prefix, org), found->first});
  if (!v) return reply_status(c, v);
  std::optional<SessionInfo> s;
  if (v->type == REDIS_REPLY_STRING) {
    s = parse_session(found->first, redis::to_string(v.get()), found->second);
  }
  const Revocation kick{Revocation::Kind::client, org, client_id};
  const std::vector<std::vector<std::string>> cmds{
      audit_command(prefix, org, "session_kick", s ? s->user : "", s ? s->token : "", who, "",
                    {{"client_id", client_id}}),
      {"PUBLISH", revoked_channel(prefix), format_revocation(kick)},
  };
  redis::Reply exec;
  return transaction(c, cmds, exec);
}

Json::Value sessions_json(const std::vector<SessionInfo>& sessions) {
  Json::Value list(Json::arrayValue);
  for (const SessionInfo& s : sessions) {
    Json::Value v(Json::objectValue);
    v["client_id"] = s.client_id;
    v["user"] = s.user;
    v["token"] = s.token;
    v["broker"] = s.broker;
    v["proto"] = s.proto;
    v["connected_at"] = format_rfc3339(s.connected_at_ms / 1000);
    v["seen_at"] = format_rfc3339(s.seen_at_ms / 1000);
    list.append(v);
  }
  Json::Value out(Json::objectValue);
  out["sessions"] = list;
  return out;
}

}  // namespace shortcred::tokens
