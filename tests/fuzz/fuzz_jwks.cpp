// Feeds arbitrary bytes to the JWK set parser (what a provider's key URL
// returns) and verifies a signature with every key it accepts: no crash, no
// leak, and no key accepted whose type does not fit its own `alg`.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "shortcred/jose/jwk.hpp"

using namespace shortcred::jose;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  Jwks set;
  std::string error;
  if (!parse_jwks(text, set, error)) {
    check(!error.empty());
    return 0;
  }
  check(set.keys.size() <= kMaxJwksKeys);
  // Any bytes are no valid signature (the fuzzer does not hold the keys).
  const std::string_view sig = text.substr(0, 132);
  for (const auto& k : set.keys) {
    check(k.key != nullptr && !k.kid.empty());
    if (k.alg) check(alg_fits(*k.alg, k.type));
    for (int i = 0; i < kAlgCount; ++i) {
      const auto alg = static_cast<Alg>(i);
      check(!verify_signature(k, alg, "header.payload", sig) || alg_fits(alg, k.type));
      if (find_key(set, k.kid, alg) != nullptr) check(alg_fits(alg, k.type));
    }
  }
  return 0;
}
