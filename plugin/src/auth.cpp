// MOSQ_EVT_BASIC_AUTH and MOSQ_EVT_EXT_AUTH_START (DESIGN.md "Broker
// plugin": CONNECT, and MQTT 5 enhanced authentication with method
// `shortcred`). Both run the one credential check, authenticate(), in the
// steps of auth_steps.hpp.
//
// Outcomes map to Mosquitto codes here and nowhere else:
//   not ours (NULL username, not <user>@<org>, password not tkn_…,
//             or another authentication method)              → DEFER
//   ours and refused (a Refusal, connect_refusal.hpp)         → answer():
//             the MQTT 5 reason where the broker passes it on
//             (2.1, plain CONNECT, v5 client), else AUTH
//   Redis could not be asked (down, timeout, breaker open)   → answer():
//             0x88 where reasons pass, else UNKNOWN (a close)
//   ours and valid                                           → SUCCESS
//   ours, lookup running off the broker thread (2.1)         → AUTH_DELAYED
// A CONNECT or AUTH naming method `shortcred` is ours whatever it carries:
// junk in it is refused, not deferred. Junk is rejected before any Redis
// round trip. Logs carry token ids, never passwords or secrets.
#include <openssl/crypto.h>

#include <string>
#include <string_view>

#include "auth_steps.hpp"
#include "shortcred/client_owner.hpp"
#include "shortcred/ids.hpp"
#include "shortcred/presence.hpp"
#include "shortcred/secrets.hpp"

namespace shortcred::plugin {

Claim::~Claim() { OPENSSL_cleanse(secret.data(), secret.size()); }

namespace {

void log_refusal(Plugin& p, std::uint64_t& counter, const char* why, std::string_view org,
                 std::string_view token, std::string_view client_id) {
  count_auth_failure(p, counter, org);
  SC_LOG(MOSQ_LOG_NOTICE, "shortcred: refused client '%s' (token %s): %s",
         loggable(client_id).c_str(), loggable(token).c_str(), why);
}

}  // namespace

int answer(const Plugin& p, Claim& c, Refusal r) {
  c.refused = r;
  // Only a plain CONNECT answered now, from an MQTT 5 client, on a broker
  // that passes reasons on (broker_compat.hpp). Extended auth and the SIGHUP
  // re-check know only "not authorised"; a delayed answer is one anyway.
  const bool reasons = p.compat.connack_reasons() && !c.claimed && !c.in_place &&
                       !p.rechecking && c.protocol_version == 5;
  return basic_auth_answer(r, reasons);
}

int refuse(Plugin& p, Claim& c, Refusal r, std::uint64_t& counter, const char* why) {
  log_refusal(p, counter, why, c.org, c.token_id.empty() ? "-" : c.token_id, c.client_id);
  return answer(p, c, r);
}

namespace {

constexpr std::string_view kAuthMethod = "shortcred";
constexpr std::int64_t kTickGraceNs = 1'000'000'000;

bool client_id_acceptable(std::string_view cid) {
  // Mosquitto 2.0 does not filter these for v5 plugins. `+` and `#` in a
  // client id have no legitimate use and would widen %c rules; `/` stays
  // allowed (client_id_prefix `%o/%u/` needs it) and makes %c rules match
  // nothing (core's substitution).
  return !cid.empty() && cid.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

// The session still holds a credential that was valid: not expired, not
// revoked. Shared by the SIGHUP re-checks below, whose refusals the broker
// turns into a disconnect, whatever the code.
int recheck_from_memory(Plugin& p, Session& s, std::int64_t now) {
  if (s.doomed || now >= s.expires_at_ms) {
    log_refusal(p, p.counters.auth_failed_expired, "credential expired or revoked", s.org,
                s.token_id, s.client_id);
    return MOSQ_ERR_AUTH;
  }
  if (s.templates_generation != p.templates_generation) compile_policy(p, s);
  ++p.counters.auth_from_memory;
  SC_LOG(MOSQ_LOG_DEBUG, "shortcred: client '%s' re-authenticated from memory (token %s)",
         loggable(s.client_id).c_str(), s.token_id.c_str());
  return MOSQ_ERR_SUCCESS;
}

// The in-place half of an MQTT 5 re-authentication: every check passed, so
// the live session takes the new credential — token id (and its index
// entry), secret, expiry, scope, compiled policy — and keeps its org and
// user state, rate buckets and client-id index entry: it is the same
// connection, so connection caps do not apply again.
int swap_credential(Plugin& p, Session& s, const Claim& c, const CredentialRecord& rec,
                    std::vector<Rule> scope_rules, const OrgRecord& org, std::int64_t now) {
  const std::string old_token = s.token_id;
  p.sessions.retoken(s, c.token_id);
  s.secret_sha256 = rec.secret_sha256;
  s.expires_at_ms = rec.expires_at_ms;
  s.has_scope = !rec.scope.empty();
  s.scope_rules = std::move(scope_rules);
  compile_policy(p, s);
  s.org_state->apply(org, p.defaults, mono_ns());
  note_expiry(p, s.expires_at_ms);
  presence_join(p, s);  // the record names the new token
  ++p.counters.auth_ok;
  SC_LOG(MOSQ_LOG_INFO,
         "shortcred: client '%s' re-authenticated: token %s replaces %s (org %s), expires in "
         "%lld s",
         loggable(s.client_id).c_str(), s.token_id.c_str(), old_token.c_str(), s.org.c_str(),
         static_cast<long long>((s.expires_at_ms - now) / 1000));
  return MOSQ_ERR_SUCCESS;
}

// Raw CONNECT/AUTH fields → Claim, or the answer when there is nothing to
// look up: not ours, malformed, or the session's own credential again.
int parse_claim(Plugin& p, const char* username, std::string_view password, Claim& c) {
  const char* cid_raw = mosquitto_client_id(c.client);
  c.client_id = cid_raw != nullptr ? cid_raw : "";
  const char* address = mosquitto_client_address(c.client);
  c.address = address != nullptr ? address : "";
  c.protocol_version = mosquitto_client_protocol_version(c.client);
  Username un;
  if (username == nullptr || parse_username(username, un) != Errc::ok) {
    if (!c.claimed) return MOSQ_ERR_PLUGIN_DEFER;
    return refuse(p, c, Refusal::bad_credential, p.counters.auth_failed_malformed,
                  "username is not <user>@<org>");
  }
  if (!password.starts_with(kTokenPrefix) && !c.claimed) return MOSQ_ERR_PLUGIN_DEFER;
  SecretParts parts;
  c.org = un.org;  // counted against its org even when the password is malformed
  c.user = un.user;
  if (parse_password(password, parts) != Errc::ok) {
    return refuse(p, c, Refusal::bad_credential, p.counters.auth_failed_malformed,
                  "malformed password");
  }
  c.token_id = parts.id;
  c.secret = parts.secret;
  return kProceed;
}

// Expiry and revocation are enforced at MOSQ_EVT_TICK. Mosquitto 2.0 never
// delivers it to a plugin under `per_listener_settings true`; that is told
// by behaviour: no tick within a second of loading means the plugin cannot
// disconnect anyone, so it admits no one (and the ACL check denies).
int require_ticks(Plugin& p, Claim& c) {
  if (ticks_arrive(p)) return kProceed;
  return refuse(p, c, Refusal::internal, p.counters.auth_failed_internal,
                "no tick event reaches the plugin, so expiry cannot be enforced");
}

// The credential as the throttle holds it: the key that was looked up.
std::string held_key(const Claim& c) { return c.org + '/' + c.token_id; }

// Failed-auth throttling (auth_throttle.hpp): refused from memory and
// counted, never a log line per attempt. A held token gets the answer its
// first refusal got; a throttled address "connection rate exceeded".
int throttle(Plugin& p, Claim& c) {
  switch (p.throttle.check(c.address, held_key(c), mono_ns())) {
    case AuthThrottle::Verdict::ask_redis: return kProceed;
    case AuthThrottle::Verdict::token_refused:
      ++p.counters.auth_throttled_token;
      return answer(p, c, Refusal::bad_credential);
    case AuthThrottle::Verdict::address_blocked:
      ++p.counters.auth_throttled_address;
      return answer(p, c, Refusal::rate_exceeded);
  }
  return kProceed;
}

// When an address starts being throttled; at most one line per 10 s.
void log_throttled_address(Plugin& p, const Claim& c) {
  const std::int64_t now = mono_ns();
  if (p.last_throttle_log_ns != 0 && now - p.last_throttle_log_ns < 10'000'000'000) return;
  p.last_throttle_log_ns = now;
  SC_LOG(MOSQ_LOG_NOTICE,
         "shortcred: client address %s refused from memory after repeated failed CONNECTs "
         "(credentials not refused before still go to Redis, one a second); see "
         "auth/throttled/* (logged at most once per 10 s)",
         loggable(c.address).c_str());
}

int authenticate(Plugin& p, const char* username, std::string_view password, Claim& c) {
  if (const int rc = parse_claim(p, username, password, c); rc != kProceed) return rc;
  if (const int rc = require_ticks(p, c); rc != kProceed) return rc;
  Session* existing = p.sessions.find(c.client);
  if (!c.in_place && existing != nullptr && existing->token_id == c.token_id &&
      existing->org == c.org && existing->user == c.user && existing->client_id == c.client_id) {
    // The SIGHUP re-check of a connected client: from memory. (An AUTH 0x19
    // presenting the session's own credential again is looked up: it may
    // have been revoked a moment ago.)
    if (!verify_secret(c.secret, existing->secret_sha256)) {
      return refuse(p, c, Refusal::bad_credential, p.counters.auth_failed_bad_secret, "wrong secret");
    }
    return recheck_from_memory(p, *existing, wall_ms());
  }
  if (c.in_place && (existing->org != c.org || existing->user != c.user)) {
    // The username cannot change on a live connection; this guards the
    // session table, not the protocol.
    return refuse(p, c, Refusal::not_authorised, p.counters.auth_failed_user_mismatch,
                  "re-authentication names another user");
  }
  if (c.in_place && existing->doomed) {
    // A session being disconnected (revoked, expired, taken over) is not
    // revived.
    return refuse(p, c, Refusal::not_authorised, p.counters.auth_failed_expired,
                  "re-authentication of a session that is being disconnected");
  }
  if (const int rc = check_client_id(p, c); rc != kProceed) return rc;
  if (!c.in_place) {
    if (const int rc = throttle(p, c); rc != kProceed) return rc;
  }
  if (!p.breaker.allow(wall_ms())) {
    count_auth_failure(p, p.counters.auth_failed_redis, c.org);
    return answer(p, c, Refusal::server_unavailable);
  }
  if (can_delay(p, c)) return delay_lookup(p, std::move(c));
  std::vector<CredStore::Lookup> one{lookup_of(p, c)};
  {
    const BrokerWake::Quiet quiet(p.wake);  // a wake-up must not cut this round trip short
    p.store->fetch_all(one);
  }
  const int rc = note_outcome(p, c, finish(p, c, one[0]));
  // This connection resumes or replaces the id's offline session, if any.
  if (rc == MOSQ_ERR_SUCCESS) p.offline.forget_id(c.client_id);
  return rc;
}

// Whether `ev` is the re-check of an offline session of ours, recorded when
// it left: the same context, client id, user and credential.
bool is_offline_session(Plugin& p, const mosquitto_evt_basic_auth& ev) {
  const OfflineSession* o = p.offline.find(ev.client);
  const char* cid = mosquitto_client_id(ev.client);
  Username un;
  if (o == nullptr || cid == nullptr || o->client_id != cid || ev.username == nullptr ||
      parse_username(ev.username, un) != Errc::ok || un.org != o->org || un.user != o->user) {
    return false;
  }
  if (o->ext_auth) return ev.password == nullptr;
  SecretParts parts;
  return ev.password != nullptr && parse_password(ev.password, parts) == Errc::ok &&
         parts.id == o->token_id && verify_secret(parts.secret, o->secret_sha256);
}

// The SIGHUP re-check (Plugin::rechecking). Mosquitto runs it for every
// client it holds, including offline persistent sessions, and disconnects
// each one that fails — which, for a session already offline, inserts it a
// second time into the session-expiry list (2.0.x): a use-after-free later.
// So an offline client of ours — recognised by the record it left
// (offline_sessions.hpp) — is never refused here: it is not on the network,
// and it authenticates afresh when it reconnects. Nor is a session created
// for it: no DISCONNECT would ever remove it. A connected client of ours has
// a session and is re-checked from memory; anything else is checked in full
// (never delayed: 2.1 treats AUTH_DELAYED here as a failure).
int recheck_on_reload(Plugin& p, const mosquitto_evt_basic_auth& ev) {
  Session* s = p.sessions.find(ev.client);
  if (s != nullptr && ev.password == nullptr && s->ext_auth) {
    // Connected with method `shortcred`: no password to compare.
    return recheck_from_memory(p, *s, wall_ms());
  }
  if (s == nullptr && is_offline_session(p, ev)) {
    ++p.counters.auth_offline_skipped;
    return MOSQ_ERR_SUCCESS;
  }
  // Anything else is checked in full: a connected client of ours is
  // re-checked from memory there; a CONNECT that arrived in this window is
  // a fresh one.
  if (ev.username == nullptr || ev.password == nullptr) return MOSQ_ERR_PLUGIN_DEFER;
  Claim c;
  c.client = ev.client;
  return authenticate(p, ev.username, ev.password, c);
}

// A credential's client-id binding names the client's own id: with
// client_id_prefix that is the part after the expanded prefix (the API
// refuses '/' in a binding, so `org/user/app-1` is bound as `app-1`), which
// with prefix mode assign is exactly the id the client sent. Without a
// prefix the binding is the whole id. Only ever that one reading: under a
// prefix without '/', a binding that spells the prefixed id does not also
// match the id itself.
bool binding_matches(const Plugin& p, const Claim& c, std::string_view binding) {
  const std::string prefix = expand_prefix(p.opts.client_id_prefix, c.org, c.user);
  return c.client_id.size() == prefix.size() + binding.size() &&
         std::string_view(c.client_id).starts_with(prefix) &&
         std::string_view(c.client_id).substr(prefix.size()) == binding;
}

// The credential and org records, checked in order; on success `rec`,
// `org` and `scope_rules` hold what the session needs.
int judge_records(Plugin& p, Claim& c, const Fields& cred_fields, const Fields& org_fields,
                  std::int64_t now, CredentialRecord& rec, OrgRecord& org,
                  std::vector<Rule>& scope_rules) {
  const auto why = [&](Refusal r, std::uint64_t& counter, const char* text) {
    return refuse(p, c, r, counter, text);
  };
  // A dead credential is refused once with a line; its retries are refused
  // from memory, counted, without one (auth_throttle.hpp).
  const bool held = p.opts.auth_fail_token_s > 0;
  if (cred_fields.empty()) {
    c.dead_token = true;
    return why(Refusal::bad_credential, p.counters.auth_failed_unknown_token,
               held ? "unknown, expired or revoked token (retries are refused from memory)"
                    : "unknown, expired or revoked token");
  }
  const auto parsed = credential_from_fields(cred_fields);
  if (!parsed) {
    return why(Refusal::internal, p.counters.auth_failed_internal,
               "credential record in Redis is malformed");
  }
  rec = *parsed;
  if (rec.user != c.user) {
    return why(Refusal::bad_credential, p.counters.auth_failed_user_mismatch,
               "username does not match the token");
  }
  if (!verify_secret(c.secret, rec.secret_sha256)) {
    return why(Refusal::bad_credential, p.counters.auth_failed_bad_secret, "wrong secret");
  }
  if (rec.expires_at_ms <= now) {
    c.dead_token = true;
    return why(Refusal::bad_credential, p.counters.auth_failed_expired,
               held ? "credential expired (retries are refused from memory)"
                    : "credential expired");
  }
  // An org whose hash was deleted no longer exists: fail closed (the token
  // service answers 404 for it too).
  if (org_fields.empty()) {
    return why(Refusal::not_authorised, p.counters.auth_failed_org_missing,
               "organisation does not exist");
  }
  org = org_from_fields(org_fields);
  if (org.disabled) {
    return why(Refusal::banned, p.counters.auth_failed_org_disabled, "organisation is disabled");
  }
  if (!rec.client_id.empty() && !binding_matches(p, c, rec.client_id)) {
    return why(Refusal::client_id, p.counters.auth_failed_client_id,
               "client id differs from the credential's binding");
  }
  if (!rec.scope.empty()) {
    std::vector<RuleError> errors;
    if (!parse_scope(rec.scope, scope_rules, errors)) {
      return why(Refusal::internal, p.counters.auth_failed_internal, "credential scope is invalid");
    }
  }
  return kProceed;
}

// The client id's recorded owner (client_owner.hpp): a session Mosquitto
// may still hold for this id — offline, or on another broker — belongs to
// another user, so this CONNECT must neither take it over, wipe it
// (clean start) nor resume it. Checked after the credential, so a wrong
// credential learns nothing about the id.
int check_owner(Plugin& p, Claim& c, const std::optional<std::string>& owner) {
  if (!owner) return kProceed;
  const auto o = parse_client_owner(*owner);
  if (o && o->org == c.org && o->user == c.user) return kProceed;
  return refuse(p, c, Refusal::client_id, p.counters.auth_failed_client_id,
                "client id belongs to another user's session (kept by the broker)");
}

// Redis could (not) be asked: breaker, counters, one log line per outage.
int lookup_outcome(Plugin& p, Claim& c, const CredStore::Lookup& l) {
  if (l.status == CredStore::Status::wrong_type) {
    // Redis answered; the data is broken for this credential or org alone.
    p.breaker.success();
    return refuse(p, c, Refusal::internal, p.counters.auth_failed_internal, l.error.c_str());
  }
  if (l.status != CredStore::Status::ok) {
    // The backoff runs from the failure, not from the start of this attempt:
    // an attempt lasts up to two timeouts, which may exceed the backoff.
    // A batch that failed as one round trip is one failure, not one per
    // CONNECT in it.
    if (!l.shared_failure) {
      p.breaker.failure(wall_ms());
      ++p.counters.redis_errors;
      if (p.breaker.open() && p.background) {
        p.background->post_probe(org_key(p.opts.key_prefix, c.org));
      }
    }
    count_auth_failure(p, p.counters.auth_failed_redis, c.org);
    if (!p.logged_redis_down) {
      SC_LOG(MOSQ_LOG_WARNING,
             "shortcred: Redis unavailable (%s); refusing new connections until it answers, "
             "live sessions keep their rights",
             l.error.c_str());
      p.logged_redis_down = true;
    }
    return answer(p, c, Refusal::server_unavailable);
  }
  p.breaker.success();
  if (p.logged_redis_down) {
    SC_LOG(MOSQ_LOG_NOTICE, "shortcred: Redis answers again");
    p.logged_redis_down = false;
  }
  return kProceed;
}

// Connection caps, then the new session. A same-user takeover of this
// client id drops the old session right after: it must not count. With
// presence, the caps count this broker's sessions (exact, from memory) plus
// the live ones of other brokers as the CONNECT round trip read them: a
// CONNECT on another broker admitted but not yet written (its background
// thread writes within milliseconds) is missed, so concurrent CONNECTs on
// different brokers may overshoot a cap by one per broker.
int admit(Plugin& p, Claim& c, const CredentialRecord& rec, const OrgRecord& org,
          std::vector<Rule> scope_rules, std::int64_t now, const CredStore::Presence& elsewhere) {
  // One tenant must not take over (and so kick) another tenant's session.
  // Decided here, after the credential, so that a wrong credential cannot
  // learn which client ids are in use (this refusal is "client identifier
  // not valid", a wrong credential's "bad user name or password").
  Session* holder = p.sessions.find_by_client_id(c.client_id);
  if (holder != nullptr && holder->client != c.client &&
      (holder->org != c.org || holder->user != c.user)) {
    return refuse(p, c, Refusal::client_id, p.counters.auth_failed_client_id,
                  "client id is in use by another user's session");
  }
  const bool replaces = holder != nullptr && holder->client != c.client;
  // A re-auth of this context with another credential replaces its session.
  p.sessions.erase(c.client);
  OrgState& os = p.sessions.org_state(c.org);
  os.apply(org, p.defaults, mono_ns());
  if (presence_on(p) && !elsewhere.counted) {
    ++p.counters.presence_errors;  // caps of this broker only, this once
  }
  const std::size_t org_live = os.sessions.size() - (replaces ? 1 : 0) +
                               static_cast<std::size_t>(elsewhere.org_elsewhere);
  std::size_t user_live = static_cast<std::size_t>(elsewhere.user_elsewhere);
  if (auto u = os.users.find(c.user); u != os.users.end()) user_live += u->second.live;
  if (replaces) --user_live;
  const bool org_full =
      os.max_connections > 0 && org_live >= static_cast<std::size_t>(os.max_connections);
  const bool user_full = os.user_max_connections > 0 &&
                         user_live >= static_cast<std::size_t>(os.user_max_connections);
  if (org_full || user_full) {
    if (os.sessions.empty()) p.sessions.drop_org_if_unused(c.org);
    return refuse(p, c, Refusal::busy, p.counters.auth_failed_connection_limit,
                  org_full ? "organisation connection limit reached"
                           : "user connection limit reached");
  }
  auto s = std::make_unique<Session>();
  s->client = c.client;
  s->org_counts = &p.org_counts.slot(c.org);
  s->ext_auth = c.claimed;
  s->org = c.org;
  s->user = c.user;
  s->token_id = c.token_id;
  s->client_id = c.client_id;
  s->secret_sha256 = rec.secret_sha256;
  s->expires_at_ms = rec.expires_at_ms;
  s->has_scope = !rec.scope.empty();
  s->scope_rules = std::move(scope_rules);
  s->connected_at_ms = now;
  s->proto = c.protocol_version;
  compile_policy(p, *s);
  Session& stored = p.sessions.insert(std::move(s));
  note_expiry(p, stored.expires_at_ms);
  record_owner(p, stored);
  presence_join(p, stored);
  ++p.counters.auth_ok;
  SC_LOG(MOSQ_LOG_INFO,
         "shortcred: client '%s' authenticated with token %s (org %s), expires in %lld s",
         loggable(stored.client_id).c_str(), stored.token_id.c_str(), stored.org.c_str(),
         static_cast<long long>((stored.expires_at_ms - now) / 1000));
  return MOSQ_ERR_SUCCESS;
}

}  // namespace

bool ticks_arrive(Plugin& p) {
  if (p.tick_seen) return true;
  if (mono_ns() - p.loaded_ns < kTickGraceNs) return true;  // start-up: the first tick is due
  if (!p.logged_no_tick) {
    SC_LOG(MOSQ_LOG_ERR,
           "shortcred: no tick event has reached the plugin since it loaded, so expiry and "
           "revocation could not disconnect anyone: refusing every credential of ours and "
           "denying every ACL check of our sessions. Mosquitto 2.0 does not deliver the tick "
           "event to plugins under 'per_listener_settings true': remove it (or set it false), "
           "or run Mosquitto 2.1.");
    p.logged_no_tick = true;
  }
  return false;
}

int note_outcome(Plugin& p, const Claim& c, int rc) {
  if (rc == MOSQ_ERR_SUCCESS) {
    p.throttle.succeeded(c.address);
  } else if (c.refused && *c.refused != Refusal::server_unavailable &&
             p.throttle.failed(c.address, held_key(c), c.dead_token, mono_ns())) {
    log_throttled_address(p, c);
  }
  return rc;
}

int check_client_id(Plugin& p, Claim& c) {
  if (!client_id_acceptable(c.client_id)) {
    return refuse(p, c, Refusal::client_id, p.counters.auth_failed_client_id,
                  "client id empty or contains + or #");
  }
  if (!p.opts.client_id_prefix.empty()) {
    const std::string prefix = expand_prefix(p.opts.client_id_prefix, c.org, c.user);
    if (!c.client_id.starts_with(prefix)) {
      if (p.opts.client_id_prefix_mode != PrefixMode::assign || c.in_place) {
        return refuse(p, c, Refusal::client_id, p.counters.auth_failed_client_id,
                      "client id lacks the required prefix");
      }
      // 2.1 (checked at start-up): the broker takes the prefixed id for
      // this client before it checks for an existing session.
      const std::string assigned = prefix + c.client_id;
      if (p.compat.set_clientid(c.client, assigned.c_str()) != MOSQ_ERR_SUCCESS) {
        return refuse(p, c, Refusal::client_id, p.counters.auth_failed_client_id,
                      "the broker refused the prefixed client id");
      }
      c.client_id = assigned;
    }
  }
  // (Another user's live session on this id is refused in admit(), once the
  // credential has been checked.)
  return kProceed;
}

CredStore::Lookup lookup_of(Plugin& p, const Claim& c) {
  CredStore::Lookup l;
  l.org = c.org;
  l.token_id = c.token_id;
  if (p.records_owners) l.client_id = c.client_id;
  if (presence_on(p)) {
    l.presence.broker_id = broker_id(p);
    l.presence.user = c.user;
    l.presence.stale_before_ms = presence_stale_before(wall_ms(), p.opts.presence_interval_s);
  }
  return l;
}

int finish(Plugin& p, Claim& c, const CredStore::Lookup& l) {
  if (const int rc = lookup_outcome(p, c, l); rc != kProceed) return rc;
  // Redis knows the org: from now on it has per-org metric counts.
  if (!l.org_fields.empty()) p.org_counts.slot(c.org);
  const std::int64_t now = wall_ms();
  CredentialRecord rec;
  OrgRecord org;
  std::vector<Rule> scope_rules;
  if (const int rc = judge_records(p, c, l.cred, l.org_fields, now, rec, org, scope_rules);
      rc != kProceed) {
    return rc;
  }
  if (const int rc = check_owner(p, c, l.owner); rc != kProceed) return rc;
  if (c.in_place) {
    Session* s = p.sessions.find(c.client);
    if (s == nullptr) {
      return refuse(p, c, Refusal::not_authorised, p.counters.auth_failed_expired,
                    "session ended during re-authentication");
    }
    return swap_credential(p, *s, c, rec, std::move(scope_rules), org, now);
  }
  return admit(p, c, rec, org, std::move(scope_rules), now, l.presence);
}

void record_owner(Plugin& p, Session& s) {
  if (!p.records_owners) return;
  p.background->post_owner(client_owner_key(p.opts.key_prefix, s.client_id),
                           encode_client_owner(s.org, s.user), p.opts.client_id_owner_ttl_s);
  s.owner_written_ms = wall_ms();
}

void compile_policy(Plugin& p, Session& s) {
  const Identity id{s.org, s.user, s.client_id};
  s.policy.emplace(p.templates, s.has_scope ? &s.scope_rules : nullptr, id, s.expires_at_ms);
  s.templates_generation = p.templates_generation;
}

void note_expiry(Plugin& p, std::int64_t expires_at_ms) {
  if (p.next_expiry_ms == 0 || expires_at_ms < p.next_expiry_ms) p.next_expiry_ms = expires_at_ms;
}

int on_basic_auth(Plugin& p, mosquitto_evt_basic_auth& ev) {
  p.closing.reset();
  if (p.rechecking) return recheck_on_reload(p, ev);
  p.offline.forget_client(ev.client);  // a fresh CONNECT: the pointer is a new context's
  if (ev.username == nullptr || ev.password == nullptr) return MOSQ_ERR_PLUGIN_DEFER;
  Claim c;
  c.client = ev.client;
  return authenticate(p, ev.username, ev.password, c);
}

// Mosquitto 2.0.11 calls this for a CONNECT carrying an Authentication Method
// and for an AUTH packet with reason 0x19 (re-authenticate). Its v5 event has
// no `reauth` field (mosquitto_security_auth_start() receives the flag but
// does not pass it on; only v4 plugins see it), so a re-authentication is
// recognised by the live session this context already has: a CONNECT always
// arrives on a fresh context, which has none. The method is single-step: the
// password is the whole Authentication Data, nothing is sent back.
int on_ext_auth_start(Plugin& p, mosquitto_evt_extended_auth& ev) {
  p.closing.reset();
  if (ev.auth_method == nullptr || std::string_view(ev.auth_method) != kAuthMethod) {
    return MOSQ_ERR_PLUGIN_DEFER;
  }
  const std::string_view data =
      ev.data_in != nullptr
          ? std::string_view(static_cast<const char*>(ev.data_in), ev.data_in_len)
          : std::string_view();
  Claim c;
  c.client = ev.client;
  c.claimed = true;
  c.in_place = p.sessions.find(ev.client) != nullptr;
  if (!c.in_place) p.offline.forget_client(ev.client);
  return authenticate(p, mosquitto_client_username(ev.client), data, c);
}

}  // namespace shortcred::plugin
