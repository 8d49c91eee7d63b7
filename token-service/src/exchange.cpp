// POST /v2/tokens/exchange: an identity provider's id token for a credential
// (DESIGN.md "Identity-provider exchange"). No API key: the token is the
// authentication, so everything before the issue only reads Redis, and
// each refusal names the check that failed, never the token.
//
//   body → JWS parsed (no Redis yet) → org hash + provider names (one round
//   trip) → provider hashes (one more) → the provider whose issuer is the
//   token's iss → header (alg among the provider's, kid, no crit) → claims
//   (iss, aud/azp, exp/nbf/iat) → key by kid (JWKS cache, may fetch) →
//   signature → user claim mapped → rate limits → issue (audited as
//   `exchange` with the provider's name).
#include <chrono>

#include "service_internal.hpp"
#include "shortcred/jose/jws.hpp"
#include "shortcred/jose/provider.hpp"
#include "shortcred/jose/user_map.hpp"
#include "shortcred/secrets.hpp"
#include "shortcred/tokens/access_log.hpp"
#include "shortcred/tokens/request_body.hpp"
#include "shortcred/tokens/validation.hpp"

namespace shortcred::tokens {
namespace {

// Providers read per org: bounds the round trip an unauthenticated request costs.
constexpr std::size_t kMaxProviders = 32;
constexpr double kDefaultOrgRate = 100;
constexpr double kDefaultUserRate = 10;

struct Refusal {
  ExchangeOutcome outcome;
  int status;  // 0: a failed store call, answered from `store`
  std::string code, message;
  Status store = {};
};

Refusal store_failure(Status s) { return {ExchangeOutcome::error, 0, "", "", std::move(s)}; }

void refuse(HttpService::Impl& svc, httplib::Response& res, const Refusal& r) {
  svc.metrics.add_exchange(r.outcome);
  send_error(res, r.status, r.code, r.message);
}

Refusal invalid_token(std::string message) {
  return {ExchangeOutcome::invalid_token, 401, "invalid_token", std::move(message)};
}

// What Redis says about the org and its providers.
struct OrgView {
  bool exists = false;
  OrgRecord org;
  std::vector<std::string> names;
};

Status read_org_and_names(redis::Client& c, const std::string& prefix, const std::string& org,
                          OrgView& out) {
  if (!c.append({"HGETALL", org_key(prefix, org)}) ||
      !c.append({"SRANDMEMBER", jose::idps_key(prefix, org), std::to_string(kMaxProviders)})) {
    return reply_status(c, nullptr);
  }
  redis::Reply h = c.read_reply();
  redis::Reply names = h ? c.read_reply() : nullptr;
  if (!h || h->type != REDIS_REPLY_ARRAY) return reply_status(c, h);
  if (!names || names->type != REDIS_REPLY_ARRAY) return reply_status(c, names);
  out.exists = h->elements > 0;
  out.org = org_from_fields(redis::to_pairs(h.get()));
  for (std::size_t i = 0; i < names->elements; ++i) {
    out.names.push_back(redis::to_string(names->element[i]));
  }
  return Status::success();
}

// The provider hashes, pipelined; `fields[i]` belongs to `names[i]`.
Status read_providers(redis::Client& c, const std::string& prefix, const std::string& org,
                      const std::vector<std::string>& names, std::vector<Fields>& fields) {
  for (const auto& n : names) {
    if (!c.append({"HGETALL", jose::idp_key(prefix, org, n)})) return reply_status(c, nullptr);
  }
  for (std::size_t i = 0; i < names.size(); ++i) {
    redis::Reply r = c.read_reply();
    if (!r || r->type != REDIS_REPLY_ARRAY) return reply_status(c, r);
    fields.push_back(redis::to_pairs(r.get()));
  }
  return Status::success();
}

std::string field_value(const Fields& f, std::string_view name) {
  for (const auto& [k, v] : f) {
    if (k == name) return v;
  }
  return {};
}

// The provider whose issuer is `iss`. A matching hash that does not parse
// (edited by hand) fails closed with a 500 and a log line.
std::optional<Refusal> select_provider(const std::string& org, const std::vector<std::string>& names,
                                       const std::vector<Fields>& fields, const std::string& iss,
                                       jose::Provider& out) {
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (iss.empty() || field_value(fields[i], "issuer") != iss) continue;
    if (std::string why = jose::provider_from_fields(names[i], fields[i], out); !why.empty()) {
      log_event("idp_config", "identity provider " + names[i] + " of " + org +
                                  " is misconfigured: " + why);
      return Refusal{ExchangeOutcome::error, 500, "idp_misconfigured",
                     "the identity provider's configuration is invalid; see the service log", {}};
    }
    return std::nullopt;
  }
  return invalid_token("iss: the token's issuer is not an identity provider of this organisation");
}

std::int64_t now_s() { return now_ms() / 1000; }

struct Verified {
  jose::Provider provider;
  std::string user;
  std::int64_t expires_at_s = 0;
};

// Everything between the parsed body and the issue; on refusal `res` is set.
std::optional<Refusal> verify(HttpService::Impl& svc, redis::Client& c, const ExchangeRequest& er,
                              const jose::Jws& jws, Verified& out) {
  OrgView view;
  if (Status s = read_org_and_names(c, svc.store.prefix, er.org, view); !s.ok()) {
    return store_failure(std::move(s));
  }
  if (!view.exists) {
    return Refusal{ExchangeOutcome::org_not_found, 404, "org_not_found", "no organisation " + er.org};
  }
  if (view.org.disabled || view.org.disabled_unrecognised) {
    return Refusal{ExchangeOutcome::org_disabled, 403, "org_disabled",
                   "organisation " + er.org + " is disabled"};
  }
  if (view.names.empty()) {
    return Refusal{ExchangeOutcome::no_provider, 404, "no_provider",
                   "organisation " + er.org + " has no identity provider configured"};
  }
  std::vector<Fields> fields;
  if (Status s = read_providers(c, svc.store.prefix, er.org, view.names, fields); !s.ok()) {
    return store_failure(std::move(s));
  }
  if (auto r = select_provider(er.org, view.names, fields, jose::unverified_issuer(jws), out.provider)) {
    return r;
  }
  const jose::Provider& p = out.provider;
  jose::CheckedHeader header;
  if (auto f = jose::check_header(jws, p.algorithms, header)) return invalid_token(f->message);
  const std::int64_t now = now_s();
  if (auto f = jose::check_claims(jws.claims, p.claim_rules(), now, out.expires_at_s)) {
    return invalid_token(f->message);
  }
  if (out.expires_at_s - now < kMinTtlSeconds) {
    return invalid_token("exp: the token expires in less than 60 seconds (the shortest "
                         "credential lifetime); get a fresh one");
  }
  const JwksCache::Lookup keys = svc.jwks.find(p.jwks_url, header.kid, header.alg);
  if (keys.outcome == JwksCache::Outcome::unavailable) {
    log_event("jwks", "key set of identity provider " + p.name + " of " + er.org +
                          " unavailable: " + keys.error);
    return Refusal{ExchangeOutcome::keys_unavailable, 503, "jwks_unavailable",
                   "the identity provider's keys cannot be fetched; try again later"};
  }
  if (keys.outcome == JwksCache::Outcome::unknown_kid) {
    return invalid_token("kid: no key of this provider has the token's key id and algorithm");
  }
  if (!jose::verify_signature(*keys.key, header.alg, jws.signing_input, jws.signature)) {
    return invalid_token("signature: the token's signature does not verify");
  }
  std::string why;
  auto user = jose::user_from_claims(jws.claims, p.user_claim, p.user_map, why);
  if (!user) {
    return Refusal{ExchangeOutcome::invalid_user_claim, 422, "invalid_user_claim",
                   p.user_claim + ": " + why};
  }
  out.user = std::move(*user);
  const double org_rate = static_cast<double>(view.org.exchange_rate.value_or(kDefaultOrgRate));
  const double user_rate =
      static_cast<double>(view.org.exchange_user_rate.value_or(kDefaultUserRate));
  if (long wait = svc.exchanges.try_exchange(er.org, out.user, org_rate, user_rate)) {
    return Refusal{ExchangeOutcome::rate_limited, 429, "exchange_rate",
                   "the exchange rate of this organisation or user is exceeded; retry in " +
                       std::to_string(wait) + " s"};
  }
  return std::nullopt;
}

}  // namespace

void exchange(HttpService::Impl& svc, const httplib::Request& req, httplib::Response& res) {
  ExchangeRequest er;
  if (auto e = parse_exchange_body(req.body, er)) {
    svc.metrics.add_exchange(ExchangeOutcome::bad_request);
    return send_error(res, e->status, e->code, e->message);
  }
  current_request().org = er.org;
  jose::Jws jws;
  if (auto f = jose::parse_jws(er.id_token, jws)) return refuse(svc, res, invalid_token(f->message));

  std::string err;
  auto lease = svc.pool.acquire(err);
  if (!lease) {
    svc.metrics.add_exchange(ExchangeOutcome::error);
    return respond_status(svc, res, Status::make(Code::unavailable, ""));
  }
  redis::Client& c = lease->conn();
  Verified v;
  if (auto r = verify(svc, c, er, jws, v)) {
    if (r->status == 0) {
      svc.metrics.add_exchange(ExchangeOutcome::error);
      return respond_status(svc, res, r->store);
    }
    if (r->outcome == ExchangeOutcome::rate_limited) res.set_header("Retry-After", "1");
    return refuse(svc, res, *r);
  }
  IssueRequest ir;
  ir.org = er.org;
  ir.user = v.user;
  ir.ttl_seconds = er.ttl_seconds;
  ir.client_id = er.client_id;
  ir.scope = v.provider.scope;
  ir.event = "exchange";
  ir.audit_extra = {{"idp", v.provider.name}};
  ir.max_ttl = v.provider.max_ttl;
  ir.expires_by_ms = v.expires_at_s * 1000;
  Issued t;
  const Status s = issue(c, svc.store, ir, AuditInfo{"", req.remote_addr, ""}, openssl_random(), t);
  if (!s.ok()) {
    svc.metrics.add_exchange(s.code == Code::invalid      ? ExchangeOutcome::bad_request
                             : s.code == Code::forbidden  ? ExchangeOutcome::org_disabled
                             : s.code == Code::org_not_found ? ExchangeOutcome::org_not_found
                                                              : ExchangeOutcome::error);
    return respond_status(svc, res, s);
  }
  svc.metrics.add_exchange(ExchangeOutcome::issued);
  send_issued(svc, res, t);
}

}  // namespace shortcred::tokens
