// Shared state of the HTTP service, for http_server.cpp (transport: httplib
// setup, timeouts, errors, logging) and routes.cpp (the API handlers).
#pragma once

#include <httplib.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "connection_watchdog.hpp"
#include "shortcred/rate_limit.hpp"
#include "shortcred/tokens/config.hpp"
#include "shortcred/tokens/http_server.hpp"
#include "shortcred/tokens/jwks_cache.hpp"
#include "shortcred/tokens/metrics.hpp"
#include "shortcred/tokens/redis_pool.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {

inline constexpr std::size_t kMaxBodyBytes = 16 * 1024;

enum class RouteId {
  create,
  exchange,
  refresh,
  list,
  revoke,
  revoke_user,
  sessions_list,
  session_kick,
  healthz,
  readyz,
  metrics,
  none
};

struct RouteMatch {
  RouteId id = RouteId::none;
  const char* name = "unmatched";  // route template, for logs and metrics
  std::string param;               // token id, user id or client id from the path
  const char* allow = "";          // methods the path accepts, for 405 / Allow
  bool method_ok = false;
};
RouteMatch match_route(const std::string& method, const std::string& path);

// What the access log needs to know about the request being served; one per
// worker thread (a worker serves one request at a time).
struct RequestContext {
  std::optional<std::chrono::steady_clock::time_point> start;
  const char* route = "unmatched";
  std::string org, key_id, token_id;
  // Set when this request's API key is due a last_used_at write, done once
  // the response is written (touch_last_used): the stored value seen.
  std::optional<std::string> touch_seen;
};
RequestContext& current_request();

// Per-API-key issuance buckets (--issue-rate).
class IssueLimiter {
 public:
  explicit IssueLimiter(double rate) : rate_(rate) {}
  // 0 when allowed, else the seconds to wait (for Retry-After, at least 1).
  long try_issue(const std::string& key_id);

 private:
  double rate_;
  std::mutex mu_;
  std::unordered_map<std::string, TokenBucket> buckets_;
};

// In-process side of "last_used_at at most once per key per minute": lets
// one request per key and minute try the write, so a burst of requests that
// all read a stale value does not send a burst of EVALs.
class LastUsedGate {
 public:
  bool try_claim(const std::string& key_id);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> claimed_;
};

// POST /v2/tokens/exchange per second, in this process: per org
// (exchange_rate) and per user claim value (exchange_user_rate), read from
// the org hash at each request.
class ExchangeLimiter {
 public:
  // 0 when allowed, else the seconds to wait (for Retry-After, at least 1).
  // A rate <= 0 is no limit.
  long try_exchange(const std::string& org, const std::string& user, double org_rate,
                    double user_rate);

 private:
  long take(std::unordered_map<std::string, TokenBucket>& buckets, const std::string& key,
            double rate, std::int64_t now);
  std::mutex mu_;
  std::unordered_map<std::string, TokenBucket> orgs_, users_;
};

struct HttpService::Impl {
  explicit Impl(ServiceConfig c);

  ServiceConfig cfg;
  StoreConfig store;
  Metrics metrics;
  RedisPool pool;
  IssueLimiter limiter;
  LastUsedGate last_used;
  JwksCache jwks;
  ExchangeLimiter exchanges;
  std::unique_ptr<ConnectionWatchdog> watchdog;  // created once the port is bound
  std::unique_ptr<httplib::Server> server;
  int port = 0;
  // --metrics-listen: GET /metrics only, plain HTTP, two threads of its own.
  std::unique_ptr<httplib::Server> metrics_server;
  int metrics_port = -1;
  std::thread metrics_thread;
};

// The Prometheus exposition of `svc` (counters, Redis, process).
std::string metrics_text(const HttpService::Impl& svc);

// Sends {"error":{"code","message"}} with `status`.
void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view message);

// POST /v2/tokens/exchange (exchange.cpp): no API key; the id token of one
// of the org's identity providers.
void exchange(HttpService::Impl& svc, const httplib::Request& req, httplib::Response& res);

// The 201 of every issuing route, counted.
void send_issued(HttpService::Impl& svc, httplib::Response& res, const Issued& t);

// Maps a store Status to its response (routes.cpp).
void respond_status(HttpService::Impl& svc, httplib::Response& res, const Status& s);

// After the response: writes the request's API key's last_used_at if
// current_request() says it is due. Errors are counted and logged, never
// retried before the next minute.
void touch_last_used(HttpService::Impl& svc);

// The API: dispatches a matched route (method already checked).
void handle_route(HttpService::Impl& svc, const RouteMatch& route, const httplib::Request& req,
                  httplib::Response& res);

}  // namespace shortcred::tokens
