// The handlers of HTTP API v2. Each is small: authenticate, parse, call the
// store, map its Status to a response in one place (respond_status).
#include <cmath>
#include <string_view>

#include "service_internal.hpp"
#include "shortcred/ids.hpp"
#include "shortcred/secrets.hpp"
#include "shortcred/tokens/access_log.hpp"
#include "shortcred/tokens/api_keys.hpp"
#include "shortcred/tokens/json_body.hpp"
#include "shortcred/tokens/request_body.hpp"
#include "shortcred/tokens/sessions.hpp"
#include "shortcred/tokens/validation.hpp"

namespace shortcred::tokens {
namespace {

std::vector<std::string_view> split_path(std::string_view p) {
  std::vector<std::string_view> out;
  if (p.empty() || p.front() != '/') return out;
  std::size_t start = 1;
  for (;;) {
    const auto slash = p.find('/', start);
    out.push_back(p.substr(start, slash - start));
    if (slash == std::string_view::npos) return out;
    start = slash + 1;
  }
}

void send_json(httplib::Response& res, int status, const Json::Value& v) {
  res.status = status;
  res.set_content(to_json_text(v), "application/json");
}

void log_store_error(const std::string& detail) { log_event("store_error", "store error: " + detail); }

}  // namespace

void respond_status(HttpService::Impl& svc, httplib::Response& res, const Status& s) {
  switch (s.code) {
    case Code::ok:
      return;
    case Code::invalid:
      return send_error(res, 422, "invalid_field", s.message);
    case Code::not_found:
      return send_error(res, 404, "not_found", s.message);
    case Code::forbidden:
      return send_error(res, 403, "org_disabled", s.message);
    case Code::org_not_found:
      return send_error(res, 404, "org_not_found", s.message);
    case Code::too_many:
      return send_error(res, 429, "too_many_tokens", s.message);
    case Code::unavailable:  // counted by the pool when the connection failed
      return send_error(res, 503, "redis_unavailable", "the credential store is unavailable");
    case Code::busy:  // the connection is fine: count it here
      svc.metrics.add_redis_error();
      log_store_error(s.message);
      return send_error(res, 503, "redis_unavailable", "the credential store is unavailable");
    case Code::not_replicated:  // the caller retries; DESIGN "Durability of what we acknowledge"
      return send_error(res, 503, "not_replicated", s.message);
    case Code::internal:
      // An error reply about the data (WRONGTYPE…): retrying will not help,
      // so not a 503. The detail (key names, no secrets) goes to the log only.
      svc.metrics.add_redis_error();
      log_store_error(s.message);
      return send_error(res, 500, "internal_error", "the credential store failed");
  }
}

namespace {

void unavailable(HttpService::Impl& svc, httplib::Response& res) {
  respond_status(svc, res, Status::make(Code::unavailable, ""));
}

// Bearer sk_… → the key's org. On failure the response is already set.
// Garbage never reaches Redis; unknown and revoked keys look the same.
// The key check is the first command of a request and a read, so when a
// pooled connection turns out stale (Redis restarted since it was last used)
// it is retried once on a fresh connection instead of answering 503.
AuthResult check_key(HttpService::Impl& svc, std::optional<RedisPool::Lease>& lease,
                     std::string_view token, ApiKeyInfo& key) {
  const AuthResult r = authenticate(lease->conn(), svc.store.prefix, token, key);
  if (r != AuthResult::unavailable || !lease->reused()) return r;
  lease.reset();  // counted as a Redis error by the pool
  std::string err;
  auto fresh = svc.pool.acquire_fresh(err);
  if (!fresh) return AuthResult::unavailable;
  lease.emplace(std::move(*fresh));
  return authenticate(lease->conn(), svc.store.prefix, token, key);
}

// The API key from `Authorization: Bearer sk_…`, its format checked; on
// failure the 401 is already set. Needs no Redis, so a missing or garbled key
// is a 401 even while Redis is down (the breaker open).
std::optional<std::string> bearer_key(const httplib::Request& req, httplib::Response& res) {
  if (!req.has_header("Authorization")) {
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, "missing_api_key", "send the API key as Authorization: Bearer sk_...");
    return std::nullopt;
  }
  const std::string& h = req.get_header_value("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  bool bearer = h.size() > kScheme.size();
  for (std::size_t i = 0; bearer && i < kScheme.size(); ++i) {
    bearer = std::tolower(static_cast<unsigned char>(h[i])) == kScheme[i];
  }
  if (!bearer) {
    res.set_header("WWW-Authenticate", "Bearer");
    send_error(res, 401, "invalid_auth_scheme", "the Authorization scheme must be Bearer");
    return std::nullopt;
  }
  std::string token = h.substr(kScheme.size());
  SecretParts parts;
  if (parse_api_key(token, parts) != Errc::ok) {
    send_error(res, 401, "invalid_api_key", "the API key is malformed");
    return std::nullopt;
  }
  return token;  // a copy: get_header_value returns by value
}

// Looks the (well-formed) key up in Redis. On failure the response is set.
bool authenticate_request(HttpService::Impl& svc, std::optional<RedisPool::Lease>& lease,
                          std::string_view token, httplib::Response& res, ApiKeyInfo& key) {
  switch (check_key(svc, lease, token, key)) {
    case AuthResult::ok:
      current_request().org = key.org;
      current_request().key_id = key.key_id;
      // Decided here from what the lookup read (no extra round trip), written
      // after the response (touch_last_used), so no request waits for it.
      if (last_used_due(key.last_used_at, now_ms() / 1000) && svc.last_used.try_claim(key.key_id)) {
        current_request().touch_seen = key.last_used_at;
      }
      return true;
    case AuthResult::malformed:  // bearer_key let it through: cannot happen
      send_error(res, 401, "invalid_api_key", "the API key is malformed");
      return false;
    case AuthResult::unknown:
      send_error(res, 401, "invalid_api_key", "the API key is unknown or revoked");
      return false;
    case AuthResult::unavailable:  // counted by the pool
      unavailable(svc, res);
      return false;
    case AuthResult::busy:
      respond_status(svc, res, Status::make(Code::busy, "Redis error during the API key check"));
      return false;
    case AuthResult::backend_error:  // e.g. the key's hash is not a hash
      respond_status(svc, res,
                     Status::make(Code::internal, "Redis error reply to the API key lookup"));
      return false;
  }
  return false;
}

bool within_issue_rate(HttpService::Impl& svc, const ApiKeyInfo& key, httplib::Response& res) {
  const long wait = svc.limiter.try_issue(key.key_id);
  if (wait == 0) return true;
  svc.metrics.add_rate_limited();
  res.set_header("Retry-After", std::to_string(wait));
  send_error(res, 429, "rate_limited", "the issuance rate of this API key is exceeded");
  return false;
}

AuditInfo audit_for(const ApiKeyInfo& key, const httplib::Request& req) {
  return AuditInfo{key.key_id, req.remote_addr, {}};
}

void create(HttpService::Impl& svc, redis::Client& conn, const ApiKeyInfo& key,
            const httplib::Request& req, httplib::Response& res) {
  if (!within_issue_rate(svc, key, res)) return;
  IssueRequest ir;
  if (auto e = parse_issue_body(req.body, ir)) return send_error(res, e->status, e->code, e->message);
  ir.org = key.org;
  Issued t;
  const Status s = issue(conn, svc.store, ir, audit_for(key, req), openssl_random(), t);
  if (!s.ok()) return respond_status(svc, res, s);
  send_issued(svc, res, t);
}

void refresh(HttpService::Impl& svc, redis::Client& conn, const ApiKeyInfo& key,
             const std::string& old_id, const httplib::Request& req, httplib::Response& res) {
  if (!within_issue_rate(svc, key, res)) return;
  IssueRequest ir;
  bool revoke_old = false;
  if (auto e = parse_refresh_body(req.body, ir.ttl_seconds, revoke_old)) {
    return send_error(res, e->status, e->code, e->message);
  }
  CredentialRecord old;
  if (Status s = get_credential(conn, svc.store.prefix, key.org, old_id, old); !s.ok()) {
    return respond_status(svc, res, s);
  }
  ir.org = key.org;
  ir.user = old.user;
  ir.scope = old.scope;
  ir.client_id = old.client_id;
  ir.event = "refresh";
  // Without ttl_seconds a refresh keeps the lifetime the client was given,
  // not the org's default: a 10-minute credential refreshes for 10 minutes.
  ir.inherited_ttl = (old.expires_at_ms - old.issued_at_ms) / 1000;
  if (revoke_old) ir.replaces = old_id;
  Issued t;
  if (Status s = issue(conn, svc.store, ir, audit_for(key, req), openssl_random(), t); !s.ok()) {
    return respond_status(svc, res, s);
  }
  if (t.replaced) svc.metrics.add_revoked();
  send_issued(svc, res, t);
}

// `?user_id=…&limit=N&cursor=C`; each at most once.
std::optional<Status> parse_list_query(const httplib::Request& req, ListRequest& lr) {
  for (const auto& [name, value] : req.params) {
    if (req.params.count(name) > 1) return Status::invalid(name + " given more than once");
    if (name == "user_id") {
      if (Status s = validate_user_field("user_id", value); !s.ok()) return s;
      lr.user = value;
    } else if (name == "limit") {
      std::uint64_t n = 0;
      if (!parse_u64(value, n) || n < 1 || n > kMaxListLimit) {
        return Status::invalid("limit must be a whole number in 1-" +
                               std::to_string(kMaxListLimit));
      }
      lr.limit = static_cast<std::size_t>(n);
    } else if (name == "cursor") {
      lr.cursor = value;
    } else {
      return std::nullopt;  // unknown: a 400, not a 422
    }
  }
  return Status::success();
}

void list(HttpService::Impl& svc, redis::Client& conn, const ApiKeyInfo& key,
          const httplib::Request& req, httplib::Response& res) {
  ListRequest lr;
  const auto parsed = parse_list_query(req, lr);
  if (!parsed) {
    return send_error(res, 400, "unknown_field",
                      "unknown query parameter; expected user_id, limit, cursor");
  }
  if (!parsed->ok()) return respond_status(svc, res, *parsed);
  ListPage page;
  if (Status s = list_tokens(conn, svc.store.prefix, key.org, lr, page); !s.ok()) {
    return respond_status(svc, res, s);
  }
  send_json(res, 200, token_page_json(page));
}

void revoke(HttpService::Impl& svc, redis::Client& conn, const ApiKeyInfo& key,
            const std::string& id, const httplib::Request& req, httplib::Response& res) {
  if (Status s = revoke_token(conn, svc.store.prefix, key.org, id, audit_for(key, req)); !s.ok()) {
    return respond_status(svc, res, s);
  }
  // Not acknowledged unless replicated: the DEL stands, the caller retries.
  if (Status s = wait_replicas(conn, svc.store.durability); !s.ok()) {
    return respond_status(svc, res, s);
  }
  svc.metrics.add_revoked();
  res.status = 204;
}

void revoke_user_route(HttpService::Impl& svc, redis::Client& conn, const ApiKeyInfo& key,
                       const std::string& user, const httplib::Request& req,
                       httplib::Response& res) {
  if (Status s = validate_user_field("user id", user); !s.ok()) return respond_status(svc, res, s);
  std::int64_t n = 0;
  if (Status s = revoke_user(conn, svc.store.prefix, key.org, user, audit_for(key, req), n);
      !s.ok()) {
    return respond_status(svc, res, s);
  }
  if (Status s = wait_replicas(conn, svc.store.durability); !s.ok()) {
    return respond_status(svc, res, s);
  }
  svc.metrics.add_revoked(n);
  Json::Value v(Json::objectValue);
  v["revoked"] = Json::Int64(n);
  send_json(res, 200, v);
}

// `GET /v2/sessions[?user_id=]`: the org's live connections on every broker.
void sessions_list(HttpService::Impl& svc, redis::Client& conn, const ApiKeyInfo& key,
                   const httplib::Request& req, httplib::Response& res) {
  std::optional<std::string> user;
  for (const auto& [name, value] : req.params) {
    if (name != "user_id") {
      return send_error(res, 400, "unknown_field", "unknown query parameter; expected user_id");
    }
    if (req.params.count(name) > 1) {
      return respond_status(svc, res, Status::invalid("user_id given more than once"));
    }
    if (Status s = validate_user_field("user_id", value); !s.ok()) return respond_status(svc, res, s);
    user = value;
  }
  std::vector<SessionInfo> sessions;
  if (Status s = list_sessions(conn, svc.store.prefix, key.org, user, svc.cfg.presence_interval_s,
                               sessions);
      !s.ok()) {
    return respond_status(svc, res, s);
  }
  send_json(res, 200, sessions_json(sessions));
}

// `DELETE /v2/sessions/<client id>`: the broker holding it disconnects it.
void session_kick(HttpService::Impl& svc, redis::Client& conn, const ApiKeyInfo& key,
                  const std::string& client_id, const httplib::Request& req,
                  httplib::Response& res) {
  if (Status s = kick_session(conn, svc.store.prefix, key.org, client_id,
                              svc.cfg.presence_interval_s, audit_for(key, req));
      !s.ok()) {
    return respond_status(svc, res, s);
  }
  svc.metrics.add_kicked();
  res.status = 204;
}

void readyz(HttpService::Impl& svc, httplib::Response& res) {
  std::string err;
  auto lease = svc.pool.acquire(err);
  redis::Reply r = lease ? lease->conn().command({"PING"}) : nullptr;
  if (!r || r->type != REDIS_REPLY_STATUS) return unavailable(svc, res);
  res.status = 200;
  res.set_content("ready\n", "text/plain");
}

}  // namespace

void send_issued(HttpService::Impl& svc, httplib::Response& res, const Issued& t) {
  svc.metrics.add_issued();
  current_request().token_id = t.token_id;
  res.set_header("Cache-Control", "no-store");
  send_json(res, 201, issued_json(t, now_ms()));
}

void send_error(httplib::Response& res, int status, std::string_view code,
                std::string_view message) {
  send_json(res, status, error_json(code, message));
}

long ExchangeLimiter::take(std::unordered_map<std::string, TokenBucket>& buckets,
                           const std::string& key, double rate, std::int64_t now) {
  if (rate <= 0) return 0;
  if (buckets.size() >= 10000) {
    // Many orgs or users: forget the buckets that have refilled (idle for a
    // second or more), which a fresh bucket equals.
    for (auto it = buckets.begin(); it != buckets.end();) {
      it = it->second.seconds_until(now, it->second.burst()) == 0 ? buckets.erase(it) : std::next(it);
    }
  }
  auto it = buckets.find(key);
  if (it == buckets.end()) {
    it = buckets.emplace(key, TokenBucket(rate, std::max(1.0, rate), now)).first;
  } else if (it->second.rate() != rate) {
    it->second.reconfigure(rate, std::max(1.0, rate), now);
  }
  if (it->second.try_take(now)) return 0;
  return std::max(1L, static_cast<long>(std::ceil(it->second.seconds_until(now))));
}

long ExchangeLimiter::try_exchange(const std::string& org, const std::string& user,
                                   double org_rate, double user_rate) {
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  std::lock_guard lock(mu_);
  // The user's bucket first: one busy user spends their own budget, not the org's.
  if (long wait = take(users_, org + "\n" + user, user_rate, now)) return wait;
  return take(orgs_, org, org_rate, now);
}

long IssueLimiter::try_issue(const std::string& key_id) {
  if (rate_ <= 0) return 0;
  const auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key_id);
  if (it == buckets_.end()) {
    // Burst: one second's worth, at least one credential.
    it = buckets_.emplace(key_id, TokenBucket(rate_, std::max(1.0, rate_), now)).first;
  }
  if (it->second.try_take(now)) return 0;
  return std::max(1L, static_cast<long>(std::ceil(it->second.seconds_until(now))));
}

bool LastUsedGate::try_claim(const std::string& key_id) {
  const auto now = std::chrono::steady_clock::now();
  const auto window = std::chrono::seconds(kLastUsedResolutionS);
  std::lock_guard lock(mu_);
  if (claimed_.size() >= 10000) {  // many keys: forget the expired claims
    std::erase_if(claimed_, [&](const auto& kv) { return now - kv.second >= window; });
  }
  auto [it, fresh] = claimed_.try_emplace(key_id, now);
  if (fresh) return true;
  if (now - it->second < window) return false;
  it->second = now;
  return true;
}

void touch_last_used(HttpService::Impl& svc) {
  RequestContext& c = current_request();
  if (!c.touch_seen || c.key_id.empty()) return;
  std::string err;
  auto lease = svc.pool.acquire(err);
  if (!lease) return;  // Redis unavailable (counted by the pool): next minute
  bool written = false;
  const Status s = touch_api_key(lease->conn(), svc.store.prefix, c.key_id, *c.touch_seen,
                                 now_ms() / 1000, written);
  if (written) svc.metrics.add_last_used_write();
  if (s.code == Code::busy || s.code == Code::internal) {
    svc.metrics.add_redis_error();
    log_store_error("last_used_at of API key " + c.key_id + ": " + s.message);
  }
}

RouteMatch match_route(const std::string& method, const std::string& path) {
  RouteMatch m;
  const auto parts = split_path(path);
  const auto set = [&](RouteId id, const char* name, const char* allow, std::string param = {}) {
    m.id = id;
    m.name = name;
    m.allow = allow;
    m.param = std::move(param);
    const std::string_view a(allow);
    // HEAD is served as GET by httplib.
    const std::string meth = method == "HEAD" ? "GET" : method;
    std::size_t pos = 0;
    while (pos <= a.size()) {
      const auto comma = a.find(", ", pos);
      if (a.substr(pos, comma - pos) == meth) m.method_ok = true;
      if (comma == std::string_view::npos) break;
      pos = comma + 2;
    }
  };
  const auto n = parts.size();
  if (n == 1 && parts[0] == "healthz") {
    set(RouteId::healthz, "/healthz", "GET");
  } else if (n == 1 && parts[0] == "readyz") {
    set(RouteId::readyz, "/readyz", "GET");
  } else if (n == 1 && parts[0] == "metrics") {
    set(RouteId::metrics, "/metrics", "GET");
  } else if (n >= 2 && parts[0] == "v2" && parts[1] == "tokens") {
    if (n == 2) {
      set(method == "GET" || method == "HEAD" ? RouteId::list : RouteId::create, "/v2/tokens",
          "GET, POST");
    } else if (n == 3 && parts[2] == "exchange") {
      // Never a token id (those are 16 characters).
      set(RouteId::exchange, "/v2/tokens/exchange", "POST");
    } else if (n == 3 && !parts[2].empty()) {
      set(RouteId::revoke, "/v2/tokens/{id}", "DELETE", std::string(parts[2]));
    } else if (n == 4 && !parts[2].empty() && parts[3] == "refresh") {
      set(RouteId::refresh, "/v2/tokens/{id}/refresh", "POST", std::string(parts[2]));
    }
  } else if (n == 2 && parts[0] == "v2" && parts[1] == "sessions") {
    set(RouteId::sessions_list, "/v2/sessions", "GET");
  } else if (n >= 3 && parts[0] == "v2" && parts[1] == "sessions") {
    // A client id may hold '/' (client_id_prefix %o/%u/): it is the whole rest.
    constexpr std::string_view kBase = "/v2/sessions/";
    const std::string rest = path.substr(kBase.size());
    if (!rest.empty()) set(RouteId::session_kick, "/v2/sessions/{client_id}", "DELETE", rest);
  } else if (n == 4 && parts[0] == "v2" && parts[1] == "users" && !parts[2].empty() &&
             parts[3] == "tokens") {
    set(RouteId::revoke_user, "/v2/users/{user}/tokens", "DELETE", std::string(parts[2]));
  }
  return m;
}

void handle_route(HttpService::Impl& svc, const RouteMatch& route, const httplib::Request& req,
                  httplib::Response& res) {
  switch (route.id) {
    case RouteId::healthz:
      res.status = 200;
      return res.set_content("ok\n", "text/plain");
    case RouteId::readyz:
      return readyz(svc, res);
    case RouteId::metrics:
      // With --metrics-listen the metrics live there only: a scraper that
      // still asks the API port is told so by a plain 404.
      if (svc.cfg.separate_metrics()) return send_error(res, 404, "not_found", "no such route");
      res.status = 200;
      return res.set_content(metrics_text(svc), "text/plain; version=0.0.4");
    case RouteId::none:
      return send_error(res, 404, "not_found", "no such route");
    case RouteId::exchange:
      return exchange(svc, req, res);
    default:
      break;
  }
  // A path token id that cannot exist is simply not found (no Redis trip).
  if ((route.id == RouteId::revoke || route.id == RouteId::refresh) &&
      validate_token_id(route.param) != Errc::ok) {
    return send_error(res, 404, "not_found", "no active credential with that id");
  }
  if (route.id == RouteId::revoke || route.id == RouteId::refresh) {
    current_request().token_id = route.param;
  }
  const auto token = bearer_key(req, res);
  if (!token) return;
  std::string err;
  auto lease = svc.pool.acquire(err);
  if (!lease) return unavailable(svc, res);
  ApiKeyInfo key;
  if (!authenticate_request(svc, lease, *token, res, key)) return;
  redis::Client& conn = lease->conn();
  switch (route.id) {
    case RouteId::create:
      return create(svc, conn, key, req, res);
    case RouteId::refresh:
      return refresh(svc, conn, key, route.param, req, res);
    case RouteId::list:
      return list(svc, conn, key, req, res);
    case RouteId::revoke:
      return revoke(svc, conn, key, route.param, req, res);
    case RouteId::revoke_user:
      return revoke_user_route(svc, conn, key, route.param, req, res);
    case RouteId::sessions_list:
      return sessions_list(svc, conn, key, req, res);
    case RouteId::session_kick:
      return session_kick(svc, conn, key, route.param, req, res);
    default:
      return send_error(res, 404, "not_found", "no such route");
  }
}

}  // namespace shortcred::tokens
