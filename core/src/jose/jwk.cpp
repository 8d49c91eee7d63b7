#include "shortcred/jose/jwk.hpp"

#include <json/value.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "shortcred/jose/base64url.hpp"
#include "shortcred/jose/strict_json.hpp"

namespace shortcred::jose {
namespace {

constexpr std::size_t kMaxKidBytes = 256;
constexpr std::size_t kMinRsaBits = 2048;
constexpr std::size_t kMaxRsaBits = 8192;

struct BnFree {
  void operator()(BIGNUM* b) const noexcept { BN_free(b); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* b) const noexcept { OSSL_PARAM_BLD_free(b); }
};
struct ParamsFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* c) const noexcept { EVP_PKEY_CTX_free(c); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using BldPtr = std::unique_ptr<OSSL_PARAM_BLD, BldFree>;
using ParamsPtr = std::unique_ptr<OSSL_PARAM, ParamsFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// A base64url member decoded, or nullopt when absent or not a string.
std::optional<std::string> b64_member(const Json::Value& jwk, const char* name) {
  const Json::Value& v = jwk[name];
  if (!v.isString()) return std::nullopt;
  return base64url_decode(v.asString());
}

std::string_view strip_leading_zeros(std::string_view s) {
  while (!s.empty() && s.front() == '\0') s.remove_prefix(1);
  return s;
}

// Builds a public key of OpenSSL type `type` from `bld`'s parameters, and
// checks it (an EC point on its curve).
PkeyPtr from_params(const char* type, OSSL_PARAM_BLD* bld) {
  ParamsPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  PkeyPtr key(raw);
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

PkeyPtr rsa_key(const Json::Value& jwk) {
  const auto n_bytes = b64_member(jwk, "n");
  const auto e_bytes = b64_member(jwk, "e");
  if (!n_bytes || !e_bytes) return nullptr;
  const std::string_view n = strip_leading_zeros(*n_bytes);
  const std::string_view e = strip_leading_zeros(*e_bytes);
  const std::size_t bits = n.size() * 8;
  if (bits < kMinRsaBits || bits > kMaxRsaBits) return nullptr;
  // e odd, at least 3, at most 64 bits (65537 in practice).
  if (e.empty() || e.size() > 8 || (static_cast<unsigned char>(e.back()) & 1) == 0 ||
      (e.size() == 1 && static_cast<unsigned char>(e[0]) < 3)) {
    return nullptr;
  }
  const auto* np = reinterpret_cast<const unsigned char*>(n.data());
  const auto* ep = reinterpret_cast<const unsigned char*>(e.data());
  BnPtr bn_n(BN_bin2bn(np, static_cast<int>(n.size()), nullptr));
  BnPtr bn_e(BN_bin2bn(ep, static_cast<int>(e.size()), nullptr));
  BldPtr bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return nullptr;
  }
  return from_params("RSA", bld.get());
}

struct Curve {
  std::string_view crv;       // JWK name
  const char* group;          // OpenSSL group name
  std::size_t coord_bytes;
  KeyType type;
};
constexpr Curve kCurves[] = {
    {"P-256", "prime256v1", 32, KeyType::ec_p256},
    {"P-384", "secp384r1", 48, KeyType::ec_p384},
    {"P-521", "secp521r1", 66, KeyType::ec_p521},
};

PkeyPtr ec_key(const Json::Value& jwk, KeyType& type) {
  if (!jwk["crv"].isString()) return nullptr;
  const std::string crv = jwk["crv"].asString();
  const Curve* curve = nullptr;
  for (const auto& c : kCurves) {
    if (c.crv == crv) curve = &c;
  }
  if (curve == nullptr) return nullptr;
  const auto x = b64_member(jwk, "x");
  const auto y = b64_member(jwk, "y");
  // RFC 7518 §6.2.1.2: each coordinate is exactly the curve's size.
  if (!x || !y || x->size() != curve->coord_bytes || y->size() != curve->coord_bytes) {
    return nullptr;
  }
  const std::string point = std::string(1, '\x04') + *x + *y;  // uncompressed
  BldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return nullptr;
  }
  type = curve->type;
  return from_params("EC", bld.get());
}

PkeyPtr okp_key(const Json::Value& jwk) {
  // Ed25519 only: Ed448 and the X25519/X448 key-agreement curves are not
  // signature keys JWT providers use.
  if (!jwk["crv"].isString() || jwk["crv"].asString() != "Ed25519") return nullptr;
  const auto x = b64_member(jwk, "x");
  if (!x || x->size() != 32) return nullptr;
  BldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, x->data(),
                                                x->size())) {
    return nullptr;
  }
  return from_params("ED25519", bld.get());
}

// `use` and `key_ops`, when present, must allow verifying signatures.
bool usable_for_signatures(const Json::Value& jwk) {
  const Json::Value& use = jwk["use"];
  if (!use.isNull() && (!use.isString() || use.asString() != "sig")) return false;
  const Json::Value& ops = jwk["key_ops"];
  if (ops.isNull()) return true;
  if (!ops.isArray()) return false;
  for (const auto& op : ops) {
    if (op.isString() && op.asString() == "verify") return true;
  }
  return false;
}

std::optional<Jwk> parse_key(const Json::Value& jwk) {
  if (!jwk.isObject() || !usable_for_signatures(jwk)) return std::nullopt;
  const Json::Value& kid = jwk["kid"];
  const Json::Value& kty = jwk["kty"];
  if (!kid.isString() || kid.asString().empty() || kid.asString().size() > kMaxKidBytes ||
      !kty.isString()) {
    return std::nullopt;
  }
  Jwk out;
  out.kid = kid.asString();
  const Json::Value& alg = jwk["alg"];
  if (!alg.isNull()) {
    if (!alg.isString()) return std::nullopt;
    out.alg = parse_alg(alg.asString());
    if (!out.alg) return std::nullopt;  // an algorithm we never accept (HS256, RSA-OAEP…)
  }
  const std::string type = kty.asString();
  if (type == "RSA") {
    out.type = KeyType::rsa;
    out.key = rsa_key(jwk);
  } else if (type == "EC") {
    out.key = ec_key(jwk, out.type);
  } else if (type == "OKP") {
    out.type = KeyType::ed25519;
    out.key = okp_key(jwk);
  }
  if (!out.key || (out.alg && !alg_fits(*out.alg, out.type))) return std::nullopt;
  return out;
}

}  // namespace

bool alg_fits(Alg alg, KeyType t) noexcept {
  switch (alg) {
    case Alg::RS256:
    case Alg::RS384:
    case Alg::RS512:
    case Alg::PS256:
    case Alg::PS384:
    case Alg::PS512:
      return t == KeyType::rsa;
    case Alg::ES256:
      return t == KeyType::ec_p256;
    case Alg::ES384:
      return t == KeyType::ec_p384;
    case Alg::ES512:
      return t == KeyType::ec_p521;
    case Alg::EdDSA:
      return t == KeyType::ed25519;
  }
  return false;
}

bool parse_jwks(std::string_view json, Jwks& out, std::string& error) {
  if (json.size() > kMaxJwksBytes) {
    error = "the key set is larger than " + std::to_string(kMaxJwksBytes) + " bytes";
    return false;
  }
  Json::Value root;
  if (!parse_strict_json(json, root)) {
    error = "the key set is not valid JSON";
    return false;
  }
  if (!root.isObject() || !root["keys"].isArray()) {
    error = "the key set is not a JSON object with a keys array";
    return false;
  }
  const Json::Value& keys = root["keys"];
  if (keys.size() > kMaxJwksKeys) {
    error = "the key set holds more than " + std::to_string(kMaxJwksKeys) + " keys";
    return false;
  }
  Jwks set;
  for (const auto& entry : keys) {
    auto key = parse_key(entry);
    if (key) {
      set.keys.push_back(std::move(*key));
    } else {
      ++set.skipped;
    }
  }
  ERR_clear_error();  // refused key material leaves OpenSSL errors behind
  out = std::move(set);
  return true;
}

const Jwk* find_key(const Jwks& set, std::string_view kid, Alg alg) noexcept {
  for (const auto& k : set.keys) {
    if (k.kid == kid && alg_fits(alg, k.type) && (!k.alg || *k.alg == alg)) return &k;
  }
  return nullptr;
}

}  // namespace shortcred::jose
