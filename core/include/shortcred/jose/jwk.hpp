// JSON Web Keys (RFC 7517) of an identity provider, turned into OpenSSL 3
// public keys with EVP_PKEY_fromdata: RSA (n, e), EC P-256/P-384/P-521
// (x, y) and OKP Ed25519 (x). Pure: parses what the caller fetched.
#pragma once

#include <openssl/evp.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/jose/algorithm.hpp"

namespace shortcred::jose {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

enum class KeyType : std::uint8_t { rsa, ec_p256, ec_p384, ec_p521, ed25519 };

// Whether `alg` signs with keys of type `t` (ES256 only with P-256, …).
bool alg_fits(Alg alg, KeyType t) noexcept;

struct Jwk {
  std::string kid;
  KeyType type = KeyType::rsa;
  std::optional<Alg> alg;  // the key's own `alg`, when it names one
  PkeyPtr key;
};

// Bounds: RSA moduli of 2048-8192 bits (smaller ones are breakable, larger
// ones only cost verification time); at most kMaxJwksKeys keys; a document of
// at most kMaxJwksBytes.
inline constexpr std::size_t kMaxJwksBytes = 256 * 1024;
inline constexpr std::size_t kMaxJwksKeys = 64;

struct Jwks {
  std::vector<Jwk> keys;
  // Entries left out because this service cannot verify with them: another
  // `use` (enc), `key_ops` without verify, an unknown kty or curve, no kid,
  // a key too small, or material that does not make a valid public key.
  // One odd entry must not cost a provider all its keys.
  std::size_t skipped = 0;
};

// Parses `{"keys":[…]}`. Fails (false, `error` a sentence, never key
// material) when the document is too large, not strict JSON, not an object
// with a `keys` array, or has more than kMaxJwksKeys entries.
bool parse_jwks(std::string_view json, Jwks& out, std::string& error);

// The key with `kid` that can verify `alg` (type fits, and the key's own
// `alg`, if any, is `alg`); nullptr when there is none.
const Jwk* find_key(const Jwks& set, std::string_view kid, Alg alg) noexcept;

// Whether `signature` is a valid `alg` signature over `signing_input` by
// `key` (EVP_DigestVerify; RSA-PSS with MGF1 of the same hash and a salt of
// the hash's length; ECDSA's JOSE r‖s converted to DER first). False for a
// key whose type does not fit `alg`.
bool verify_signature(const Jwk& key, Alg alg, std::string_view signing_input,
                      std::string_view signature) noexcept;

}  // namespace shortcred::jose
