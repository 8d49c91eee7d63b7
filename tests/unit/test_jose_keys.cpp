// JWK sets into OpenSSL keys, and the signature check given a key
// (shortcred/jose/jwk.hpp), against keys and signatures made by OpenSSL.
#include <catch2/catch.hpp>
#include <string>

#include "shortcred/jose/base64url.hpp"
#include "shortcred/jose/jwk.hpp"
#include "support/jwt_signer.hpp"

using namespace shortcred::jose;
using support::SigningKey;

namespace {

// One key per algorithm, made once (RSA key generation is slow).
const SigningKey& key_for(Alg alg) {
  static const std::vector<SigningKey> keys = [] {
    std::vector<SigningKey> k;
    for (int i = 0; i < kAlgCount; ++i) {
      const auto a = static_cast<Alg>(i);
      const std::string kid = "k-" + std::string(alg_name(a));
      if (a != Alg::RS256 && a <= Alg::PS512) {
        k.push_back(k.front().with(a, kid));
      } else {
        k.emplace_back(a, kid);
      }
    }
    return k;
  }();
  return keys[static_cast<std::size_t>(alg)];
}

Jwks parse_ok(const std::string& json) {
  Jwks set;
  std::string error;
  REQUIRE(parse_jwks(json, set, error));
  return set;
}

std::string one_key_set(Json::Value jwk) {
  Json::Value set(Json::objectValue);
  set["keys"].append(std::move(jwk));
  return support::json_text(set);
}

}  // namespace

TEST_CASE("every accepted algorithm verifies its own signature and nothing else", "[jose]") {
  for (int i = 0; i < kAlgCount; ++i) {
    const auto alg = static_cast<Alg>(i);
    CAPTURE(alg_name(alg));
    const SigningKey& k = key_for(alg);
    const Jwks set = parse_ok(support::jwks_json({&k}));
    REQUIRE(set.keys.size() == 1);
    const Jwk* jwk = find_key(set, k.kid(), alg);
    REQUIRE(jwk != nullptr);
    const std::string input = "eyJhbGciOiJ9.eyJzdWIiOiJhIn0";
    std::string sig = k.sign(input);
    CHECK(verify_signature(*jwk, alg, input, sig));
    CHECK_FALSE(verify_signature(*jwk, alg, input + "x", sig));
    sig[sig.size() / 2] ^= 0x01;
    CHECK_FALSE(verify_signature(*jwk, alg, input, sig));
    CHECK_FALSE(verify_signature(*jwk, alg, input, ""));
  }
}

TEST_CASE("a key verifies only the algorithms of its type", "[jose]") {
  const SigningKey& rs = key_for(Alg::RS256);
  const Jwks set = parse_ok(support::jwks_json({&rs}));
  const std::string input = "a.b";
  // The key's own alg pins it: RS256 keys are not found for PS256 or RS512.
  CHECK(find_key(set, rs.kid(), Alg::PS256) == nullptr);
  CHECK(find_key(set, rs.kid(), Alg::ES256) == nullptr);
  CHECK(find_key(set, "other", Alg::RS256) == nullptr);
  // Without the key's alg, RSA fits RS* and PS*, but a PKCS#1 v1.5
  // signature is no PSS signature and the other way round.
  Json::Value jwk = rs.jwk();
  jwk.removeMember("alg");
  const Jwks bare = parse_ok(one_key_set(jwk));
  const Jwk* k = find_key(bare, rs.kid(), Alg::PS256);
  REQUIRE(k != nullptr);
  CHECK_FALSE(verify_signature(*k, Alg::PS256, input, rs.sign(input)));
  CHECK_FALSE(verify_signature(*k, Alg::ES256, input, rs.sign(input)));
  CHECK(verify_signature(*k, Alg::RS256, input, rs.sign(input)));
  const SigningKey& ps = key_for(Alg::PS256);
  Json::Value pjwk = ps.jwk();
  pjwk.removeMember("alg");
  const Jwks pset = parse_ok(one_key_set(pjwk));
  CHECK_FALSE(verify_signature(pset.keys.at(0), Alg::RS256, input, ps.sign(input)));
  CHECK(verify_signature(pset.keys.at(0), Alg::PS256, input, ps.sign(input)));
}

TEST_CASE("ECDSA signatures must be r||s of the curve's size", "[jose]") {
  const SigningKey& es = key_for(Alg::ES256);
  const Jwks set = parse_ok(support::jwks_json({&es}));
  const std::string input = "a.b";
  const std::string sig = es.sign(input);
  REQUIRE(sig.size() == 64);
  CHECK_FALSE(verify_signature(set.keys.at(0), Alg::ES256, input, sig.substr(0, 63)));
  CHECK_FALSE(verify_signature(set.keys.at(0), Alg::ES256, input, sig + '\0'));
  CHECK_FALSE(verify_signature(set.keys.at(0), Alg::ES256, input, std::string(64, '\0')));
}

TEST_CASE("key sets skip keys that cannot verify, and keep the others", "[jose]") {
  const SigningKey& rs = key_for(Alg::RS256);
  Json::Value set(Json::objectValue);
  set["keys"].append(rs.jwk());
  Json::Value enc = key_for(Alg::RS384).jwk();
  enc["use"] = "enc";
  set["keys"].append(enc);
  Json::Value ops = key_for(Alg::ES256).jwk();
  ops["key_ops"].append("encrypt");
  set["keys"].append(ops);
  Json::Value no_kid = key_for(Alg::ES384).jwk();
  no_kid.removeMember("kid");
  set["keys"].append(no_kid);
  Json::Value hmac(Json::objectValue);
  hmac["kty"] = "oct";
  hmac["kid"] = "h";
  hmac["k"] = "c2VjcmV0";
  set["keys"].append(hmac);
  Json::Value off_curve = key_for(Alg::ES256).jwk();
  off_curve["kid"] = "off";
  std::string y = *base64url_decode(off_curve["y"].asString());
  y[31] ^= 1;
  off_curve["y"] = base64url_encode(y);
  set["keys"].append(off_curve);
  Json::Value short_x = key_for(Alg::ES256).jwk();
  short_x["kid"] = "short";
  short_x["x"] = base64url_encode(base64url_decode(short_x["x"].asString())->substr(1));
  set["keys"].append(short_x);
  Json::Value small_rsa = rs.jwk();
  small_rsa["kid"] = "small";
  small_rsa["n"] = base64url_encode(base64url_decode(small_rsa["n"].asString())->substr(0, 128));
  set["keys"].append(small_rsa);
  Json::Value even_e = rs.jwk();
  even_e["kid"] = "even";
  even_e["e"] = "AQAA";
  set["keys"].append(even_e);
  Json::Value wrong_alg = key_for(Alg::ES256).jwk();
  wrong_alg["kid"] = "wrong-alg";
  wrong_alg["alg"] = "RS256";
  set["keys"].append(wrong_alg);
  Json::Value ed448 = key_for(Alg::EdDSA).jwk();
  ed448["kid"] = "ed448";
  ed448["crv"] = "Ed448";
  set["keys"].append(ed448);
  const Jwks parsed = parse_ok(support::json_text(set));
  REQUIRE(parsed.keys.size() == 1);
  CHECK(parsed.keys[0].kid == rs.kid());
  CHECK(parsed.skipped == 10);
}

TEST_CASE("a key set that is not a JSON object with keys fails whole", "[jose]") {
  Jwks set;
  std::string error;
  for (const std::string bad : {"<html>", "", "[]", R"({"keys":{}})", R"({"kys":[]})",
                                R"({"keys":[],"keys":[]})"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_jwks(bad, set, error));
    CHECK_FALSE(error.empty());
  }
  std::string many = R"({"keys":[)";
  for (std::size_t i = 0; i <= kMaxJwksKeys; ++i) many += (i ? ",{}" : "{}");
  CHECK_FALSE(parse_jwks(many + "]}", set, error));
  CHECK_FALSE(parse_jwks(std::string(kMaxJwksBytes + 1, ' '), set, error));
  CHECK(parse_jwks(R"({"keys":[]})", set, error));
  CHECK(set.keys.empty());
}
