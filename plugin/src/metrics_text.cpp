#include <algorithm>

#include "metrics_snapshot.hpp"
#include "shortcred/prometheus_text.hpp"
#include "shortcred/top_n.hpp"

#ifndef SHORTCRED_VERSION
#error "SHORTCRED_VERSION (the CMake project version) must be defined"
#endif

namespace shortcred::plugin {
namespace {

constexpr std::string_view kPrefix = "shortcred_broker_";

// $SYS counters whose last path level becomes a label of one family.
struct LabelledFamily {
  std::string_view path_prefix, metric, label, help;
};
constexpr LabelledFamily kFamilies[] = {
    {"auth/failed/", "shortcred_broker_auth_failures_total", "reason",
     "CONNECTs (and re-authentications) refused, by reason ($SYS auth/failed/<reason>)."},
    {"auth/throttled/", "shortcred_broker_auth_throttled_total", "by",
     "CONNECTs refused from memory by the failed-auth throttle, by address or token."},
    {"acl/denied/", "shortcred_broker_acl_denials_total", "access",
     "ACL checks denied, by access (publish, subscribe, deliver)."},
    {"kicked/", "shortcred_broker_kicks_total", "reason",
     "Clients disconnected by the plugin, by reason."},
};

struct PlainHelp {
  std::string_view path, help;
};
constexpr PlainHelp kPlainHelp[] = {
    {"auth/ok", "CONNECTs and MQTT 5 re-authentications accepted after a Redis lookup."},
    {"auth/from_memory", "SIGHUP re-checks of connected clients answered from memory."},
    {"auth/offline_skipped", "Offline persistent sessions a SIGHUP re-check left alone."},
    {"auth/delayed", "CONNECT lookups run off the broker thread (Mosquitto 2.1 delayed auth)."},
    {"auth/abandoned", "Delayed CONNECTs whose client left before the answer."},
    {"acl/offline_queued",
     "Messages queued for offline persistent sessions of ours (allowed by the last credential)."},
    {"rate_limited", "Publishes dropped by the per-org or per-user publish rate."},
    {"redis/errors", "Failed Redis connects and commands (CONNECT path and background thread)."},
};

const LabelledFamily* family_of(std::string_view path) {
  for (const LabelledFamily& f : kFamilies) {
    if (path.starts_with(f.path_prefix)) return &f;
  }
  return nullptr;
}

void render_families(const Counters& c, PrometheusText& t) {
  const auto items = c.items();
  for (const LabelledFamily& f : kFamilies) {
    t.family(f.metric, "counter", f.help);
    for (const auto& [path, value] : items) {
      if (path.starts_with(f.path_prefix)) {
        t.sample(f.metric, {{f.label, path.substr(f.path_prefix.size())}}, value);
      }
    }
  }
  for (const auto& [path, value] : items) {
    if (family_of(path) != nullptr) continue;
    std::string name(kPrefix);
    name += path;
    std::replace(name.begin(), name.end(), '/', '_');
    name += "_total";
    std::string help = "The $SYS/broker/shortcred/" + std::string(path) + " counter.";
    for (const PlainHelp& h : kPlainHelp) {
      if (h.path == path) help = h.help;
    }
    t.family(name, "counter", help);
    t.sample(name, {}, value);
  }
}

void render_series(const std::vector<SeriesSample>& series, PrometheusText& t) {
  std::string_view current;
  for (const SeriesSample& s : series) {
    if (s.name != current) {
      t.family(s.name, s.type, s.help);
      current = s.name;
    }
    if (s.label_name.empty()) {
      t.sample(s.name, {}, s.value);
    } else {
      t.sample(s.name, {{s.label_name, s.label_value}}, s.value);
    }
  }
}

void render_org_series(std::string_view name, std::string_view help, const OrgSeries& s,
                       PrometheusText& t) {
  t.family(name, "counter", help);
  for (const auto& [org, value] : s.top) t.sample(name, {{"org", org}}, value);
  t.sample(name, {{"org", "other"}}, s.other);
}

OrgSeries split_column(const std::vector<NamedCount>& column, std::uint64_t overflow,
                       std::size_t top) {
  const TopSplit split = split_top(column, top);
  OrgSeries out;
  out.top.reserve(split.top.size());
  for (std::size_t i : split.top) out.top.emplace_back(column[i].name, column[i].count);
  out.other = split.other + overflow;
  return out;
}

}  // namespace

void split_org_counts(const OrgCounterTable& table, std::size_t top, MetricsSnapshot& out) {
  std::vector<NamedCount> auth, acl, rate;
  auth.reserve(table.size());
  acl.reserve(table.size());
  rate.reserve(table.size());
  table.for_each([&](std::string_view org, const OrgCounts& c) {
    auth.push_back({org, c.auth_failures});
    acl.push_back({org, c.acl_denials});
    rate.push_back({org, c.rate_limited});
  });
  const OrgCounts& o = table.overflow();
  out.org_auth_failures = split_column(auth, o.auth_failures, top);
  out.org_acl_denials = split_column(acl, o.acl_denials, top);
  out.org_rate_limited = split_column(rate, o.rate_limited, top);
}

std::string render_metrics(const MetricsSnapshot& s) {
  PrometheusText t;
  t.family("shortcred_broker_build_info", "gauge", "The running plugin build and broker.");
  t.sample("shortcred_broker_build_info",
           {{"version", SHORTCRED_VERSION}, {"mosquitto", s.mosquitto}}, std::uint64_t{1});
  render_families(s.counters, t);
  render_series(s.series, t);
  render_org_series("shortcred_broker_org_auth_failures_total",
                    "CONNECT refusals by org: the top orgs, the rest as org=\"other\".",
                    s.org_auth_failures, t);
  render_org_series("shortcred_broker_org_acl_denials_total",
                    "ACL denials by org: the top orgs, the rest as org=\"other\".",
                    s.org_acl_denials, t);
  render_org_series("shortcred_broker_org_rate_limited_total",
                    "Rate-limited publishes by org: the top orgs, the rest as org=\"other\".",
                    s.org_rate_limited, t);
  return t.text();
}

}  // namespace shortcred::plugin
