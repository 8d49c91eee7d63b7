#include "shortcred/jose/jws.hpp"

#include <cmath>
#include <limits>

#include "shortcred/jose/base64url.hpp"
#include "shortcred/jose/strict_json.hpp"

namespace shortcred::jose {
namespace {

constexpr std::size_t kMaxKidBytes = 256;

Failure fail(std::string check, const std::string& why) {
  std::string message = check + ": " + why;
  return Failure{std::move(check), std::move(message)};
}

bool decode_object(std::string_view part, Json::Value& out) {
  const auto bytes = base64url_decode(part);
  return bytes && parse_strict_json(*bytes, out) && out.isObject();
}

bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// A NumericDate (RFC 7519 §2) in whole seconds, rounded down; huge values
// saturate. Nullopt for anything that is not a finite number.
std::optional<std::int64_t> numeric_date(const Json::Value& v) {
  if (!v.isNumeric() || v.isBool()) return std::nullopt;
  if (v.isInt64()) return v.asInt64();
  if (v.isUInt64()) return std::numeric_limits<std::int64_t>::max();
  const double d = v.asDouble();
  if (!std::isfinite(d)) return std::nullopt;
  if (d >= 9.0e18) return std::numeric_limits<std::int64_t>::max();
  if (d <= -9.0e18) return std::numeric_limits<std::int64_t>::min();
  return static_cast<std::int64_t>(std::floor(d));
}

// Optional time claim: absent is fine, present must be a NumericDate.
std::optional<Failure> time_claim(const Json::Value& claims, const char* name,
                                  std::optional<std::int64_t>& out) {
  const Json::Value& v = claims[name];
  if (v.isNull()) return std::nullopt;
  out = numeric_date(v);
  if (!out) return fail(name, "the claim is not a number of seconds");
  return std::nullopt;
}

std::optional<Failure> check_audience(const Json::Value& aud, const std::string& want) {
  if (aud.isString()) {
    if (aud.asString() == want) return std::nullopt;
  } else if (aud.isArray()) {
    for (const auto& a : aud) {
      if (!a.isString()) return fail("aud", "the audience array holds a value that is not a string");
    }
    for (const auto& a : aud) {
      if (a.asString() == want) return std::nullopt;
    }
  } else if (aud.isNull()) {
    return fail("aud", "the token has no audience; this provider requires one");
  } else {
    return fail("aud", "the audience is neither a string nor an array of strings");
  }
  return fail("aud", "the token is not meant for this provider's audience");
}

}  // namespace

std::optional<Failure> parse_jws(std::string_view token, Jws& out) {
  if (token.size() > kMaxTokenBytes) {
    return fail("size", "the token is longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  }
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return fail("format", "the token is not a JWS in compact form (three parts separated by dots)");
  }
  Jws jws;
  if (!decode_object(token.substr(0, dot1), jws.header)) {
    return fail("format", "the token header is not base64url-encoded JSON object");
  }
  if (!decode_object(token.substr(dot1 + 1, dot2 - dot1 - 1), jws.claims)) {
    return fail("format", "the token payload is not a base64url-encoded JSON object");
  }
  const auto sig = base64url_decode(token.substr(dot2 + 1));
  if (!sig) return fail("format", "the token signature is not base64url-encoded");
  if (!jws.header["alg"].isString()) return fail("alg", "the token header names no algorithm");
  jws.signing_input = std::string(token.substr(0, dot2));
  jws.signature = *sig;
  out = std::move(jws);
  return std::nullopt;
}

std::string unverified_issuer(const Jws& jws) {
  const Json::Value& iss = jws.claims["iss"];
  return iss.isString() ? iss.asString() : std::string();
}

std::optional<Failure> check_header(const Jws& jws, const AlgSet& allowed, CheckedHeader& out) {
  const Json::Value& h = jws.header;
  if (h.isMember("crit")) {
    return fail("crit", "the token header marks extensions as critical, which this service does not "
                        "implement");
  }
  if (h.isMember("zip")) return fail("format", "compressed (zip) tokens are not accepted");
  const std::string alg_text = h["alg"].asString();
  const auto alg = parse_alg(alg_text);
  if (!alg) {
    return fail("alg", alg_text == "none" || alg_text.substr(0, 2) == "HS"
                           ? "unsigned and HMAC-signed tokens are never accepted"
                           : "the token's algorithm is not one this service supports");
  }
  if (!allowed.has(*alg)) {
    return fail("alg", std::string(alg_name(*alg)) + " is not among this provider's algorithms (" +
                           allowed.to_string() + ")");
  }
  const Json::Value& typ = h["typ"];
  if (!typ.isNull()) {
    const bool jwt = typ.isString() && (ascii_iequals(typ.asString(), "JWT") ||
                                        ascii_iequals(typ.asString(), "at+jwt") ||
                                        ascii_iequals(typ.asString(), "application/jwt") ||
                                        ascii_iequals(typ.asString(), "application/at+jwt"));
    if (!jwt) return fail("typ", "the token's type is not JWT");
  }
  const Json::Value& kid = h["kid"];
  if (!kid.isString() || kid.asString().empty() || kid.asString().size() > kMaxKidBytes) {
    return fail("kid", "the token header has no usable key id (kid)");
  }
  out.alg = *alg;
  out.kid = kid.asString();
  return std::nullopt;
}

std::optional<Failure> check_claims(const Json::Value& claims, const ClaimRules& rules,
                                    std::int64_t now_s, std::int64_t& expires_at_s) {
  const Json::Value& iss = claims["iss"];
  if (!iss.isString() || iss.asString() != rules.issuer) {
    return fail("iss", "the token's issuer is not this provider's issuer");
  }
  if (!rules.audience.empty()) {
    if (auto f = check_audience(claims["aud"], rules.audience)) return f;
  }
  if (!rules.azp.empty()) {
    const Json::Value& azp = claims["azp"];
    if (!azp.isString() || azp.asString() != rules.azp) {
      return fail("azp", "the token's authorized party is not this provider's azp");
    }
  }
  std::optional<std::int64_t> exp, nbf, iat;
  if (claims["exp"].isNull()) return fail("exp", "the token has no expiry; one is required");
  if (auto f = time_claim(claims, "exp", exp)) return f;
  if (auto f = time_claim(claims, "nbf", nbf)) return f;
  if (auto f = time_claim(claims, "iat", iat)) return f;
  // Saturating comparisons: a huge claim must not overflow the leeway.
  if (*exp <= now_s - kLeewaySeconds) return fail("exp", "the token has expired");
  if (nbf && *nbf > now_s && *nbf - now_s > kLeewaySeconds) {
    return fail("nbf", "the token is not valid yet");
  }
  if (iat && *iat > now_s && *iat - now_s > kLeewaySeconds) {
    return fail("iat", "the token was issued in the future");
  }
  expires_at_s = *exp;
  return std::nullopt;
}

}  // namespace shortcred::jose
