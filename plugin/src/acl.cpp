// MOSQ_EVT_ACL_CHECK (DESIGN.md "Scope and ACL"). The per-message path:
// a hash lookup by client pointer, the session's compiled policy, two token
// buckets. No Redis, no heap allocation, no exceptions.
//
//   client without a session of ours → its offline record (check_offline),
//                                      else DEFER (password_file users etc.)
//   UNSUBSCRIBE                     → allowed, always
//   anything invalid or unknown     → denied (never "no opinion" for ours)
//
// Trust assumption: topic names of PUBLISH (WRITE) and delivery (READ) checks
// are passed as TopicTrust::broker_validated. Mosquitto 2.0 reads every PUBLISH
// topic with packet__read_string, which refuses it unless
// mosquitto_validate_utf8 accepts it (no NUL, overlong, surrogate or
// > U+10FFFF), and handle__publish then refuses it unless
// mosquitto_pub_topic_check accepts it (no `+` or `#`, at most 65535 bytes and
// 200 `/`), before the WRITE check; a will topic passes the same two checks at
// CONNECT (will__read). Deliveries are of topics stored by those publishes, or
// made by the broker itself ($SYS, its persistence file). So the policy skips
// re-validating them; it still refuses "" (a NULL topic) and topics deeper
// than ours allow. SUBSCRIBE filters come raw from the client (`$share/…`
// included) and are always validated.
#include <string_view>

#include "state.hpp"

namespace shortcred::plugin {
namespace {

constexpr std::int64_t kRateLogIntervalNs = 10'000'000'000;
constexpr TopicTrust kBrokerValidated = TopicTrust::broker_validated;  // see the top

// Counts a denial in `counter` and in the session's org slot (one
// increment through a pointer: no lookup, no allocation).
int deny(std::uint64_t& counter, const Session& s) {
  ++counter;
  if (s.org_counts != nullptr) ++s.org_counts->acl_denials;
  return MOSQ_ERR_ACL_DENIED;
}

// Per-user then per-org bucket; a token is taken from both only when both
// have one, so a refused publish costs the other bucket nothing. With
// pub_rate_scope global the org's token comes from the slice this broker
// leased (quota_lease.hpp): an integer in memory, never Redis.
bool within_rate(Plugin& p, Session& s) {
  const std::int64_t now = mono_ns();
  TokenBucket& u = s.user_state->bucket;
  OrgState& os = *s.org_state;
  TokenBucket& o = os.bucket;
  const bool global = os.pub_rate_global && os.pub_rate > 0;
  const bool org_ok = global ? os.leased > 0 : (o.unlimited() || o.seconds_until(now) <= 0);
  const bool ok = (u.unlimited() || u.seconds_until(now) <= 0) && org_ok;
  if (ok) {
    if (!u.unlimited()) u.try_take(now);
    if (global) {
      --os.leased;
    } else if (!o.unlimited()) {
      o.try_take(now);
    }
    return true;
  }
  ++p.counters.rate_limited;
  if (s.org_counts != nullptr) ++s.org_counts->rate_limited;
  std::int64_t& last = s.org_state->last_rate_log_ns;
  if (last == 0 || now - last >= kRateLogIntervalNs) {
    last = now;
    SC_LOG(MOSQ_LOG_NOTICE,
           "shortcred: org %s is over its publish rate; dropping publishes (logged at most once "
           "per 10 s)",
           s.org.c_str());
  }
  return false;
}

// The will of a client whose DISCONNECT already fired (see Plugin::closing).
int check_will(Plugin& p, mosquitto_evt_acl_check& ev) {
  std::unique_ptr<Session> s = std::move(p.closing);
  const std::string_view topic = ev.topic != nullptr ? ev.topic : "";
  if (s->doomed && p.expiry_kick != ev.client) return deny(p.counters.acl_denied_publish, *s);
  const std::int64_t now = p.expiry_kick == ev.client ? s->expires_at_ms - 1 : wall_ms();
  if (!s->policy->check_publish(topic, ev.qos, ev.retain, now, kBrokerValidated).allowed) {
    return deny(p.counters.acl_denied_publish, *s);
  }
  // A will is a publish like any other: it takes a token from the buckets
  // (still there: they outlive the session, SessionTable::sweep_idle).
  if (!within_rate(p, *s)) return MOSQ_ERR_ACL_DENIED;
  return MOSQ_ERR_SUCCESS;
}

// A client of ours without a live session: a message Mosquitto is about to
// queue for its offline persistent session (offline_sessions.hpp), judged
// by the last credential's policy until it expires or is revoked. Only
// READ: an offline client publishes nothing, so anything else is denied.
// The record must name this context's own client id (a freed context's
// pointer may be reused); anything without one is not ours.
int check_offline(Plugin& p, const mosquitto_evt_acl_check& ev) {
  const char* cid = mosquitto_client_id(ev.client);
  OfflineSession* o = cid != nullptr ? p.offline.find(ev.client, cid) : nullptr;
  if (o == nullptr) return MOSQ_ERR_PLUGIN_DEFER;
  const auto denied = [&](std::uint64_t& counter) {
    ++counter;
    if (o->org_counts != nullptr) ++o->org_counts->acl_denials;
    return MOSQ_ERR_ACL_DENIED;
  };
  // (A will with an MQTT 5 Will Delay Interval comes here as a WRITE; it
  // was denied before these records answered, as every plugin deferred.)
  if (ev.access == MOSQ_ACL_WRITE) return denied(p.counters.acl_denied_publish);
  if (ev.access != MOSQ_ACL_READ) return denied(p.counters.acl_denied_subscribe);
  if (o->denied || !o->policy) return denied(p.counters.acl_denied_deliver);
  if (!p.tick_seen && !ticks_arrive(p)) return MOSQ_ERR_ACL_DENIED;
  const std::string_view topic = ev.topic != nullptr ? ev.topic : "";
  if (!o->policy->check_deliver(topic, wall_ms(), kBrokerValidated).allowed) {
    return denied(p.counters.acl_denied_deliver);
  }
  ++p.counters.acl_offline_queued;
  return MOSQ_ERR_SUCCESS;
}

}  // namespace

int on_acl_check(Plugin& p, mosquitto_evt_acl_check& ev) {
  if (p.closing) {
    if (p.closing->client == ev.client && ev.access == MOSQ_ACL_WRITE) return check_will(p, ev);
    p.closing.reset();
  }
  Session* s = p.sessions.find(ev.client);
  if (s == nullptr) return check_offline(p, ev);
  if (ev.access == MOSQ_ACL_UNSUBSCRIBE) return MOSQ_ERR_SUCCESS;
  // No tick, no expiry enforcement (per_listener_settings on 2.0): fail closed.
  if (!p.tick_seen && !ticks_arrive(p)) return MOSQ_ERR_ACL_DENIED;
  const std::string_view topic = ev.topic != nullptr ? ev.topic : "";

  switch (ev.access) {
    case MOSQ_ACL_WRITE: {
      // A will never gets here: DISCONNECT has moved its session to
      // p.closing (check_will above).
      if (s->doomed) return deny(p.counters.acl_denied_publish, *s);
      if (!s->policy->check_publish(topic, ev.qos, ev.retain, wall_ms(), kBrokerValidated)
               .allowed) {
        return deny(p.counters.acl_denied_publish, *s);
      }
      if (!within_rate(p, *s)) return MOSQ_ERR_ACL_DENIED;
      return MOSQ_ERR_SUCCESS;
    }
    case MOSQ_ACL_SUBSCRIBE:
      if (s->doomed || !s->policy->check_subscribe(topic, ev.qos, wall_ms()).allowed) {
        return deny(p.counters.acl_denied_subscribe, *s);
      }
      return MOSQ_ERR_SUCCESS;
    case MOSQ_ACL_READ:
      if (s->doomed || !s->policy->check_deliver(topic, wall_ms(), kBrokerValidated).allowed) {
        return deny(p.counters.acl_denied_deliver, *s);
      }
      return MOSQ_ERR_SUCCESS;
    default:
      // An access type we do not know: deny, never fall through to allow.
      return MOSQ_ERR_ACL_DENIED;
  }
}

}  // namespace shortcred::plugin
