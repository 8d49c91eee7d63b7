// Identity providers' key sets (JWKS), fetched with libcurl and cached per
// URL, for POST /v2/tokens/exchange. Policy (DESIGN.md):
//
// - A fetched set is fresh for its Cache-Control max-age, clamped to
//   60 s - 24 h (300 s when the response gives none; no-store and no-cache
//   count as 60 s).
// - A kid the cached set lacks refetches it at most once per 10 s per URL
//   (key rotation is picked up with one fetch; a flood of made-up kids costs
//   the provider nothing).
// - A failed fetch (unreachable, timeout, not 200, not a key set) keeps the
//   keys already cached, which stay in use however stale; with keys cached
//   a failed refresh is retried at most once per 10 s, without any at most
//   once a second (the requests in between are answered at once).
// - A fetch never holds a request longer than the bounded timeout
//   (--jwks-timeout-ms, connect included); requests that need the same URL
//   meanwhile wait for that one fetch, no longer than the same bound.
// - https only (http only for the loopback URLs the provider check allows),
//   no redirects, at most kMaxJwksBytes, certificates verified against the
//   system store or --jwks-ca-file.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "shortcred/jose/jwk.hpp"

namespace shortcred::tokens {

struct JwksFetchOptions {
  std::string ca_file;   // empty: the system trust store
  int timeout_ms = 2000;
};

class JwksCache {
 public:
  enum class Outcome { found, unknown_kid, unavailable };
  struct Lookup {
    Outcome outcome = Outcome::unavailable;
    std::shared_ptr<const jose::Jwks> keys;  // holds `key` alive
    const jose::Jwk* key = nullptr;
    std::string error;  // why no keys (unavailable), for the log
  };
  // Called after each fetch attempt (true = a key set was stored).
  using FetchObserver = std::function<void(bool ok)>;

  explicit JwksCache(JwksFetchOptions opts, FetchObserver observer = {});
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // The key of `url`'s set with `kid` that fits `alg`, fetching as the
  // policy above says.
  Lookup find(const std::string& url, const std::string& kid, jose::Alg alg);

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::shared_ptr<const jose::Jwks> keys;
    Clock::time_point fresh_until{};
    std::optional<Clock::time_point> last_attempt;
    std::string last_error;
    std::timed_mutex fetching;  // one fetch per URL at a time
  };
  bool fetch_due(const Entry& e, const std::string& kid, jose::Alg alg, Clock::time_point now) const;
  void fetch_into(const std::string& url, Entry& e);

  JwksFetchOptions opts_;
  FetchObserver observer_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Entry>> entries_;
};

// The seconds a response with this Cache-Control may be cached, clamped to
// 60-86400; 300 when it sets no max-age.
std::int64_t jwks_cache_seconds(const std::string& cache_control);

}  // namespace shortcred::tokens
