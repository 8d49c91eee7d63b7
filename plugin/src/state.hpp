// The plugin instance shared by the broker-side files (auth, acl, tick,
// reload, plugin). One per `plugin` line; touched only on the broker thread,
// except `background` and `lookups`, whose own methods lock, and `wake`,
// whose wake() any thread may call.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "auth_throttle.hpp"
#include "background.hpp"
#include "breaker.hpp"
#include "clock.hpp"
#include "connect_refusal.hpp"
#include "broker_compat.hpp"
#include "connect_lookups.hpp"
#include "counters.hpp"
#include "shortcred/log_text.hpp"
#include "metrics_server.hpp"
#include "offline_sessions.hpp"
#include "options.hpp"
#include "org_counters.hpp"
#include "sessions.hpp"
#include "store.hpp"

// mosquitto_broker.h must precede mosquitto_plugin.h in 2.0.
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <mosquitto.h>

namespace shortcred::plugin {

enum class KickReason { expired, revoked, org_disabled, org_missing, client_kicked };

struct PendingKick {
  const void* client;
  KickReason reason;
};

// One authentication attempt, however it arrived, with everything it needs
// owned (a delayed attempt outlives the broker's buffers).
struct Claim {
  struct mosquitto* client = nullptr;
  std::string org, user, token_id, secret, client_id;
  std::string address;  // the client's, for the failed-auth throttle
  int protocol_version = 0;  // 3, 4 (3.1.1) or 5, read when the attempt began
  // Why it was refused, once it was (see refuse()).
  std::optional<Refusal> refused;
  // Refused because Redis did not know the token or it had expired.
  bool dead_token = false;
  // Method `shortcred`: a credential in the wrong format is refused, not
  // deferred (the client asked for us; nobody else handles the method).
  bool claimed = false;
  // MQTT 5 re-authentication (AUTH 0x19) of a live session of ours: on
  // success the session's credential is swapped in place, with no reconnect;
  // on any failure the session stays exactly as it was.
  bool in_place = false;
  Claim() = default;
  Claim(Claim&&) = default;
  Claim& operator=(Claim&&) = default;
  ~Claim();
};

struct Plugin {
  mosquitto_plugin_id_t* pid = nullptr;
  BrokerCompat compat;
  Options opts;
  std::vector<Rule> templates;
  std::uint64_t templates_generation = 1;
  LimitDefaults defaults;
  SessionTable sessions;
  OfflineSessions offline;  // for the SIGHUP re-check
  Counters counters;
  OrgCounterTable org_counts;  // per-org series of the metrics (org_counters.hpp)
  Breaker breaker;
  // The background thread's latest Redis exchange failed (BackgroundEvents::
  // redis_reachable): reported as an open breaker, see breaker_reported_open().
  bool background_redis_down = false;
  AuthThrottle throttle;
  std::int64_t last_throttle_log_ns = 0;
  std::unique_ptr<CredStore> store;
  std::unique_ptr<Background> background;
  // 2.1 only (delayed basic auth): CONNECT lookups in flight, by sequence
  // number, and their client ids. See delayed_auth.cpp.
  std::unique_ptr<ConnectLookups> lookups;
  BrokerWake wake;  // lets the lookup worker wake the broker loop
  // plugin_opt_metrics_listen: the endpoint's thread and when the tick next
  // hands it a snapshot (metrics.cpp).
  std::unique_ptr<MetricsServer> metrics;
  std::int64_t next_metrics_ms = 0;
  std::unordered_map<std::uint64_t, Claim> pending;
  std::unordered_set<std::string, StringHash, std::equal_to<>> pending_ids;
  std::uint64_t next_lookup_seq = 0;
  const void* connect_seen = nullptr;  // MOSQ_EVT_CONNECT during a completion

  std::vector<PendingKick> kicks;
  // Set while an expiry kick runs: Mosquitto then checks the will as a WRITE
  // of this client, which must be judged as of just before expiry.
  const void* expiry_kick = nullptr;
  // Mosquitto 2.0.11 fires MOSQ_EVT_DISCONNECT *before* it publishes the
  // will (context__disconnect), and checks the will as a WRITE of the client.
  // The session just disconnected is kept here for exactly that one check;
  // any other event clears it, so a reused `struct mosquitto *` can never
  // inherit it.
  std::unique_ptr<Session> closing;
  // Set by MOSQ_EVT_RELOAD, cleared by the next tick. Both 2.0 and 2.1 run
  // the SIGHUP re-check of every client (mosquitto_security_apply) right
  // after the reload event, and the tick comes before the loop next reads
  // the network (2.0: later in the same pass; 2.1: first in the next pass,
  // as the tick asks to run in every pass), so a BASIC_AUTH in this window
  // is a re-check, never a fresh CONNECT.
  bool rechecking = false;
  // Client-id owners are recorded in Redis (client_owner.hpp): on unless
  // client_id_owner_ttl_s is 0 or client_id_prefix names both %o and %u
  // (then every id already says whose it is).
  bool records_owners = false;
  // Whether MOSQ_EVT_TICK reaches the plugin (see ticks_arrive()).
  bool tick_seen = false;
  bool logged_no_tick = false;
  std::int64_t loaded_ns = 0;
  std::int64_t next_expiry_ms = 0;
  std::int64_t next_revalidate_ms = 0;
  std::int64_t next_sys_ms = 0;
  std::int64_t next_sweep_ms = 0;
  bool logged_redis_down = false;
  // Presence (presence_hooks.cpp): this broker's id, resolved once the
  // listeners are up; when global publish leases were last looked at.
  std::string broker_id;
  std::int64_t next_lease_scan_ns = 0;
};

// printf-style logging through Mosquitto (broker thread only).
#define SC_LOG(level, ...) mosquitto_log_printf((level), __VA_ARGS__)

// Event handlers; each is wrapped by plugin.cpp, which catches everything.
int on_basic_auth(Plugin& p, mosquitto_evt_basic_auth& ev);
int on_ext_auth_start(Plugin& p, mosquitto_evt_extended_auth& ev);
int on_acl_check(Plugin& p, mosquitto_evt_acl_check& ev);
int on_tick(Plugin& p, mosquitto_evt_tick& ev);
int on_reload(Plugin& p, mosquitto_evt_reload& ev);
// MOSQ_EVT_DISCONNECT, and 2.1's MOSQ_EVT_CLIENT_OFFLINE: the client is gone.
void on_client_gone(Plugin& p, const void* client);
// 2.1's MOSQ_EVT_CONNECT (registered only with delayed auth).
void on_connect(Plugin& p, const EvtConnect& ev);

// Whether expiry can be enforced: a tick has arrived (or the plugin loaded
// less than a second ago). Logs once when not.
bool ticks_arrive(Plugin& p);
// Delayed basic auth (2.1), delayed_auth.cpp.
bool can_delay(const Plugin& p, const Claim& c);
int delay_lookup(Plugin& p, Claim&& c);
void complete_delayed(Plugin& p);

// The breaker state $SYS and the metrics report: open while CONNECTs are
// refused without asking Redis (the CONNECT breaker) or while the background
// thread's latest Redis exchange failed — so an outage shows without any
// CONNECT. Only the first half refuses CONNECTs.
inline bool breaker_reported_open(const Plugin& p) {
  return p.breaker.open() || p.background_redis_down;
}
// Counts one refused CONNECT: its auth/failed/* counter and its org's slot
// (org_counters.hpp; "" or an org without a slot counts as org="other").
inline void count_auth_failure(Plugin& p, std::uint64_t& counter, std::string_view org) {
  ++counter;
  ++p.org_counts.slot_or_overflow(org).auth_failures;
}
// Hands the metrics server a fresh snapshot (metrics.cpp); at most once a
// second from the tick, and once at startup.
void publish_metrics(Plugin& p);

// Posts the owner record of `s`'s client id (after CONNECT, at disconnect).
void record_owner(Plugin& p, Session& s);
// Compiles (or recompiles) a session's policy against the current templates.
void compile_policy(Plugin& p, Session& s);
// Earliest expiry of the live sessions (for the tick's cheap "anything due?").
void note_expiry(Plugin& p, std::int64_t expires_at_ms);

// Presence and global publish leases (presence_hooks.cpp).
const std::string& broker_id(Plugin& p);
bool presence_on(const Plugin& p);
// A session of ours is live (joined, or its credential changed in place).
void presence_join(Plugin& p, const Session& s);
// A session left: removed from the org's sessions hash unless another live
// session of this broker holds its client id (a takeover).
void presence_leave(Plugin& p, const Session& s);
// At the tick: asks for a slice for each global-rate org running low.
void request_leases(Plugin& p);
void apply_leases(Plugin& p, const std::vector<LeaseGrant>& grants);

}  // namespace shortcred::plugin
