// Test identity provider: key pairs of every accepted algorithm, their
// public JWKs, and JWTs signed with them (OpenSSL), so tests make the tokens
// a real provider would send, and the broken ones an attacker would.
#pragma once

#include <json/value.h>
#include <openssl/evp.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/jose/algorithm.hpp"

namespace support {

class SigningKey {
 public:
  // A fresh key for `alg`: RSA 2048 for RS*/PS*, the alg's curve for ES*,
  // Ed25519 for EdDSA.
  SigningKey(shortcred::jose::Alg alg, std::string kid);

  // The same key pair under another kid and algorithm of its type (RSA key
  // generation is slow: one pair serves RS* and PS*).
  SigningKey with(shortcred::jose::Alg alg, std::string kid) const;

  shortcred::jose::Alg alg() const { return alg_; }
  const std::string& kid() const { return kid_; }
  // The public JWK (kty, kid, alg, use sig and the key's parameters).
  Json::Value jwk() const;
  // The JOSE signature (r‖s for ECDSA) of `input`.
  std::string sign(std::string_view input) const;
  // The SubjectPublicKeyInfo PEM: the "secret" of an algorithm-confusion
  // HS256 token.
  std::string public_pem() const;

 private:
  shortcred::jose::Alg alg_;
  std::string kid_;
  std::shared_ptr<EVP_PKEY> key_;
};

// `{"keys":[…]}` of the keys' public JWKs.
std::string jwks_json(const std::vector<const SigningKey*>& keys);

// base64url(header).base64url(claims).base64url(signature). The header gets
// `alg` and `kid` from the key unless it sets them itself.
std::string sign_jwt(const SigningKey& key, Json::Value header, const Json::Value& claims);

// A token with `header` and `claims` and any signature bytes.
std::string unsigned_jwt(const Json::Value& header, const Json::Value& claims,
                         std::string_view signature = {});

// HS256 over header.claims with `secret` (for the confusion attack).
std::string hs256_jwt(const Json::Value& header, const Json::Value& claims,
                      std::string_view secret);

// Compact JSON text of `v`.
std::string json_text(const Json::Value& v);

}  // namespace support
