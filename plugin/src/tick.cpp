// MOSQ_EVT_TICK (about every 100 ms): the only place that disconnects
// clients. Kicking re-enters the broker (DISCONNECT fires for the kicked
// client, the will is published), which is unsafe inside an ACL or
// DISCONNECT callback, so every other path only queues a PendingKick.
//
//   expiry                    → kicked with will (with_will = true)
//   revocation, failed
//   revalidation, org disabled → kicked without will (with_will = false)
//
// In Mosquitto 2.0.11 with_will = false marks the context "disconnecting"
// before do_disconnect, which is what suppresses the will.
#include <string>
#include <string_view>
#include <unordered_set>

#include "shortcred/redis/client.hpp"
#include "shortcred/redis/sentinel.hpp"
#include "state.hpp"

namespace shortcred::plugin {
namespace {

void queue_kick(Plugin& p, Session& s, KickReason reason) {
  if (s.doomed) return;  // already queued
  s.doomed = true;
  p.kicks.push_back({s.client, reason});
}

// Every path that finds an org disabled (its channel message, a refresh of
// the org hash) says so in the log, naming the org, for its live sessions
// and for its offline ones: not "token revoked", and never silently.
void kick_org_disabled(Plugin& p, Session& s) {
  if (s.doomed) return;  // already on its way out, already logged
  SC_LOG(MOSQ_LOG_NOTICE, "shortcred: org %s disabled; disconnecting '%s' (token %s)",
         s.org.c_str(), loggable(s.client_id).c_str(), s.token_id.c_str());
  queue_kick(p, s, KickReason::org_disabled);
}

void deny_offline_of_disabled_org(Plugin& p, const std::string& org) {
  const std::size_t n = p.offline.deny_if(org, [](const OfflineSession&) { return true; });
  if (n > 0) {
    SC_LOG(MOSQ_LOG_NOTICE,
           "shortcred: org %s disabled; nothing more is queued for its %zu offline session(s)",
           org.c_str(), n);
  }
}

// What a revocation does to offline sessions (offline_sessions.hpp): a
// revoked token or user, or a disabled org, queues nothing more for them.
// A kick by client id ends a connection, not a credential: an offline
// session has none to end.
void deny_offline(Plugin& p, const Revocation& r) {
  std::size_t n = 0;
  switch (r.kind) {
    case Revocation::Kind::token:
      n = p.offline.deny_if(r.org,
                            [&](const OfflineSession& o) { return o.token_id == r.subject; });
      break;
    case Revocation::Kind::user:
      n = p.offline.deny_if(r.org, [&](const OfflineSession& o) { return o.user == r.subject; });
      break;
    case Revocation::Kind::org: deny_offline_of_disabled_org(p, r.org); return;
    case Revocation::Kind::client: break;
  }
  if (n > 0) {
    SC_LOG(MOSQ_LOG_NOTICE,
           "shortcred: %zu offline session(s) of org %s revoked; nothing more is queued for them",
           n, r.org.c_str());
  }
}

void apply_background(Plugin& p, BackgroundEvents& ev, std::int64_t now) {
  for (const auto& [level, text] : ev.logs) {
    SC_LOG(level == 0 ? MOSQ_LOG_INFO : MOSQ_LOG_WARNING, "%s", text.c_str());
  }
  p.counters.redis_errors += ev.redis_errors;
  if (ev.redis_reachable) p.background_redis_down = !*ev.redis_reachable;
  p.counters.presence_writes += ev.presence.writes;
  p.counters.presence_errors += ev.presence.errors;
  p.counters.presence_trimmed += ev.presence.trimmed;
  p.counters.lease_requests += ev.lease.requests;
  p.counters.lease_granted += ev.lease.granted;
  p.counters.lease_errors += ev.lease.errors;
  p.counters.lease_script_loads += ev.lease.script_loads;
  if (!ev.leases.empty()) apply_leases(p, ev.leases);
  if (ev.redis_up_again) {
    p.breaker.hint_recovered(now);
    // Revocations published while the subscriber was away are lost: every
    // live session is revalidated now, from a fresh snapshot (the last one
    // may predate sessions that connected since).
    p.next_revalidate_ms = 0;
  }

  for (const Revocation& r : ev.revocations) {
    deny_offline(p, r);
    std::vector<Session*> hit;
    KickReason reason = KickReason::revoked;
    switch (r.kind) {
      case Revocation::Kind::token: hit = p.sessions.by_token(r.org, r.subject); break;
      case Revocation::Kind::user: hit = p.sessions.by_user(r.org, r.subject); break;
      case Revocation::Kind::org:
        hit = p.sessions.by_org(r.org);
        reason = KickReason::org_disabled;
        break;
      case Revocation::Kind::client:
        // Only the org's own client: an id is unique per broker, and a kick
        // naming another org's client does nothing.
        if (Session* s = p.sessions.find_by_client_id(r.subject); s != nullptr && s->org == r.org) {
          hit.push_back(s);
        }
        reason = KickReason::client_kicked;
        break;
    }
    for (Session* s : hit) {
      if (reason == KickReason::org_disabled) {
        kick_org_disabled(p, *s);
        continue;
      }
      if (reason == KickReason::client_kicked) {
        SC_LOG(MOSQ_LOG_NOTICE, "shortcred: client '%s' (org %s, token %s) kicked; disconnecting",
               loggable(s->client_id).c_str(), s->org.c_str(), s->token_id.c_str());
      } else {
        SC_LOG(MOSQ_LOG_NOTICE, "shortcred: token %s (org %s) revoked; disconnecting '%s'",
               s->token_id.c_str(), s->org.c_str(), loggable(s->client_id).c_str());
      }
      queue_kick(p, *s, reason);
    }
  }
  for (const TokenRef& t : ev.missing) {
    p.offline.deny_if(t.org, [&](const OfflineSession& o) {
      return o.token_id == t.token_id && o.expires_at_ms > now;
    });
    for (Session* s : p.sessions.by_token(t.org, t.token_id)) {
      // Redis deletes a credential at its expires_at (PEXPIREAT): a key that
      // went missing between the snapshot and EXISTS of a session that has
      // expired by now is an expiry, not a revocation. find_expired kicks it
      // with its will.
      if (s->expires_at_ms <= now) continue;
      SC_LOG(MOSQ_LOG_NOTICE,
             "shortcred: token %s (org %s) no longer in Redis; disconnecting '%s'",
             s->token_id.c_str(), s->org.c_str(), loggable(s->client_id).c_str());
      queue_kick(p, *s, KickReason::revoked);
    }
  }
  for (const std::string& org : ev.missing_orgs) {
    p.offline.deny_if(org, [](const OfflineSession&) { return true; });
    for (Session* s : p.sessions.by_org(org)) {
      SC_LOG(MOSQ_LOG_NOTICE, "shortcred: org %s no longer exists; disconnecting '%s'",
             s->org.c_str(), loggable(s->client_id).c_str());
      queue_kick(p, *s, KickReason::org_missing);
    }
  }
  const std::int64_t now_ns = mono_ns();
  for (const auto& [org, record] : ev.orgs) {
    if (record.disabled) deny_offline_of_disabled_org(p, org);
    OrgState* os = p.sessions.find_org(org);
    if (os == nullptr) continue;
    os->apply(record, p.defaults, now_ns);
    if (record.disabled) {
      for (Session* s : p.sessions.by_org(org)) kick_org_disabled(p, *s);
    }
  }
}

// A session that goes without a DISCONNECT event.
void drop_session(Plugin& p, const void* client) {
  std::unique_ptr<Session> s = p.sessions.detach(client);
  if (s) presence_leave(p, *s);
}

void find_expired(Plugin& p, std::int64_t now) {
  if (p.next_expiry_ms == 0 || now < p.next_expiry_ms) return;
  std::int64_t next = 0;
  p.sessions.for_each([&](Session& s) {
    if (s.doomed) return;
    if (now >= s.expires_at_ms) {
      // Not marked doomed: its will must still pass the WRITE check.
      p.kicks.push_back({s.client, KickReason::expired});
    } else if (next == 0 || s.expires_at_ms < next) {
      next = s.expires_at_ms;
    }
  });
  p.next_expiry_ms = next;
}

void run_kicks(Plugin& p) {
  std::vector<PendingKick> kicks;
  kicks.swap(p.kicks);
  for (const PendingKick& k : kicks) {
    Session* s = p.sessions.find(k.client);
    if (s == nullptr) continue;  // gone meanwhile
    // 2.0.11 kicks by client id only. Ask Mosquitto for this context's id
    // (the pointer is valid while its session exists: DISCONNECT drops it)
    // rather than trusting our copy.
    const char* id = mosquitto_client_id(static_cast<const struct mosquitto*>(k.client));
    if (id == nullptr) {
      SC_LOG(MOSQ_LOG_WARNING,
             "shortcred: cannot disconnect '%s' (token %s): Mosquitto reports no client id; "
             "dropping its session",
             loggable(s->client_id).c_str(), s->token_id.c_str());
      drop_session(p, k.client);
      continue;
    }
    const std::string cid = id;
    const bool with_will = k.reason == KickReason::expired;
    switch (k.reason) {
      case KickReason::expired: ++p.counters.kicked_expired; break;
      case KickReason::revoked: ++p.counters.kicked_revoked; break;
      case KickReason::org_disabled: ++p.counters.kicked_org_disabled; break;
      case KickReason::org_missing: ++p.counters.kicked_org_missing; break;
      case KickReason::client_kicked: ++p.counters.kicked_client; break;
    }
    if (with_will) {
      SC_LOG(MOSQ_LOG_NOTICE, "shortcred: token %s expired; disconnecting '%s'",
             s->token_id.c_str(), loggable(cid).c_str());
      s->doomed = true;  // nothing but the will may pass from here on
      p.expiry_kick = k.client;
    }
    const int rc = mosquitto_kick_client_by_clientid(cid.c_str(), with_will);
    p.expiry_kick = nullptr;
    // DISCONNECT normally dropped the session already; if Mosquitto did not
    // know the id, the session is stale either way.
    if (rc != MOSQ_ERR_SUCCESS) {
      SC_LOG(MOSQ_LOG_WARNING, "shortcred: kicking '%s' failed (error %d); dropping its session",
             loggable(cid).c_str(), rc);
      drop_session(p, k.client);
    }
  }
}

void publish_counters(Plugin& p) {
  auto publish = [](const std::string& topic, const std::string& value) {
    mosquitto_broker_publish_copy(nullptr, topic.c_str(), static_cast<int>(value.size()),
                                  value.data(), 0, true, nullptr);
  };
  const std::string base = "$SYS/broker/shortcred/";
  for (const auto& [path, value] : p.counters.items()) {
    publish(base + std::string(path), std::to_string(value));
  }
  publish(base + "sessions/live", std::to_string(p.sessions.size()));
  publish(base + "sessions/offline_known", std::to_string(p.offline.size()));
  publish(base + "sessions/offline_evicted", std::to_string(p.offline.evictions()));
  publish(base + "breaker/state", breaker_reported_open(p) ? "open" : "closed");
  publish(base + "breaker/connect", p.breaker.open() ? "open" : "closed");
  publish(base + "breaker/background", p.background_redis_down ? "open" : "closed");
  if (!p.broker_id.empty()) publish(base + "presence/broker_id", p.broker_id);
  std::string line = format_counters(p.counters, p.sessions.size(), breaker_reported_open(p));
  if (p.opts.redis.kind == RedisEndpoint::Kind::cluster) {
    // Process-wide, so the CONNECT path's and the background thread's.
    const redis::ClusterStats cs = redis::cluster_stats();
    for (const auto& [path, value] : {std::pair{"redis/cluster/moved", cs.moved},
                                      std::pair{"redis/cluster/ask", cs.ask},
                                      std::pair{"redis/cluster/map_refreshes", cs.map_refreshes}}) {
      publish(base + path, std::to_string(value));
      line += std::string(" ") + path + "=" + std::to_string(value);
    }
  }
  if (p.opts.redis.kind == RedisEndpoint::Kind::sentinel) {
    const redis::SentinelCounters sc = redis::sentinel_counters();
    for (const auto& [path, value] :
         {std::pair{"redis/sentinel/discoveries", sc.discoveries},
          std::pair{"redis/sentinel/master_changes", sc.master_changes},
          std::pair{"redis/sentinel/switch_master", sc.switch_master_events}}) {
      publish(base + path, std::to_string(value));
      line += std::string(" ") + path + "=" + std::to_string(value);
    }
  }
  SC_LOG(MOSQ_LOG_INFO, "shortcred: counters %s", line.c_str());
}

void post_revalidation(Plugin& p, std::int64_t now) {
  std::vector<TokenRef> tokens;
  std::vector<std::string> orgs;
  tokens.reserve(p.sessions.size());
  // A connection that outlives half its owner TTL renews the record, so the
  // id stays its user's while it is online.
  const std::int64_t renew_after_ms = p.opts.client_id_owner_ttl_s * 500LL;
  p.sessions.for_each([&](Session& s) {
    if (!s.doomed) tokens.push_back({s.org, s.token_id});
    if (now - s.owner_written_ms >= renew_after_ms) record_owner(p, s);
  });
  // (Views of strings that stay put: the org states' and the records'.)
  std::unordered_set<std::string_view> seen;
  p.sessions.for_each_org([&](OrgState& o) {
    orgs.push_back(o.org);
    seen.insert(o.org);
  });
  // Offline sessions that may still have messages queued: a revocation the
  // subscriber missed must reach them too.
  p.offline.for_each([&](const OfflineSession& o) {
    if (o.denied || o.expires_at_ms <= now) return;
    tokens.push_back({o.org, o.token_id});
    if (seen.insert(o.org).second) orgs.push_back(o.org);
  });
  if (!tokens.empty() || !orgs.empty()) p.background->post_snapshot(std::move(tokens), std::move(orgs));
}

}  // namespace

int on_tick(Plugin& p, mosquitto_evt_tick& tick) {
  p.closing.reset();
  p.rechecking = false;
  p.tick_seen = true;
  if (p.lookups != nullptr) {
    p.wake.woken();
    complete_delayed(p);
  }
  // 2.1 reads this field as next_ms (same offset; 2.0 calls it next_ns and
  // ignores it) and skips this callback until then, forgetting the wake-up
  // it asked for whenever its loop wakes earlier. 0 keeps the tick in every
  // pass of the loop: it must run before the next CONNECT after a SIGHUP
  // (Plugin::rechecking), and a delayed CONNECT is answered at the first
  // pass after its lookup.
  tick.next_ns = 0;
  const std::int64_t now = wall_ms();
  broker_id(p);  // resolved at the first tick: the listeners are up
  BackgroundEvents ev = p.background->take();
  if (!ev.empty()) apply_background(p, ev, now);
  find_expired(p, now);
  if (!p.kicks.empty()) run_kicks(p);
  request_leases(p);

  if (now >= p.next_revalidate_ms) {
    p.next_revalidate_ms = now + p.opts.revalidate_interval_s * 1000LL;
    post_revalidation(p, now);
  }
  if (now >= p.next_sweep_ms) {
    p.next_sweep_ms = now + 1000;
    // A session detached during this tick (a kick, a takeover) points into
    // the states the sweep may free: its will has been checked by now.
    p.closing.reset();
    p.sessions.sweep_idle(mono_ns());
    p.throttle.sweep(mono_ns());
  }
  if (p.metrics != nullptr && now >= p.next_metrics_ms) {
    p.next_metrics_ms = now + 1000;
    publish_metrics(p);
  }
  if (p.opts.sys_interval_s > 0 && now >= p.next_sys_ms) {
    if (p.next_sys_ms != 0) publish_counters(p);
    p.next_sys_ms = now + p.opts.sys_interval_s * 1000LL;
  }
  return MOSQ_ERR_SUCCESS;
}

void on_client_gone(Plugin& p, const void* client) {
  p.closing = p.sessions.detach(client);
  if (!p.closing) return;
  Session& s = *p.closing;
  presence_leave(p, s);
  // The broker may keep this client's session: its owner's TTL runs from
  // now, and a SIGHUP re-check must recognise it (offline_sessions.hpp).
  record_owner(p, s);
  const auto* mosq = static_cast<const struct mosquitto*>(client);
  const bool kept = mosquitto_client_protocol_version(mosq) == 5 ||
                    !mosquitto_client_clean_session(mosq);
  if (!kept) return;
  OfflineSession o;
  o.client_id = s.client_id;
  o.org = s.org;
  o.user = s.user;
  o.token_id = s.token_id;
  o.secret_sha256 = s.secret_sha256;
  o.ext_auth = s.ext_auth;
  o.left_ms = wall_ms();
  // Messages queued while it is offline are judged as they would be online
  // (acl.cpp). Copied, not moved: p.closing still judges the will. A session
  // that was being disconnected for revocation leaves a denied record.
  o.expires_at_ms = s.expires_at_ms;
  o.org_counts = s.org_counts;
  o.denied = s.doomed && p.expiry_kick != client;
  if (!o.denied) {
    o.has_scope = s.has_scope;
    o.scope_rules = s.scope_rules;
    o.policy = s.policy;
  }
  p.offline.left(client, std::move(o));
}

}  // namespace shortcred::plugin
