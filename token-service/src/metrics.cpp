#include "shortcred/tokens/metrics.hpp"

#include <cstdio>

namespace shortcred::tokens {

void Metrics::observe_request(std::string_view route, int status, double seconds) {
  std::lock_guard lock(mu_);
  ++requests_[{std::string(route), status}];
  Histogram& h = latency_[std::string(route)];
  for (std::size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.counts[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::render() const {
  std::string o;
  char num[64];
  const auto counter = [&](const char* name, const char* help, std::int64_t v) {
    o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
         " " + std::to_string(v) + "\n";
  };
  counter("shortcred_tokens_issued_total", "Credentials issued (including refreshes).",
          issued_.load());
  counter("shortcred_tokens_revoked_total", "Credentials revoked.", revoked_.load());
  counter("shortcred_redis_errors_total", "Failed Redis connects and commands.",
          redis_errors_.load());
  counter("shortcred_issue_rate_limited_total", "Issue requests refused with 429.",
          rate_limited_.load());

  std::lock_guard lock(mu_);
  o += "# HELP shortcred_http_requests_total HTTP requests by route and status.\n"
       "# TYPE shortcred_http_requests_total counter\n";
  for (const auto& [k, v] : requests_) {
    o += "shortcred_http_requests_total{route=\"" + k.first + "\",status=\"" +
         std::to_string(k.second) + "\"} " + std::to_string(v) + "\n";
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
