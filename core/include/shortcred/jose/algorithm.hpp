// The JWS signature algorithms an identity provider may use (RFC 7518 §3,
// RFC 8037 §3.1). Only asymmetric ones: `none` and the HMAC family (HS*)
// are never accepted, because a provider's key set is public and an HMAC
// "signed" with a public key proves nothing (algorithm confusion).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace shortcred::jose {

enum class Alg : std::uint8_t {
  RS256, RS384, RS512,  // RSASSA-PKCS1-v1_5
  PS256, PS384, PS512,  // RSASSA-PSS, MGF1 with the same hash, salt = hash length
  ES256, ES384, ES512,  // ECDSA on P-256 / P-384 / P-521, signature r‖s
  EdDSA,                // Ed25519
};
inline constexpr int kAlgCount = 10;

std::optional<Alg> parse_alg(std::string_view name) noexcept;
std::string_view alg_name(Alg a) noexcept;

// A set of algorithms, as a provider's `algorithms` field holds it.
class AlgSet {
 public:
  constexpr AlgSet() = default;
  static AlgSet defaults() noexcept;  // RS256, ES256
  void add(Alg a) noexcept { bits_ |= bit(a); }
  bool has(Alg a) const noexcept { return (bits_ & bit(a)) != 0; }
  bool empty() const noexcept { return bits_ == 0; }
  std::string to_string() const;  // `RS256,ES256`, in enum order
  bool operator==(const AlgSet&) const = default;

 private:
  static constexpr std::uint16_t bit(Alg a) noexcept {
    return static_cast<std::uint16_t>(1U << static_cast<unsigned>(a));
  }
  std::uint16_t bits_ = 0;
};

// `RS256,ES256` (commas, optional spaces). On failure `error` names the
// entry and why (`HS256 is never accepted: …`); `out` is untouched.
bool parse_alg_list(std::string_view text, AlgSet& out, std::string& error);

}  // namespace shortcred::jose
