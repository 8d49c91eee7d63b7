// The broker thread's side of presence and global publish leases
// (presence.hpp, quota_lease.hpp): what it posts to the background thread
// and how it applies the leases granted. Never waits on Redis.
#include "broker_id.hpp"
#include "shortcred/presence.hpp"
#include "state.hpp"

namespace shortcred::plugin {
namespace {

// Global-rate orgs are looked at this often from the tick (which runs in
// every pass of a busy broker's loop), not in every pass.
constexpr std::int64_t kLeaseScanNs = 20'000'000;

}  // namespace

const std::string& broker_id(Plugin& p) {
  if (p.broker_id.empty()) {
    p.broker_id = p.opts.broker_id.empty()
                      ? default_broker_id(p.metrics ? p.metrics->listen_fd() : -1)
                      : p.opts.broker_id;
    p.background->set_broker_id(p.broker_id);
    SC_LOG(MOSQ_LOG_INFO, "shortcred: broker id %s (presence %s)", p.broker_id.c_str(),
           presence_on(p) ? "on" : "off");
  }
  return p.broker_id;
}

bool presence_on(const Plugin& p) { return p.opts.presence_interval_s > 0; }

void presence_join(Plugin& p, const Session& s) {
  if (!presence_on(p)) return;
  PresenceRecord r{s.user, s.token_id, broker_id(p), s.connected_at_ms, s.proto};
  p.background->post_join(s.org, s.user, s.client_id, encode_presence(r));
}

void presence_leave(Plugin& p, const Session& s) {
  if (!presence_on(p)) return;
  const Session* holder = p.sessions.find_by_client_id(s.client_id);
  if (holder != nullptr && holder != &s) return;  // taken over on this broker: still present
  p.background->post_leave(s.org, s.user, s.client_id);
}

void request_leases(Plugin& p) {
  const std::int64_t now = mono_ns();
  if (now < p.next_lease_scan_ns) return;
  p.next_lease_scan_ns = now + kLeaseScanNs;
  p.sessions.for_each_org([&](OrgState& o) {
    if (!o.pub_rate_global || o.pub_rate <= 0 || o.lease_pending || o.sessions.empty()) return;
    const std::int64_t size = lease_size(o.pub_rate);
    if (o.leased * 2 > size) return;  // more than half a slice left
    const std::int64_t burst = o.pub_burst > 0 ? o.pub_burst : std::max<std::int64_t>(1, o.pub_rate);
    o.lease_pending = true;
    p.background->post_lease({o.org, o.pub_rate, burst, size - o.leased});
  });
}

void apply_leases(Plugin& p, const std::vector<LeaseGrant>& grants) {
  for (const LeaseGrant& g : grants) {
    OrgState* o = p.sessions.find_org(g.org);
    if (o == nullptr) continue;  // swept meanwhile: the slice is forgotten (counts as spent)
    o->leased += g.granted;
    o->lease_pending = false;
  }
}

}  // namespace shortcred::plugin
