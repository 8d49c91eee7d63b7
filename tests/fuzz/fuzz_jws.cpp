// Feeds arbitrary bytes to the identity-provider token path that runs
// before any key is known: JWS compact parsing, the header and claim checks
// and the user-claim mapping, and checks what they promise: a parsed token
// has object header and claims and a signing input that is a prefix of the
// token; a mapped user id is always a valid one (so never a topic wildcard
// or separator).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "shortcred/ids.hpp"
#include "shortcred/jose/jws.hpp"
#include "shortcred/jose/user_map.hpp"

using namespace shortcred;
using namespace shortcred::jose;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view token(reinterpret_cast<const char*>(data), size);
  Jws jws;
  const auto parse_failure = parse_jws(token, jws);
  if (parse_failure) {
    check(!parse_failure->check.empty());
    return 0;
  }
  check(size <= kMaxTokenBytes);
  check(jws.header.isObject() && jws.claims.isObject());
  check(token.substr(0, jws.signing_input.size()) == jws.signing_input);
  check(token[jws.signing_input.size()] == '.');

  AlgSet all;
  for (int i = 0; i < kAlgCount; ++i) all.add(static_cast<Alg>(i));
  CheckedHeader h;
  if (!check_header(jws, all, h)) check(!h.kid.empty());

  std::int64_t exp = 0;
  const ClaimRules rules{unverified_issuer(jws), "app", ""};
  (void)check_claims(jws.claims, rules, 1'800'000'000, exp);

  for (UserMap m : {UserMap::refuse, UserMap::encode, UserMap::hash}) {
    std::string why;
    const auto user = user_from_claims(jws.claims, "sub", m, why);
    check(user ? validate_user_id(*user) == Errc::ok : !why.empty());
  }
  return 0;
}
