// An org's identity providers in Redis (DESIGN.md "Identity-provider
// exchange"): the set `<prefix>{<org>}:idps` of names, each a hash
// `<prefix>{<org>}:idp:<name>` with the fields of Provider. One parser and
// one validator, shared by shortcredctl (which writes them) and tokend
// (which reads them, and refuses a hash edited by hand into nonsense).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/jose/algorithm.hpp"
#include "shortcred/jose/jws.hpp"
#include "shortcred/jose/user_map.hpp"
#include "shortcred/schema.hpp"

namespace shortcred::jose {

std::string idps_key(std::string_view prefix, std::string_view org);
std::string idp_key(std::string_view prefix, std::string_view org, std::string_view name);

struct Provider {
  std::string name;
  std::string issuer;    // required: exact `iss`; a token selects its provider by it
  std::string jwks_url;  // required: https, or http to a loopback host
  std::string audience;  // one of `aud`
  std::string azp;       // `azp` (Clerk's session tokens carry no aud)
  std::string user_claim = "sub";
  AlgSet algorithms = AlgSet::defaults();
  std::vector<std::string> scope;      // rules every credential it mints carries
  std::optional<std::int64_t> max_ttl;  // seconds; the org's max_ttl still bounds it
  UserMap user_map = UserMap::refuse;

  ClaimRules claim_rules() const { return ClaimRules{issuer, audience, azp}; }
};

// The hash fields, in this order; the ones shortcredctl takes as --FIELD
// (with `_` written `-`).
const std::vector<std::string_view>& provider_fields();

// `[A-Za-z0-9_-]{1,64}`, like an org id: it is part of a Redis key.
bool valid_provider_name(std::string_view name) noexcept;

// `https://host[:port][/path]`, or `http://` when host is a loopback
// address (127.0.0.0/8, [::1], localhost); no user info; printable ASCII,
// at most 2048 bytes. Empty when fine, else why not.
std::string check_jwks_url(std::string_view url);

// Every rule of the Provider comment: the required fields present, each
// field well-formed. Empty when valid, else a sentence naming the field.
std::string validate_provider(const Provider& p);

// Sets one field from its stored text (`scope` newline-separated); empty
// when the text parses, else why not. validate_provider checks the whole.
std::string apply_provider_field(Provider& p, std::string_view field, const std::string& value);

// From the hash (field → value); unknown fields are refused, so a typo made
// with redis-cli (`audiance`) does not silently drop a check. Empty when
// valid (then `out` is set), else a sentence naming the field.
std::string provider_from_fields(std::string_view name, const Fields& fields, Provider& out);

// The hash fields of a valid provider; optional ones only when set.
Fields provider_to_fields(const Provider& p);

}  // namespace shortcred::jose
