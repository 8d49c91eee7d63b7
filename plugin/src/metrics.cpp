// The broker thread's half of the metrics endpoint: copying what $SYS
// publishes into a MetricsSnapshot for the server thread (metrics_server.hpp).
#include "state.hpp"

namespace shortcred::plugin {

void publish_metrics(Plugin& p) {
  auto s = std::make_shared<MetricsSnapshot>();
  s->counters = p.counters;
  s->mosquitto = p.compat.name();
  const auto gauge = [&](std::string_view name, std::string_view help, std::uint64_t v,
                         std::string_view label = {}, std::string_view label_value = {}) {
    s->series.push_back({name, "gauge", help, label, label_value, v});
  };
  gauge("shortcred_broker_sessions_live", "Live sessions of shortcred clients ($SYS sessions/live).",
        p.sessions.size());
  gauge("shortcred_broker_sessions_offline_known",
        "Offline persistent sessions remembered for the SIGHUP re-check.", p.offline.size());
  s->series.push_back({"shortcred_broker_sessions_offline_evicted_total", "counter",
                       "Offline session records forgotten beyond the 200 000 kept.", {}, {},
                       p.offline.evictions()});
  gauge("shortcred_broker_breaker_open",
        "1 while the CONNECT breaker is open or the background thread's latest Redis exchange "
        "failed ($SYS breaker/state).",
        breaker_reported_open(p) ? 1 : 0);
  constexpr std::string_view kUpHelp =
      "Whether Redis answered, as each connection last saw it: connect = the CONNECT breaker is "
      "closed, background = the background thread's latest exchange succeeded.";
  gauge("shortcred_broker_redis_up", kUpHelp, p.breaker.open() ? 0 : 1, "connection", "connect");
  gauge("shortcred_broker_redis_up", kUpHelp, p.background_redis_down ? 0 : 1, "connection",
        "background");
  gauge("shortcred_broker_orgs_tracked",
        "Orgs with per-org counters of their own (at most 10000; the rest count as other).",
        p.org_counts.size());
  split_org_counts(p.org_counts, static_cast<std::size_t>(p.opts.metrics_top_orgs), *s);
  p.metrics->publish(std::move(s));
}

}  // namespace shortcred::plugin
