#include "shortcred/secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <stdexcept>

namespace shortcred {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kLowerAlnum = "0123456789abcdefghijklmnopqrstuvwxyz";

bool is_lower_alnum(unsigned char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z');
}

bool is_base62(unsigned char c) noexcept {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

template <typename Pred>
bool all_of(std::string_view s, Pred p) noexcept {
  return std::all_of(s.begin(), s.end(), [&](char c) { return p(static_cast<unsigned char>(c)); });
}

// `<prefix><id>_<secret>`. Structure is checked before the alphabets so a
// caller learns "wrong length" rather than "bad char" for a truncated paste.
// Only the length and position of the secret are looked at, never echoed.
Errc parse_secret(std::string_view text, std::string_view prefix, SecretParts& out) noexcept {
  if (text.empty()) return Errc::empty;
  if (!text.starts_with(prefix)) return Errc::bad_prefix;
  const auto rest = text.substr(prefix.size());
  const auto sep = rest.find('_');
  if (sep == std::string_view::npos) return Errc::bad_format;
  const auto id = rest.substr(0, sep);
  const auto secret = rest.substr(sep + 1);
  if (id.size() != kIdLen || secret.size() != kSecretLen) return Errc::bad_length;
  if (!all_of(id, is_lower_alnum) || !all_of(secret, is_base62)) return Errc::bad_char;
  out = SecretParts{id, secret};
  return Errc::ok;
}

// Draws `n` symbols of `alphabet` uniformly: a byte is used only if it falls
// below the largest multiple of the alphabet size, so `b % size` carries no
// modulo bias. Rejections are rare (8/256 for base62), so we refill in batches.
// A source that keeps yielding only rejected bytes is broken, not unlucky
// (a CSPRNG does that with probability (8/256)^(64*8)); we throw rather than spin.
std::string random_from(const RandomSource& rnd, std::size_t n, std::string_view alphabet) {
  constexpr int kMaxBarrenBatches = 8;
  const unsigned limit = 256 - 256 % alphabet.size();
  std::string out;
  out.reserve(n);
  std::array<unsigned char, 64> buf{};
  int barren = 0;
  while (out.size() < n) {
    rnd(buf);
    const std::size_t before = out.size();
    for (unsigned char b : buf) {
      if (b >= limit) continue;
      out.push_back(alphabet[b % alphabet.size()]);
      if (out.size() == n) break;
    }
    barren = out.size() == before ? barren + 1 : 0;
    if (barren == kMaxBarrenBatches) {
      throw std::runtime_error("random source yields only out-of-range bytes");
    }
  }
  OPENSSL_cleanse(buf.data(), buf.size());
  return out;
}

Minted mint(const RandomSource& rnd, std::string_view prefix) {
  Minted m;
  m.id = random_lower_alnum(rnd, kIdLen);
  std::string secret = random_base62(rnd, kSecretLen);
  m.sha256_hex = sha256_hex(secret);
  m.full.reserve(prefix.size() + kIdLen + 1 + kSecretLen);
  m.full.append(prefix).append(m.id).append(1, '_').append(secret);
  OPENSSL_cleanse(secret.data(), secret.size());
  return m;
}

}  // namespace

RandomSource openssl_random() {
  return [](std::span<unsigned char> out) {
    // RAND_bytes takes an int length; a larger span is filled in chunks.
    while (!out.empty()) {
      const std::size_t chunk = std::min<std::size_t>(out.size(), INT_MAX);
      if (RAND_bytes(out.data(), static_cast<int>(chunk)) != 1) {
        throw std::runtime_error("RAND_bytes failed: no secure randomness available");
      }
      out = out.subspan(chunk);
    }
  };
}

Errc parse_password(std::string_view password, SecretParts& out) noexcept {
  return parse_secret(password, kTokenPrefix, out);
}

Errc parse_api_key(std::string_view api_key, SecretParts& out) noexcept {
  return parse_secret(api_key, kApiKeyPrefix, out);
}

Errc validate_token_id(std::string_view id) noexcept {
  if (id.empty()) return Errc::empty;
  if (id.size() != kIdLen) return Errc::bad_length;
  return all_of(id, is_lower_alnum) ? Errc::ok : Errc::bad_char;
}

Minted mint_password(const RandomSource& rnd) {
  return mint(rnd, kTokenPrefix);
}

Minted mint_api_key(const RandomSource& rnd) {
  return mint(rnd, kApiKeyPrefix);
}

std::string random_base62(const RandomSource& rnd, std::size_t n) {
  return random_from(rnd, n, kBase62);
}

std::string random_lower_alnum(const RandomSource& rnd, std::size_t n) {
  return random_from(rnd, n, kLowerAlnum);
}

std::string generate_org_id(const RandomSource& rnd) {
  return "org_" + random_lower_alnum(rnd, 12);
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1) {
    throw std::runtime_error("EVP_Digest(SHA-256) failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(2 * len, '\0');
  for (unsigned int i = 0; i < len; ++i) {
    hex[2 * i] = kHex[md[i] >> 4];
    hex[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return hex;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  // The length is not secret (digests are fixed-size); the content is.
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool verify_secret(std::string_view secret, std::string_view stored_sha256_hex) {
  return constant_time_equal(sha256_hex(secret), stored_sha256_hex);
}

}  // namespace shortcred
