// Prometheus counters of the service (GET /metrics, text format 0.0.4):
// requests by method, route and status, a latency histogram by route,
// credentials issued and revoked by this process, Redis errors, API key
// last_used_at writes; the build, Redis's state as the pool sees it, and the
// process (from /proc). All counters are declared here, in one list.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

namespace shortcred::tokens {

// Outcomes of POST /v2/tokens/exchange, one label value each.
enum class ExchangeOutcome : std::uint8_t {
  issued, bad_request, invalid_token, invalid_user_claim, org_not_found, no_provider,
  org_disabled, rate_limited, keys_unavailable, error,
};
inline constexpr std::size_t kExchangeOutcomes = 10;

class Metrics {
 public:
  static constexpr std::array<double, 12> kBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                   0.05,   0.1,   0.25,   0.5,   1,    2.5};

  // `method` is kept as it is when it is one httplib serves (GET, POST…),
  // else counted as "other": a client cannot mint label values.
  void observe_request(std::string_view method, std::string_view route, int status, double seconds);
  void add_issued(std::int64_t n = 1) { issued_ += n; }
  void add_revoked(std::int64_t n = 1) { revoked_ += n; }
  void add_redis_error() { redis_errors_ += 1; }
  void add_rate_limited() { rate_limited_ += 1; }
  void add_last_used_write() { last_used_writes_ += 1; }
  void add_exchange(ExchangeOutcome o) { exchanges_[static_cast<std::size_t>(o)] += 1; }
  void add_jwks_fetch(bool ok) { (ok ? jwks_fetch_ok_ : jwks_fetch_error_) += 1; }
  void add_kicked() { kicked_ += 1; }

  // The whole exposition; `redis_up` is the pool's view (RedisPool::up()).
  std::string render(bool redis_up) const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kBuckets.size()> counts{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::atomic<std::int64_t> issued_{0}, revoked_{0}, redis_errors_{0}, rate_limited_{0},
      last_used_writes_{0}, jwks_fetch_ok_{0}, jwks_fetch_error_{0}, kicked_{0};
  std::array<std::atomic<std::int64_t>, kExchangeOutcomes> exchanges_{};
};

// process_open_fds, process_max_fds, process_resident_memory_bytes,
// process_cpu_seconds_total, process_start_time_seconds of this process, read
// from /proc (the names of the Prometheus client libraries). A value /proc
// does not give is left out.
std::string process_metrics_text();

}  // namespace shortcred::tokens
