#include "shortcred/tokens/metrics.hpp"

#include <cstdio>

#include "shortcred/redis/client.hpp"
#include "shortcred/redis/sentinel.hpp"

#ifndef SHORTCRED_VERSION
#error "SHORTCRED_VERSION (the CMake project version) must be defined"
#endif

namespace shortcred::tokens {
namespace {

// The methods httplib parses; anything else never reaches a handler.
std::string_view method_label(std::string_view m) {
  for (std::string_view known :
       {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE", "PRI"}) {
    if (m == known) return known;
  }
  return "other";
}

}  // namespace

void Metrics::observe_request(std::string_view method, std::string_view route, int status,
                              double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(method_label(method)), std::string(route), status}];
  Histogram& h = latency_[std::string(route)];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render(bool redis_up) const {
  std::string o;
  char num[64];
  const auto counter = [&](const char* name, const char* help, std::int64_t v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
         " " + std::to_string(v) + "\n";
  };
  counter("shortcred_tokens_issued_total", "Credentials issued (including refreshes).",
          issued_.load());
  // This process's revocations only: another tokend or shortcredctl
  // revoking counts in its own process, and nothing counts expiry.
  counter("shortcred_tokens_revoked_total", "Credentials revoked by this process.",
          revoked_.load());
  counter("shortcred_redis_errors_total", "Failed Redis connects and commands.",
          redis_errors_.load());
  counter("shortcred_issue_rate_limited_total", "Issue requests refused with 429.",
          rate_limited_.load());
  counter("shortcred_apikey_last_used_writes_total",
          "API key last_used_at fields written (at most one per key per minute).",
          last_used_writes_.load());
  o += "# HELP shortcred_exchanges_total POST /v2/tokens/exchange requests by outcome.\n"
       "# TYPE shortcred_exchanges_total counter\n";
  static constexpr std::array<const char*, kExchangeOutcomes> kOutcomes{
      "issued",       "bad_request",  "invalid_token", "invalid_user_claim", "org_not_found",
      "no_provider",  "org_disabled", "rate_limited",  "keys_unavailable",   "error"};
  for (std::size_t i = 0; i < kOutcomes.size(); ++i) {
    o += std::string("shortcred_exchanges_total{outcome=\"") + kOutcomes[i] + "\"} " +
         std::to_string(exchanges_[i].load()) + "\n";
  }
  o += "# HELP shortcred_jwks_fetches_total Identity-provider key set fetches by result.\n"
       "# TYPE shortcred_jwks_fetches_total counter\n"
       "shortcred_jwks_fetches_total{result=\"ok\"} " + std::to_string(jwks_fetch_ok_.load()) +
       "\nshortcred_jwks_fetches_total{result=\"error\"} " +
       std::to_string(jwks_fetch_error_.load()) + "\n";
  counter("shortcred_sessions_kicked_total",
          "Client kicks published by this process (DELETE /v2/sessions/<client id>).",
          kicked_.load());
  o += "# HELP shortcred_build_info The running build.\n# TYPE shortcred_build_info gauge\n"
       "shortcred_build_info{version=\"" SHORTCRED_VERSION "\"} 1\n";
  // The breaker's view: 0 while it is open (a connect or command failed and
  // the prober has not yet had an answer), never a Redis call per scrape.
  o += std::string(
           "# HELP shortcred_redis_up Whether Redis answers, as the connection pool "
           "last saw it.\n# TYPE shortcred_redis_up gauge\nshortcred_redis_up ") +
       (redis_up ? "1" : "0") + "\n";
  // Redis Cluster redirects this process followed (0 on other deployments).
  const redis::ClusterStats cs = redis::cluster_stats();
  o += "# HELP shortcred_redis_cluster_redirects_total Redis Cluster -MOVED/-ASK replies "
       "followed.\n# TYPE shortcred_redis_cluster_redirects_total counter\n"
       "shortcred_redis_cluster_redirects_total{kind=\"moved\"} " +
       std::to_string(cs.moved) +
       "\nshortcred_redis_cluster_redirects_total{kind=\"ask\"} " + std::to_string(cs.ask) + "\n";
  // Sentinel rediscovery in this process (0 on other deployments).
  const redis::SentinelCounters sc = redis::sentinel_counters();
  o += "# HELP shortcred_redis_sentinel_discoveries_total Masters found through Sentinel and "
       "confirmed by ROLE.\n# TYPE shortcred_redis_sentinel_discoveries_total counter\n"
       "shortcred_redis_sentinel_discoveries_total " + std::to_string(sc.discoveries) +
       "\n# HELP shortcred_redis_sentinel_master_changes_total Discoveries that found the master "
       "at a new address.\n# TYPE shortcred_redis_sentinel_master_changes_total counter\n"
       "shortcred_redis_sentinel_master_changes_total " + std::to_string(sc.master_changes) +
       "\n# HELP shortcred_redis_sentinel_switch_master_total +switch-master events seen.\n"
       "# TYPE shortcred_redis_sentinel_switch_master_total counter\n"
       "shortcred_redis_sentinel_switch_master_total " + std::to_string(sc.switch_master_events) +
       "\n";
  o += process_metrics_text();

  std::lock_guard lock(mu_);
  o += "# HELP shortcred_http_requests_total HTTP requests by method, route and status.\n"
       "# TYPE shortcred_http_requests_total counter\n";
  for (const auto& [k, v] : requests_) {
    const auto& [method, route, status] = k;
    o += "shortcred_http_requests_total{method=\"" + method + "\",route=\"" + route +
         "\",status=\"" + std::to_string(status) + "\"} " + std::to_string(v) + "\n";
  }
  o += "# HELP shortcred_http_request_duration_seconds Request latency by route.\n"
       "# TYPE shortcred_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    const std::string lbl = "route=\"" + route + "\"";
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
      std::snprintf(num, sizeof num, "%g", kBuckets[i]);
      o += "shortcred_http_request_duration_seconds_bucket{" + lbl + ",le=\"" + num + "\"} " +
           std::to_string(h.counts[i]) + "\n";
    }
    o += "shortcred_http_request_duration_seconds_bucket{" + lbl + ",le=\"+Inf\"} " +
         std::to_string(h.count) + "\n";
    std::snprintf(num, sizeof num, "%.6f", h.sum);
    o += "shortcred_http_request_duration_seconds_sum{" + lbl + "} " + num + "\n";
    o += "shortcred_http_request_duration_seconds_count{" + lbl + "} " +
         std::to_string(h.count) + "\n";
  }
  return o;
}

}  // namespace shortcred::tokens
