// The signature check given a key (RFC 7518 §3.3-3.5, RFC 8037 §3.1).
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "shortcred/jose/jwk.hpp"

namespace shortcred::jose {
namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};
struct SigFree {
  void operator()(ECDSA_SIG* s) const noexcept { ECDSA_SIG_free(s); }
};

const EVP_MD* digest_of(Alg alg) noexcept {
  switch (alg) {
    case Alg::RS256:
    case Alg::PS256:
    case Alg::ES256:
      return EVP_sha256();
    case Alg::RS384:
    case Alg::PS384:
    case Alg::ES384:
      return EVP_sha384();
    case Alg::RS512:
    case Alg::PS512:
    case Alg::ES512:
      return EVP_sha512();
    case Alg::EdDSA:
      return nullptr;  // Ed25519 hashes internally
  }
  return nullptr;
}

bool is_pss(Alg a) noexcept { return a == Alg::PS256 || a == Alg::PS384 || a == Alg::PS512; }
bool is_ecdsa(Alg a) noexcept { return a == Alg::ES256 || a == Alg::ES384 || a == Alg::ES512; }

std::size_t coord_bytes(Alg a) noexcept {
  return a == Alg::ES256 ? 32 : a == Alg::ES384 ? 48 : 66;
}

// JOSE sends ECDSA signatures as r‖s, each left-padded to the curve size;
// OpenSSL verifies the DER SEQUENCE { r INTEGER, s INTEGER }.
std::optional<std::string> ecdsa_der(Alg alg, std::string_view sig) {
  const std::size_t n = coord_bytes(alg);
  if (sig.size() != 2 * n) return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  BIGNUM* r = BN_bin2bn(p, static_cast<int>(n), nullptr);
  BIGNUM* s = BN_bin2bn(p + n, static_cast<int>(n), nullptr);
  std::unique_ptr<ECDSA_SIG, SigFree> es(ECDSA_SIG_new());
  if (!r || !s || !es || ECDSA_SIG_set0(es.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(es.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

bool digest_verify(const Jwk& key, Alg alg, std::string_view input, std::string_view sig) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (!md || EVP_DigestVerifyInit(md.get(), &pctx, digest_of(alg), nullptr, key.key.get()) != 1) {
    return false;
  }
  if (key.type == KeyType::rsa) {
    // A signature shorter or longer than the modulus is malformed, not merely wrong.
    if (sig.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key.key.get()))) return false;
    const int padding = is_pss(alg) ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING;
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1) return false;
    if (is_pss(alg) && (EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
                        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digest_of(alg)) != 1)) {
      return false;
    }
  }
  return EVP_DigestVerify(md.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                          reinterpret_cast<const unsigned char*>(input.data()),
                          input.size()) == 1;
}

}  // namespace

bool verify_signature(const Jwk& key, Alg alg, std::string_view signing_input,
                      std::string_view signature) noexcept {
  if (!key.key || !alg_fits(alg, key.type)) return false;
  bool ok = false;
  try {
    if (is_ecdsa(alg)) {
      const auto der = ecdsa_der(alg, signature);
      ok = der && digest_verify(key, alg, signing_input, *der);
    } else if (alg == Alg::EdDSA) {
      ok = signature.size() == 64 && digest_verify(key, alg, signing_input, signature);
    } else {
      ok = digest_verify(key, alg, signing_input, signature);
    }
  } catch (...) {
    ok = false;  // allocation failure: not verified
  }
  ERR_clear_error();  // a failed verification leaves errors in the thread's queue
  return ok;
}

}  // namespace shortcred::jose
