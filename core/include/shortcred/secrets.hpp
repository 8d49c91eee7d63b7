// Passwords (`tkn_<token id>_<secret>`), API keys (`sk_<key id>_<secret>`),
// their generation, hashing and constant-time verification.
//
// Wire format: id = 16 chars [0-9a-z]; secret = 40 chars base62
// [0-9A-Za-z] from a CSPRNG. Only the lower-case hex SHA-256 of the secret is
// ever stored; comparisons use CRYPTO_memcmp.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "shortcred/errc.hpp"

namespace shortcred {

inline constexpr std::size_t kIdLen = 16;      // token id and API key id
inline constexpr std::size_t kSecretLen = 40;  // base62 secret
inline constexpr std::string_view kTokenPrefix = "tkn_";
inline constexpr std::string_view kApiKeyPrefix = "sk_";
inline constexpr std::size_t kPasswordLen = 4 + kIdLen + 1 + kSecretLen;  // 61
inline constexpr std::size_t kApiKeyLen = 3 + kIdLen + 1 + kSecretLen;    // 60

// Randomness is injected so tests are deterministic. Must fill the whole span
// or throw; the production source wraps OpenSSL RAND_bytes.
using RandomSource = std::function<void(std::span<unsigned char>)>;
RandomSource openssl_random();

// Views into the parsed input; valid while the input lives.
struct SecretParts {
  std::string_view id;
  std::string_view secret;
};

// Strict parsers: exact prefix, exact lengths, exact alphabets. They never
// copy the secret and their errors never mention it.
Errc parse_password(std::string_view password, SecretParts& out) noexcept;
Errc parse_api_key(std::string_view api_key, SecretParts& out) noexcept;
Errc validate_token_id(std::string_view id) noexcept;  // also used for key ids

// A freshly minted secret: `full` is shown once to its owner, `sha256_hex`
// is what gets stored.
struct Minted {
  std::string id;
  std::string full;
  std::string sha256_hex;
};
Minted mint_password(const RandomSource& rnd);
Minted mint_api_key(const RandomSource& rnd);

// Uniform random strings (rejection sampling, no modulo bias).
std::string random_base62(const RandomSource& rnd, std::size_t n);
std::string random_lower_alnum(const RandomSource& rnd, std::size_t n);  // [0-9a-z]
std::string generate_org_id(const RandomSource& rnd);  // "org_" + 12 [a-z0-9]

std::string sha256_hex(std::string_view data);
// Length-checked, then CRYPTO_memcmp: no early exit on the first differing byte.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;
// sha256_hex(secret) compared in constant time with the stored hex digest.
bool verify_secret(std::string_view secret, std::string_view stored_sha256_hex);

}  // namespace shortcred
