#include "presence.hpp"

#include <chrono>
#include <set>

#include "shortcred/presence.hpp"

namespace shortcred::plugin {
namespace {

constexpr auto kIoTimeout = std::chrono::milliseconds(1000);
constexpr std::int64_t kRetryMs = 1000;

}  // namespace

PresenceWriter::PresenceWriter(RedisEndpoint ep, std::string prefix, int interval_s)
    : ep_(std::move(ep)),
      prefix_(std::move(prefix)),
      interval_s_(interval_s),
      trim_script_(kTrimStaleScript) {}

void PresenceWriter::set_broker_id(std::string id) {
  std::lock_guard lock(mu_);
  broker_id_ = std::move(id);
}

void PresenceWriter::joined(std::string org, std::string user, std::string client_id,
                            std::string json) {
  std::lock_guard lock(mu_);
  ops_.push_back({true, std::move(org), std::move(user), std::move(client_id), std::move(json)});
}

void PresenceWriter::left(std::string org, std::string user, std::string client_id) {
  std::lock_guard lock(mu_);
  ops_.push_back({false, std::move(org), std::move(user), std::move(client_id), {}});
}

void PresenceWriter::run_due(std::int64_t now_ms, PresenceStats& stats, std::string& error) {
  std::vector<Op> ops;
  {
    std::lock_guard lock(mu_);
    ops.swap(ops_);
    if (me_.empty()) me_ = broker_id_;
  }
  for (Op& op : ops) {
    Key k{op.org, op.client_id};
    if (op.join) {
      live_[k] = Entry{std::move(op.user), std::move(op.json)};
      unwritten_joins_.push_back(std::move(k));
    } else {
      live_.erase(k);
      unwritten_leaves_.push_back({std::move(op.org), std::move(op.user), std::move(op.client_id)});
    }
  }
  if (me_.empty() || now_ms < retry_at_ms_) return;
  const bool beat = now_ms >= next_beat_ms_;
  if (!beat && unwritten_joins_.empty() && unwritten_leaves_.empty()) return;

  std::map<Key, const Entry*> joins;
  if (beat) {
    for (const auto& [k, e] : live_) joins.emplace(k, &e);
  } else {
    for (const Key& k : unwritten_joins_) {
      if (auto it = live_.find(k); it != live_.end()) joins.emplace(k, &it->second);
    }
  }
  if (!write(joins, now_ms, stats, error)) {
    ++stats.errors;
    conn_ = {};
    retry_at_ms_ = now_ms + kRetryMs;
    next_beat_ms_ = 0;  // the next successful pass re-writes everything
    return;
  }
  failing_ = false;
  unwritten_joins_.clear();
  if (!beat) return;
  next_beat_ms_ = now_ms + interval_s_ * 1000LL;
  std::set<std::string> orgs;
  for (const auto& [k, e] : live_) orgs.insert(k.first);
  trim({orgs.begin(), orgs.end()}, now_ms, stats);
}

// Leaves first, then joins: a client id that left and joined again since
// the last pass ends up present, whichever user it now belongs to.
bool PresenceWriter::write(const std::map<Key, const Entry*>& joins, std::int64_t now_ms,
                           PresenceStats& stats, std::string& error) {
  if (!conn_.ok()) {
    std::string err;
    conn_ = redis::Client::open(ep_, kIoTimeout, err);
    if (!conn_.ok()) {
      if (!failing_) error = "presence writes cannot reach Redis: " + err + "; retrying";
      failing_ = true;
      return false;
    }
  }
  const std::string now = std::to_string(now_ms);
  const std::string ttl = std::to_string(3LL * interval_s_ * 1000 + 1000);
  const std::string cutoff = "(" + std::to_string(presence_stale_before(now_ms, interval_s_));
  std::map<std::string, std::vector<std::vector<std::string>>> by_org;
  std::map<std::string, std::set<std::string>> users;
  for (const Leave& l : unwritten_leaves_) {
    const std::string f = presence_field(me_, l.client_id);
    auto& cmds = by_org[l.org];
    cmds.push_back({"HDEL", sessions_key(prefix_, l.org), f});
    cmds.push_back({"ZREM", session_seen_key(prefix_, l.org), f});
    cmds.push_back({"ZREM", user_seen_key(prefix_, l.org, l.user), f});
    cmds.push_back({"ZREM", broker_seen_key(prefix_, l.org, me_), f});
  }
  for (const auto& [k, e] : joins) {
    const auto& [org, client_id] = k;
    const std::string f = presence_field(me_, client_id);
    auto& cmds = by_org[org];
    cmds.push_back({"HSET", sessions_key(prefix_, org), f, e->json});
    cmds.push_back({"ZADD", session_seen_key(prefix_, org), now, f});
    cmds.push_back({"ZADD", user_seen_key(prefix_, org, e->user), now, f});
    cmds.push_back({"ZADD", broker_seen_key(prefix_, org, me_), now, f});
    users[org].insert(e->user);
  }
  // The per-user and per-broker sets expire by themselves once nobody
  // refreshes them (a crashed broker), and lose their stale members here.
  for (auto& [org, cmds] : by_org) {
    for (const std::string& user : users[org]) {
      cmds.push_back({"PEXPIRE", user_seen_key(prefix_, org, user), ttl});
      cmds.push_back({"ZREMRANGEBYSCORE", user_seen_key(prefix_, org, user), "-inf", cutoff});
    }
    if (!users[org].empty()) {
      cmds.push_back({"PEXPIRE", broker_seen_key(prefix_, org, me_), ttl});
      cmds.push_back({"ZREMRANGEBYSCORE", broker_seen_key(prefix_, org, me_), "-inf", cutoff});
    }
  }
  std::size_t replies = 0;
  for (const auto& [org, cmds] : by_org) {
    bool ok = conn_.append({"MULTI"});
    for (const auto& c : cmds) ok = ok && conn_.append(c);
    ok = ok && conn_.append({"EXEC"});
    if (!ok) return false;
    replies += cmds.size() + 2;
  }
  bool exec_failed = false;
  for (std::size_t i = 0; i < replies; ++i) {
    redis::Reply r = conn_.read_reply();
    if (!r) {
      if (!failing_) error = "presence writes failed: " + conn_.error() + "; retrying";
      failing_ = true;
      return false;
    }
    exec_failed = exec_failed || r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_NIL;
  }
  if (exec_failed) {
    // Redis answered with an error (WRONGTYPE on a hand-written key, OOM):
    // counted and logged, not retried until the next heartbeat.
    ++stats.errors;
    if (!failing_) error = "presence write refused by Redis (an error reply)";
  }
  stats.writes += joins.size() + unwritten_leaves_.size();
  unwritten_leaves_.clear();
  return true;
}

void PresenceWriter::trim(const std::vector<std::string>& orgs, std::int64_t now_ms,
                          PresenceStats& stats) {
  const std::string cutoff = std::to_string(presence_stale_before(now_ms, interval_s_));
  for (const std::string& org : orgs) {
    redis::Reply r = trim_script_.run(
        conn_, {sessions_key(prefix_, org), session_seen_key(prefix_, org)}, {cutoff});
    if (!r) return;  // the next pass reconnects
    if (r->type == REDIS_REPLY_INTEGER) stats.trimmed += static_cast<std::uint64_t>(r->integer);
  }
}

}  // namespace shortcred::plugin
