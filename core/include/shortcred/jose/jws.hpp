// JWS compact serialisation (RFC 7515 §7.1) of an identity provider's token
// and the checks of its header and claims (RFC 7519 §4.1). No I/O, no clock:
// the caller passes `now`. The order a verifier runs them in:
//
//   parse_jws → (select the provider by unverified_issuer) → check_header →
//   check_claims → (find the key by kid) → verify_signature (jwk.hpp)
//
// Claims are checked before the signature only to spare key fetches for
// tokens that fail anyway; nothing of an unverified token is used beyond
// choosing which provider's rules and keys to try.
#pragma once

#include <json/value.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "shortcred/jose/algorithm.hpp"

namespace shortcred::jose {

// An id token is a few hundred bytes to a few KB; 8 KiB bounds the work an
// unauthenticated caller can ask for.
inline constexpr std::size_t kMaxTokenBytes = 8192;
// Clock skew allowed on exp, nbf and iat.
inline constexpr std::int64_t kLeewaySeconds = 30;

// Why a token was refused. `check` is one word (format, size, alg, kid,
// crit, typ, iss, aud, azp, exp, nbf, iat, signature); `message` a sentence
// that starts with it and never quotes the token or a claim value.
struct Failure {
  std::string check;
  std::string message;
};

struct Jws {
  Json::Value header;          // a JSON object
  Json::Value claims;          // a JSON object
  std::string signing_input;   // `<header b64>.<payload b64>`, what was signed
  std::string signature;       // decoded bytes
};

// Three base64url parts (strict, see base64url.hpp) separated by two dots;
// header and payload strict JSON objects (strict_json.hpp); header `alg` a
// string. Tokens over kMaxTokenBytes fail with check `size`.
std::optional<Failure> parse_jws(std::string_view token, Jws& out);

// The token's `iss` if it is a string, else empty: which provider's rules
// and keys to try, nothing more.
std::string unverified_issuer(const Jws& jws);

struct CheckedHeader {
  Alg alg = Alg::RS256;
  std::string kid;
};

// `alg` one of `allowed` (never none or HS*), `kid` a non-empty string (it
// selects the key), no `crit` (RFC 7515 §4.1.11: we understand no
// extension, so must refuse any that is critical), no `zip`, and `typ`
// absent or a JWT type (JWT, at+jwt, application/jwt, application/at+jwt,
// case-insensitive).
std::optional<Failure> check_header(const Jws& jws, const AlgSet& allowed, CheckedHeader& out);

// What the provider requires of the claims. An empty `audience` or `azp`
// is not checked (a provider config always sets at least one).
struct ClaimRules {
  std::string issuer;    // `iss` must equal it, byte for byte
  std::string audience;  // `aud` (a string, or an array of strings) must hold it
  std::string azp;       // `azp` must equal it
};

// `exp` required; `exp`, `nbf` and `iat` NumericDates (numbers, fractions
// allowed) checked against `now_s` with kLeewaySeconds. On success
// `expires_at_s` is `exp` (whole seconds, rounded down).
std::optional<Failure> check_claims(const Json::Value& claims, const ClaimRules& rules,
                                    std::int64_t now_s, std::int64_t& expires_at_s);

}  // namespace shortcred::jose
