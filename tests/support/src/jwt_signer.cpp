#include "support/jwt_signer.hpp"

#include <json/writer.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <stdexcept>

#include "shortcred/jose/base64url.hpp"

namespace support {
namespace {

using shortcred::jose::Alg;
using shortcred::jose::base64url_encode;

bool is_rsa(Alg a) { return a <= Alg::PS512; }
bool is_pss(Alg a) { return a >= Alg::PS256 && a <= Alg::PS512; }
bool is_ec(Alg a) { return a >= Alg::ES256 && a <= Alg::ES512; }

const EVP_MD* md_of(Alg a) {
  switch (a) {
    case Alg::RS256: case Alg::PS256: case Alg::ES256: return EVP_sha256();
    case Alg::RS384: case Alg::PS384: case Alg::ES384: return EVP_sha384();
    case Alg::RS512: case Alg::PS512: case Alg::ES512: return EVP_sha512();
    case Alg::EdDSA: return nullptr;
  }
  return nullptr;
}

const char* curve_of(Alg a) { return a == Alg::ES256 ? "P-256" : a == Alg::ES384 ? "P-384" : "P-521"; }
std::size_t coord_of(Alg a) { return a == Alg::ES256 ? 32 : a == Alg::ES384 ? 48 : 66; }

std::string bn_param(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) throw std::runtime_error("no key parameter");
  std::string out(static_cast<std::size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

void need(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL: ") + what);
}

}  // namespace

std::string json_text(const Json::Value& v) {
  Json::StreamWriterBuilder w;
  w["indentation"] = "";
  return Json::writeString(w, v);
}

SigningKey::SigningKey(Alg alg, std::string kid) : alg_(alg), kid_(std::move(kid)) {
  EVP_PKEY* k = nullptr;
  if (is_rsa(alg)) {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  } else if (is_ec(alg)) {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve_of(alg));
  } else {
    k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  }
  need(k != nullptr, "keygen");
  key_.reset(k, EVP_PKEY_free);
}

SigningKey SigningKey::with(Alg alg, std::string kid) const {
  SigningKey k = *this;
  k.alg_ = alg;
  k.kid_ = std::move(kid);
  return k;
}

Json::Value SigningKey::jwk() const {
  Json::Value j(Json::objectValue);
  j["kid"] = kid_;
  j["alg"] = std::string(shortcred::jose::alg_name(alg_));
  j["use"] = "sig";
  if (is_rsa(alg_)) {
    j["kty"] = "RSA";
    j["n"] = base64url_encode(bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_N));
    j["e"] = base64url_encode(bn_param(key_.get(), OSSL_PKEY_PARAM_RSA_E));
  } else if (is_ec(alg_)) {
    j["kty"] = "EC";
    j["crv"] = curve_of(alg_);
    const std::size_t n = coord_of(alg_);
    unsigned char point[1 + 2 * 66];
    size_t len = 0;
    need(EVP_PKEY_get_octet_string_param(key_.get(), OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point,
                                         &len) == 1 && len == 1 + 2 * n,
         "EC point");
    j["x"] = base64url_encode(std::string_view(reinterpret_cast<char*>(point + 1), n));
    j["y"] = base64url_encode(std::string_view(reinterpret_cast<char*>(point + 1 + n), n));
  } else {
    j["kty"] = "OKP";
    j["crv"] = "Ed25519";
    unsigned char raw[32];
    size_t len = sizeof raw;
    need(EVP_PKEY_get_raw_public_key(key_.get(), raw, &len) == 1, "Ed25519 key");
    j["x"] = base64url_encode(std::string_view(reinterpret_cast<char*>(raw), len));
  }
  return j;
}

std::string SigningKey::sign(std::string_view input) const {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_PKEY_CTX* pctx = nullptr;
  need(EVP_DigestSignInit(md.get(), &pctx, md_of(alg_), nullptr, key_.get()) == 1, "sign init");
  if (is_pss(alg_)) {
    need(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1,
         "PSS");
  }
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  need(EVP_DigestSign(md.get(), nullptr, &len, in, input.size()) == 1, "sign size");
  std::string sig(len, '\0');
  need(EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                      input.size()) == 1,
       "sign");
  sig.resize(len);
  if (!is_ec(alg_)) return sig;
  // DER → r‖s, each padded to the curve size.
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  need(es != nullptr, "ECDSA DER");
  const std::size_t n = coord_of(alg_);
  std::string out(2 * n, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  BN_bn2binpad(ECDSA_SIG_get0_r(es), o, static_cast<int>(n));
  BN_bn2binpad(ECDSA_SIG_get0_s(es), o + n, static_cast<int>(n));
  ECDSA_SIG_free(es);
  return out;
}

std::string SigningKey::public_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  need(bio != nullptr && PEM_write_bio_PUBKEY(bio, key_.get()) == 1, "PEM");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  return out;
}

std::string jwks_json(const std::vector<const SigningKey*>& keys) {
  Json::Value set(Json::objectValue);
  set["keys"] = Json::Value(Json::arrayValue);
  for (const auto* k : keys) set["keys"].append(k->jwk());
  return json_text(set);
}

std::string unsigned_jwt(const Json::Value& header, const Json::Value& claims,
                         std::string_view signature) {
  return base64url_encode(json_text(header)) + "." + base64url_encode(json_text(claims)) + "." +
         base64url_encode(signature);
}

std::string sign_jwt(const SigningKey& key, Json::Value header, const Json::Value& claims) {
  if (!header.isMember("alg")) header["alg"] = std::string(shortcred::jose::alg_name(key.alg()));
  if (!header.isMember("kid")) header["kid"] = key.kid();
  const std::string input =
      base64url_encode(json_text(header)) + "." + base64url_encode(json_text(claims));
  return input + "." + base64url_encode(key.sign(input));
}

std::string hs256_jwt(const Json::Value& header, const Json::Value& claims,
                      std::string_view secret) {
  const std::string input =
      base64url_encode(json_text(header)) + "." + base64url_encode(json_text(claims));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + base64url_encode(std::string_view(reinterpret_cast<char*>(mac), len));
}

}  // namespace support
