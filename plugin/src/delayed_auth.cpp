// Mosquitto 2.1's delayed basic auth: the CONNECT lookup runs on the
// ConnectLookups thread and the answer is given at the next tick with
// mosquitto_complete_basic_auth(), so the broker thread never waits on
// Redis. Outcomes and counters are those of the synchronous path (the same
// finish()), with one difference Mosquitto imposes: every refusal decided
// here is "not authorised" (0x87 / 5), the only one
// mosquitto_complete_basic_auth() sends — also a lookup that failed because
// Redis went away, which the synchronous path answers 0x88 or with a close.
// Refusals decided before the lookup (malformed, client id, throttled,
// breaker open) are answered at once, with their own reason.
//
// The pending context can vanish while its lookup runs, and 2.1 tells no
// plugin when (context__disconnect returns early for a delayed-auth
// context). So the `struct mosquitto *` of a pending attempt is never
// dereferenced at completion; instead:
//  - mosquitto_complete_basic_auth() takes the client id and does nothing
//    for an id that is no longer waiting;
//  - a success inserts the session first (the broker may check ACLs while
//    it completes), and keeps it only if MOSQ_EVT_CONNECT fired for that
//    very context during the call;
//  - a pointer that already holds a session of ours belongs to another,
//    live client (the waiting one was freed and its memory reused): the
//    attempt is abandoned.
// Mosquitto refuses a second CONNECT whose id is waiting; an attempt whose
// id we still have pending (its context gone, or a prefixed id equal to a
// waiting one) takes the synchronous path.
#include "auth_steps.hpp"

namespace shortcred::plugin {

bool can_delay(const Plugin& p, const Claim& c) {
  return p.lookups != nullptr && !c.claimed && !c.in_place && !p.rechecking &&
         p.pending_ids.find(c.client_id) == p.pending_ids.end();
}

int delay_lookup(Plugin& p, Claim&& c) {
  const std::uint64_t seq = ++p.next_lookup_seq;
  p.lookups->post(seq, lookup_of(p, c));
  p.pending_ids.insert(c.client_id);
  p.pending.emplace(seq, std::move(c));
  ++p.counters.auth_delayed;
  return kErrAuthDelayed;
}

namespace {

void complete(Plugin& p, Claim& c, const LookupResult& r) {
  if (p.sessions.find(c.client) != nullptr) {
    // Freed and reused (see the top). Should the id still be waiting, say
    // no; the breaker still learns how Redis answered.
    if (r.lookup.status == CredStore::Status::unavailable) {
      if (!r.lookup.shared_failure) p.breaker.failure(wall_ms());
    } else {
      p.breaker.success();
    }
    p.compat.complete_basic_auth(c.client_id.c_str(), MOSQ_ERR_AUTH);
    return;
  }
  // A same-user session holding this client id (a takeover in the making):
  // the new session takes its index entry, which must return to it if the
  // new one is abandoned.
  const Session* holder = p.sessions.find_by_client_id(c.client_id);
  const void* holder_client = holder != nullptr ? holder->client : nullptr;
  const int rc = note_outcome(p, c, finish(p, c, r.lookup));
  if (rc != MOSQ_ERR_SUCCESS) {
    p.compat.complete_basic_auth(c.client_id.c_str(), rc);
    return;
  }
  p.connect_seen = nullptr;
  p.compat.complete_basic_auth(c.client_id.c_str(), MOSQ_ERR_SUCCESS);
  if (p.connect_seen == c.client) {
    p.offline.forget_id(c.client_id);  // this connection resumed or replaced it
  } else {
    // Not waiting any more (gone while we looked it up), or its connect
    // failed inside the broker: the session would never see a DISCONNECT.
    if (std::unique_ptr<Session> s = p.sessions.detach(c.client)) presence_leave(p, *s);
    --p.counters.auth_ok;
    ++p.counters.auth_abandoned;
    Session* again = holder_client != nullptr ? p.sessions.find(holder_client) : nullptr;
    if (again != nullptr && again->client_id == c.client_id) p.sessions.index_client_id(*again);
  }
  p.connect_seen = nullptr;
}

}  // namespace

void complete_delayed(Plugin& p) {
  for (LookupResult& r : p.lookups->take()) {
    auto it = p.pending.find(r.seq);
    if (it == p.pending.end()) continue;
    Claim c = std::move(it->second);
    p.pending.erase(it);
    p.pending_ids.erase(c.client_id);
    complete(p, c, r);
  }
}

void on_connect(Plugin& p, const EvtConnect& ev) { p.connect_seen = ev.client; }

}  // namespace shortcred::plugin
