#include "sessions.hpp"

#include <algorithm>

#include "clock.hpp"

namespace shortcred::plugin {
namespace {

// How long an empty bucket takes to fill up again.
std::int64_t refill_ns(const TokenBucket& b) {
  if (b.unlimited()) return 0;
  return static_cast<std::int64_t>(b.burst() / b.rate() * 1e9);
}

}  // namespace

void OrgState::apply(const OrgRecord& r, const LimitDefaults& d, std::int64_t now_ns) {
  disabled = r.disabled;
  pub_rate = r.pub_rate.value_or(d.pub_rate);
  pub_burst = r.pub_burst.value_or(d.pub_burst);
  max_connections = r.max_connections.value_or(d.max_connections);
  user_pub_rate = r.user_pub_rate.value_or(0);
  user_max_connections = r.user_max_connections.value_or(0);
  pub_rate_global = r.pub_rate_global;
  if (bucket.rate() != static_cast<double>(pub_rate) ||
      bucket.burst() != static_cast<double>(pub_burst)) {
    bucket.reconfigure(static_cast<double>(pub_rate), static_cast<double>(pub_burst), now_ns);
  }
  for (auto& [name, u] : users) {
    if (u.bucket.rate() != static_cast<double>(user_pub_rate)) {
      u.bucket.reconfigure(static_cast<double>(user_pub_rate), 0, now_ns);
    }
  }
}

OrgState& SessionTable::org_state(std::string_view org) {
  auto it = orgs_.find(org);
  if (it == orgs_.end()) {
    it = orgs_.emplace(std::string(org), OrgState{}).first;
    it->second.org = std::string(org);
  }
  return it->second;
}

Session& SessionTable::insert(std::unique_ptr<Session> s) {
  erase(s->client);
  Session& ref = *s;
  OrgState& o = org_state(ref.org);
  ref.org_state = &o;
  o.sessions.insert(&ref);
  o.idle_since_ns = 0;
  auto uit = o.users.find(ref.user);
  if (uit == o.users.end()) {
    uit = o.users.emplace(ref.user, UserState{}).first;
    uit->second.bucket = TokenBucket(static_cast<double>(o.user_pub_rate), 0, 0);
  }
  ref.user_state = &uit->second;
  ++ref.user_state->live;
  ref.user_state->idle_since_ns = 0;
  by_client_id_[ref.client_id] = &ref;
  by_token_.emplace(ref.token_id, &ref);
  by_client_.emplace(ref.client, std::move(s));
  return ref;
}

std::unique_ptr<Session> SessionTable::detach(const void* client) {
  auto it = by_client_.find(client);
  if (it == by_client_.end()) return nullptr;
  Session* s = it->second.get();
  auto cid = by_client_id_.find(s->client_id);
  if (cid != by_client_id_.end() && cid->second == s) by_client_id_.erase(cid);
  auto [b, e] = by_token_.equal_range(s->token_id);
  for (auto t = b; t != e; ++t) {
    if (t->second == s) {
      by_token_.erase(t);
      break;
    }
  }
  OrgState* o = s->org_state;
  o->sessions.erase(s);
  const std::int64_t now = mono_ns();
  if (--s->user_state->live == 0) s->user_state->idle_since_ns = now;
  if (o->sessions.empty()) o->idle_since_ns = now;
  std::unique_ptr<Session> out = std::move(it->second);
  by_client_.erase(it);
  return out;
}

void SessionTable::sweep_idle(std::int64_t now_ns) {
  for (auto o = orgs_.begin(); o != orgs_.end();) {
    OrgState& org = o->second;
    for (auto u = org.users.begin(); u != org.users.end();) {
      const UserState& us = u->second;
      const bool gone = us.live == 0 && now_ns - us.idle_since_ns >= refill_ns(us.bucket);
      u = gone ? org.users.erase(u) : std::next(u);
    }
    const bool gone = org.sessions.empty() && org.users.empty() &&
                      now_ns - org.idle_since_ns >= refill_ns(org.bucket);
    o = gone ? orgs_.erase(o) : std::next(o);
  }
}

void SessionTable::retoken(Session& s, std::string token_id) {
  auto [b, e] = by_token_.equal_range(s.token_id);
  for (auto t = b; t != e; ++t) {
    if (t->second == &s) {
      by_token_.erase(t);
      break;
    }
  }
  s.token_id = std::move(token_id);
  by_token_.emplace(s.token_id, &s);
}

std::vector<Session*> SessionTable::by_token(std::string_view org, std::string_view token_id) {
  std::vector<Session*> out;
  auto [b, e] = by_token_.equal_range(std::string(token_id));
  for (auto t = b; t != e; ++t) {
    if (t->second->org == org) out.push_back(t->second);
  }
  return out;
}

std::vector<Session*> SessionTable::by_user(std::string_view org, std::string_view user) {
  std::vector<Session*> out;
  if (OrgState* o = find_org(org)) {
    for (Session* s : o->sessions) {
      if (s->user == user) out.push_back(s);
    }
  }
  return out;
}

std::vector<Session*> SessionTable::by_org(std::string_view org) {
  std::vector<Session*> out;
  if (OrgState* o = find_org(org)) out.assign(o->sessions.begin(), o->sessions.end());
  return out;
}

}  // namespace shortcred::plugin
