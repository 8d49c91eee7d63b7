// What a scrape of the metrics endpoint shows: a copy the broker thread
// takes at the tick (at most once a second) and hands to the metrics
// server's thread, which renders it. Nothing in it points into the plugin's
// live state, so the server thread never touches a counter or a session.
//
// Extending it: a counter added to SHORTCRED_COUNTERS (counters.hpp) is
// exported by the naming rule of render_metrics() with no change here; any
// other series (a gauge, a counter kept elsewhere) is one more entry in
// `series`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "counters.hpp"
#include "org_counters.hpp"

namespace shortcred::plugin {

// One sample of a series outside Counters. Consecutive samples of one name
// form one family (one HELP/TYPE header). Names and texts are constants.
struct SeriesSample {
  std::string_view name;
  std::string_view type;  // "counter" or "gauge"
  std::string_view help;
  std::string_view label_name, label_value;  // empty: no label
  std::uint64_t value = 0;
};

// A per-org series with bounded cardinality: the top orgs, the rest summed.
struct OrgSeries {
  std::vector<std::pair<std::string, std::uint64_t>> top;  // highest first
  std::uint64_t other = 0;
};

struct MetricsSnapshot {
  Counters counters;
  std::vector<SeriesSample> series;
  OrgSeries org_auth_failures, org_acl_denials, org_rate_limited;
  std::string_view mosquitto;  // BrokerCompat::name()
};

// Fills the snapshot's per-org series from `table`: for each column the
// `top` orgs with the highest counts, everything else (the table's overflow
// slot included) as `other`.
void split_org_counts(const OrgCounterTable& table, std::size_t top, MetricsSnapshot& out);

// The Prometheus text (format 0.0.4) of a snapshot. Counters are named by
// their $SYS path: `auth/failed/<r>` → shortcred_broker_auth_failures_total
// {reason="<r>"}, `auth/throttled/<by>` → shortcred_broker_auth_throttled_total
// {by=…}, `acl/denied/<a>` → shortcred_broker_acl_denials_total{access=…},
// `kicked/<r>` → shortcred_broker_kicks_total{reason=…}; any other `a/b` →
// shortcred_broker_a_b_total.
std::string render_metrics(const MetricsSnapshot& s);

}  // namespace shortcred::plugin
