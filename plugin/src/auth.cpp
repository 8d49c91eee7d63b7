// MOSQ_EVT_BASIC_AUTH and MOSQ_EVT_EXT_AUTH_START (DESIGN.md "Broker
// plugin": CONNECT, and MQTT 5 enhanced authentication with method
// `shortcred`). Both run the one credential check, authenticate().
//
// Outcomes map to Mosquitto codes here and nowhere else:
//   not ours (NULL username, not <user>@<org>, password not tkn_…,
//             or another authentication method)              → DEFER
//   ours and wrong in any way                                → AUTH
//   Redis could not be asked (down, timeout, breaker open)   → UNKNOWN
//   ours and valid                                           → SUCCESS
// A CONNECT or AUTH naming method `shortcred` is ours whatever it carries:
// junk in it is refused (AUTH), not deferred. Junk is rejected before any
// Redis round trip. Logs carry token ids, never passwords or secrets.
#include <string>
#include <string_view>

#include "shortcred/ids.hpp"
#include "shortcred/secrets.hpp"
#include "state.hpp"

namespace shortcred::plugin {
namespace {

int refuse(Plugin&, std::uint64_t& counter, const char* why, std::string_view token,
           std::string_view client_id) {
  ++counter;
  SC_LOG(MOSQ_LOG_NOTICE, "shortcred: refused client '%s' (token %s): %s",
         loggable(client_id).c_str(), loggable(token).c_str(), why);
  return MOSQ_ERR_AUTH;
}

bool client_id_acceptable(std::string_view cid) {
  // Mosquitto 2.0 does not filter these for v5 plugins. `+` and `#` in a
  // client id have no legitimate use and would widen %c rules; `/` stays
  // allowed (client_id_prefix `%o/%u/` needs it) and makes %c rules match
  // nothing (core's substitution).
  return !cid.empty() && cid.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

constexpr std::string_view kAuthMethod = "shortcred";

// One authentication attempt, however it arrived.
struct Attempt {
  struct mosquitto* client = nullptr;
  const char* username = nullptr;  // may be NULL
  std::string_view password;
  // Method `shortcred`: a credential in the wrong format is refused, not
  // deferred (the client asked for us; nobody else handles the method).
  bool claimed = false;
  // MQTT 5 re-authentication (AUTH 0x19) of a live session of ours: on
  // success the session's credential is swapped in place, with no reconnect;
  // on any failure the session stays exactly as it was.
  bool in_place = false;
};

// The session still holds a credential that was valid: not expired, not
// revoked. Shared by the SIGHUP re-checks below.
int recheck_from_memory(Plugin& p, Session& s, std::int64_t now) {
  if (s.doomed || now >= s.expires_at_ms) {
    return refuse(p, p.counters.auth_failed_expired, "credential expired or revoked", s.token_id,
                  s.client_id);
  }
  if (s.templates_generation != p.templates_generation) compile_policy(p, s);
  ++p.counters.auth_from_memory;
  SC_LOG(MOSQ_LOG_DEBUG, "shortcred: client '%s' re-authenticated from memory (token %s)",
         loggable(s.client_id).c_str(), s.token_id.c_str());
  return MOSQ_ERR_SUCCESS;
}

// SIGHUP makes Mosquitto re-run BASIC_AUTH for every client: a session that
// already holds this very credential is re-checked from memory. So is an
// AUTH 0x19 that presents the session's own credential again.
int reauth_from_memory(Plugin& p, Session& s, std::string_view secret, std::int64_t now) {
  if (!verify_secret(secret, s.secret_sha256)) {
    return refuse(p, p.counters.auth_failed_bad_secret, "wrong secret", s.token_id, s.client_id);
  }
  return recheck_from_memory(p, s, now);
}

// The in-place half of an MQTT 5 re-authentication: every check passed, so
// the live session takes the new credential — token id (and its index
// entry), secret, expiry, scope, compiled policy — and keeps its org and
// user state, rate buckets and client-id index entry: it is the same
// connection, so connection caps do not apply again.
int swap_credential(Plugin& p, Session& s, std::string_view token_id, const CredentialRecord& rec,
                    std::vector<Rule> scope_rules, const OrgRecord& org, std::int64_t now) {
  const std::string old_token = s.token_id;
  p.sessions.retoken(s, std::string(token_id));
  s.secret_sha256 = rec.secret_sha256;
  s.expires_at_ms = rec.expires_at_ms;
  s.has_scope = !rec.scope.empty();
  s.scope_rules = std::move(scope_rules);
  compile_policy(p, s);
  s.org_state->apply(org, p.defaults, mono_ns());
  note_expiry(p, s.expires_at_ms);
  ++p.counters.auth_ok;
  SC_LOG(MOSQ_LOG_INFO,
         "shortcred: client '%s' re-authenticated: token %s replaces %s (org %s), expires in "
         "%lld s",
         loggable(s.client_id).c_str(), s.token_id.c_str(), old_token.c_str(), s.org.c_str(),
         static_cast<long long>((s.expires_at_ms - now) / 1000));
  return MOSQ_ERR_SUCCESS;
}

int authenticate(Plugin& p, const Attempt& a);

// The SIGHUP re-check (Plugin::rechecking). Mosquitto runs it for every
// client it holds, including offline persistent sessions, and disconnects
// each one that fails — which, for a session already offline, inserts it a
// second time into the session-expiry list (2.0.x): a use-after-free later.
// So an offline client of ours is never refused here: it has no session of
// ours (DISCONNECT dropped it), it is not on the network, and it
// authenticates afresh when it reconnects. Nor is a session created for it:
// no DISCONNECT would ever remove it. A connected client of ours always has
// a session and is re-checked from memory.
int recheck_on_reload(Plugin& p, const mosquitto_evt_basic_auth& ev) {
  Session* s = p.sessions.find(ev.client);
  if (s != nullptr && ev.password == nullptr && s->ext_auth) {
    // Connected with method `shortcred`: no password to compare.
    return recheck_from_memory(p, *s, wall_ms());
  }
  Username un;
  const bool ours = ev.username != nullptr && parse_username(ev.username, un) == Errc::ok &&
                    (ev.password == nullptr || std::string_view(ev.password).starts_with(kTokenPrefix));
  if (s == nullptr && ours) {
    ++p.counters.auth_offline_skipped;
    return MOSQ_ERR_SUCCESS;
  }
  if (ev.username == nullptr || ev.password == nullptr) return MOSQ_ERR_PLUGIN_DEFER;
  return authenticate(p, {ev.client, ev.username, ev.password, false, false});
}

}  // namespace

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
  if (ev.username == nullptr || ev.password == nullptr) return MOSQ_ERR_PLUGIN_DEFER;
  return authenticate(p, {ev.client, ev.username, ev.password, false, false});
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
  const bool live = p.sessions.find(ev.client) != nullptr;
  return authenticate(p, {ev.client, mosquitto_client_username(ev.client), data, true, live});
}

namespace {

int authenticate(Plugin& p, const Attempt& a) {
  const char* cid_raw = mosquitto_client_id(a.client);
  const std::string_view cid = cid_raw != nullptr ? cid_raw : "";
  Username un;
  if (a.username == nullptr || parse_username(a.username, un) != Errc::ok) {
    if (!a.claimed) return MOSQ_ERR_PLUGIN_DEFER;
    return refuse(p, p.counters.auth_failed_malformed, "username is not <user>@<org>", "-", cid);
  }
  const std::string_view password = a.password;
  if (!password.starts_with(kTokenPrefix) && !a.claimed) return MOSQ_ERR_PLUGIN_DEFER;

  SecretParts parts;
  if (parse_password(password, parts) != Errc::ok) {
    return refuse(p, p.counters.auth_failed_malformed, "malformed password", "-", cid);
  }
  const std::int64_t now = wall_ms();

  Session* existing = p.sessions.find(a.client);
  if (existing != nullptr && existing->token_id == parts.id && existing->org == un.org &&
      existing->user == un.user && existing->client_id == cid) {
    return reauth_from_memory(p, *existing, parts.secret, now);
  }
  if (a.in_place) {
    // The username cannot change on a live connection; this guards the
    // session table, not the protocol. A session being disconnected (revoked,
    // expired, taken over) is not revived.
    if (existing->org != un.org || existing->user != un.user) {
      return refuse(p, p.counters.auth_failed_user_mismatch,
                    "re-authentication names another user", parts.id, cid);
    }
    if (existing->doomed) {
      return refuse(p, p.counters.auth_failed_expired,
                    "re-authentication of a session that is being disconnected", parts.id, cid);
    }
  }

  if (!client_id_acceptable(cid)) {
    return refuse(p, p.counters.auth_failed_client_id, "client id empty or contains + or #",
                  parts.id, cid);
  }
  if (!p.opts.client_id_prefix.empty() &&
      !cid.starts_with(expand_prefix(p.opts.client_id_prefix, un.org, un.user))) {
    return refuse(p, p.counters.auth_failed_client_id, "client id lacks the required prefix",
                  parts.id, cid);
  }
  // One tenant must not take over (and so kick) another tenant's session.
  Session* holder = p.sessions.find_by_client_id(cid);
  if (holder != nullptr && holder->client != a.client &&
      (holder->org != un.org || holder->user != un.user)) {
    return refuse(p, p.counters.auth_failed_client_id,
                  "client id is in use by another user's session", parts.id, cid);
  }

  if (!p.breaker.allow(now)) {
    ++p.counters.auth_failed_redis;
    return MOSQ_ERR_UNKNOWN;
  }
  Fields cred_fields, org_fields;
  std::string err;
  if (p.store->fetch(un.org, parts.id, cred_fields, org_fields, err) !=
      CredStore::Status::ok) {
    // The backoff runs from the failure, not from the start of this attempt:
    // an attempt lasts up to two timeouts, which may exceed the backoff.
    p.breaker.failure(wall_ms());
    ++p.counters.redis_errors;
    ++p.counters.auth_failed_redis;
    if (!p.logged_redis_down) {
      SC_LOG(MOSQ_LOG_WARNING,
             "shortcred: Redis unavailable (%s); refusing new connections until it answers, "
             "live sessions keep their rights",
             err.c_str());
      p.logged_redis_down = true;
    }
    return MOSQ_ERR_UNKNOWN;
  }
  p.breaker.success();
  if (p.logged_redis_down) {
    SC_LOG(MOSQ_LOG_NOTICE, "shortcred: Redis answers again");
    p.logged_redis_down = false;
  }

  if (cred_fields.empty()) {
    return refuse(p, p.counters.auth_failed_unknown_token, "unknown, expired or revoked token",
                  parts.id, cid);
  }
  const auto rec = credential_from_fields(cred_fields);
  if (!rec) {
    return refuse(p, p.counters.auth_failed_internal, "credential record in Redis is malformed",
                  parts.id, cid);
  }
  if (rec->user != un.user) {
    return refuse(p, p.counters.auth_failed_user_mismatch, "username does not match the token",
                  parts.id, cid);
  }
  if (!verify_secret(parts.secret, rec->secret_sha256)) {
    return refuse(p, p.counters.auth_failed_bad_secret, "wrong secret", parts.id, cid);
  }
  if (rec->expires_at_ms <= now) {
    return refuse(p, p.counters.auth_failed_expired, "credential expired", parts.id, cid);
  }
  const OrgRecord org = org_from_fields(org_fields);
  if (org.disabled) {
    return refuse(p, p.counters.auth_failed_org_disabled, "organisation is disabled", parts.id,
                  cid);
  }
  if (!rec->client_id.empty() && rec->client_id != cid) {
    return refuse(p, p.counters.auth_failed_client_id,
                  "client id differs from the credential's binding", parts.id, cid);
  }
  std::vector<Rule> scope_rules;
  if (!rec->scope.empty()) {
    std::vector<RuleError> errors;
    if (!parse_scope(rec->scope, scope_rules, errors)) {
      return refuse(p, p.counters.auth_failed_internal, "credential scope is invalid", parts.id,
                    cid);
    }
  }

  if (a.in_place) {
    return swap_credential(p, *existing, parts.id, *rec, std::move(scope_rules), org, now);
  }

  // A same-user takeover of this client id drops the old session right after:
  // it must not count against the caps. Decided before the erase below, which
  // frees `holder` when it is this context's own session.
  const bool replaces = holder != nullptr && holder->client != a.client;
  holder = nullptr;
  // A re-auth of this context with another credential replaces its session.
  if (existing != nullptr) p.sessions.erase(a.client);
  existing = nullptr;
  OrgState& os = p.sessions.org_state(un.org);
  os.apply(org, p.defaults, mono_ns());
  const std::size_t org_live = os.sessions.size() - (replaces ? 1 : 0);
  std::size_t user_live = 0;
  if (auto u = os.users.find(un.user); u != os.users.end()) user_live = u->second.live;
  if (replaces) --user_live;
  const bool org_full = os.max_connections > 0 &&
                        org_live >= static_cast<std::size_t>(os.max_connections);
  const bool user_full = os.user_max_connections > 0 &&
                         user_live >= static_cast<std::size_t>(os.user_max_connections);
  if (org_full || user_full) {
    if (os.sessions.empty()) p.sessions.drop_org_if_unused(un.org);
    return refuse(p, p.counters.auth_failed_connection_limit,
                  org_full ? "organisation connection limit reached"
                           : "user connection limit reached",
                  parts.id, cid);
  }

  auto s = std::make_unique<Session>();
  s->client = a.client;
  s->ext_auth = a.claimed;
  s->org = std::string(un.org);
  s->user = std::string(un.user);
  s->token_id = std::string(parts.id);
  s->client_id = std::string(cid);
  s->secret_sha256 = rec->secret_sha256;
  s->expires_at_ms = rec->expires_at_ms;
  s->has_scope = !rec->scope.empty();
  s->scope_rules = std::move(scope_rules);
  compile_policy(p, *s);
  Session& stored = p.sessions.insert(std::move(s));
  note_expiry(p, stored.expires_at_ms);
  ++p.counters.auth_ok;
  SC_LOG(MOSQ_LOG_INFO, "shortcred: client '%s' authenticated with token %s (org %s), expires in %lld s",
         loggable(stored.client_id).c_str(), stored.token_id.c_str(), stored.org.c_str(),
         static_cast<long long>((stored.expires_at_ms - now) / 1000));
  return MOSQ_ERR_SUCCESS;
}

}  // namespace
}  // namespace shortcred::plugin
