// JWS parsing, header and claim checks, user-claim mapping and provider
// config (shortcred/jose), with the clock passed in.
#include <catch2/catch.hpp>
#include <set>
#include <string>

#include "shortcred/ids.hpp"
#include "shortcred/jose/base64url.hpp"
#include "shortcred/jose/jws.hpp"
#include "shortcred/jose/provider.hpp"
#include "shortcred/jose/user_map.hpp"
#include "support/jwt_signer.hpp"

using namespace shortcred::jose;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;

Json::Value header(const char* alg = "RS256", const char* kid = "k1") {
  Json::Value h(Json::objectValue);
  h["alg"] = alg;
  h["kid"] = kid;
  h["typ"] = "JWT";
  return h;
}

Json::Value claims() {
  Json::Value c(Json::objectValue);
  c["iss"] = "https://idp.example";
  c["aud"] = "app";
  c["sub"] = "user-1";
  c["exp"] = Json::Int64(kNow + 600);
  c["iat"] = Json::Int64(kNow);
  return c;
}

const ClaimRules kRules{"https://idp.example", "app", ""};

Jws parsed(const Json::Value& h, const Json::Value& c) {
  Jws jws;
  REQUIRE_FALSE(parse_jws(support::unsigned_jwt(h, c, "sig"), jws));
  return jws;
}

std::string header_failure(const Json::Value& h, AlgSet allowed = AlgSet::defaults()) {
  CheckedHeader out;
  const auto f = check_header(parsed(h, claims()), allowed, out);
  return f ? f->check : "";
}

std::string claims_failure(const Json::Value& c, const ClaimRules& rules = kRules,
                           std::int64_t now = kNow) {
  std::int64_t exp = 0;
  const auto f = check_claims(c, rules, now, exp);
  if (f) CHECK(f->message.rfind(f->check + ": ", 0) == 0);
  return f ? f->check : "";
}

}  // namespace

TEST_CASE("a JWS is three strict base64url parts with JSON object header and payload", "[jose]") {
  Jws jws;
  const std::string good = support::unsigned_jwt(header(), claims(), "sig");
  REQUIRE_FALSE(parse_jws(good, jws));
  CHECK(jws.signature == "sig");
  CHECK(jws.signing_input == good.substr(0, good.rfind('.')));
  CHECK(unverified_issuer(jws) == "https://idp.example");
  const std::string h = base64url_encode(support::json_text(header()));
  const std::string p = base64url_encode(support::json_text(claims()));
  struct Case {
    std::string token, check;
  };
  const Case cases[] = {
      {h + "." + p, "format"},
      {h + "." + p + ".c2ln.x", "format"},
      {h + "=." + p + ".c2ln", "format"},
      {base64url_encode("[1]") + "." + p + ".c2ln", "format"},
      {h + "." + base64url_encode("\"s\"") + ".c2ln", "format"},
      {h + "." + base64url_encode("{\"a\":1,\"a\":2}") + ".c2ln", "format"},
      {h + "." + p + ".c2ln=", "format"},
      {base64url_encode("{\"alg\":1}") + "." + p + ".c2ln", "alg"},
      {h + "." + p + "." + std::string(kMaxTokenBytes, 'A'), "size"},
      {"", "format"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.token.substr(0, 80));
    const auto f = parse_jws(c.token, jws);
    REQUIRE(f);
    CHECK(f->check == c.check);
  }
}

TEST_CASE("the header must name an allowed asymmetric alg and a kid, and no crit", "[jose]") {
  CHECK(header_failure(header()).empty());
  CHECK(header_failure(header("none")) == "alg");
  CHECK(header_failure(header("HS256")) == "alg");
  CHECK(header_failure(header("RS512")) == "alg");  // not among the defaults
  AlgSet all;
  for (int i = 0; i < kAlgCount; ++i) all.add(static_cast<Alg>(i));
  CHECK(header_failure(header("RS512"), all).empty());
  CHECK(header_failure(header("EdDSA"), all).empty());
  CHECK(header_failure(header("rs256"), all) == "alg");
  Json::Value crit = header();
  crit["crit"].append("exp");
  CHECK(header_failure(crit) == "crit");
  Json::Value no_kid = header();
  no_kid.removeMember("kid");
  CHECK(header_failure(no_kid) == "kid");
  CHECK(header_failure(header("RS256", "")) == "kid");
  for (const char* typ : {"JWT", "jwt", "at+jwt", "application/jwt"}) {
    Json::Value h = header();
    h["typ"] = typ;
    CHECK(header_failure(h).empty());
  }
  for (const char* typ : {"dpop+jwt", "JOSE+JSON", ""}) {
    Json::Value h = header();
    h["typ"] = typ;
    CHECK(header_failure(h) == "typ");
  }
  Json::Value no_typ = header();
  no_typ.removeMember("typ");
  CHECK(header_failure(no_typ).empty());
  Json::Value zip = header();
  zip["zip"] = "DEF";
  CHECK(header_failure(zip) == "format");
}

TEST_CASE("claims: iss exact, aud string or array, exp required, 30 s leeway", "[jose]") {
  CHECK(claims_failure(claims()).empty());
  std::int64_t exp = 0;
  REQUIRE_FALSE(check_claims(claims(), kRules, kNow, exp));
  CHECK(exp == kNow + 600);

  Json::Value c = claims();
  c["iss"] = "https://idp.example/";
  CHECK(claims_failure(c) == "iss");
  c.removeMember("iss");
  CHECK(claims_failure(c) == "iss");

  c = claims();
  c["aud"] = "other";
  CHECK(claims_failure(c) == "aud");
  c["aud"] = Json::Value(Json::arrayValue);
  c["aud"].append("other");
  CHECK(claims_failure(c) == "aud");
  c["aud"].append("app");
  CHECK(claims_failure(c).empty());
  c["aud"].append(1);
  CHECK(claims_failure(c) == "aud");
  c.removeMember("aud");
  CHECK(claims_failure(c) == "aud");
  CHECK(claims_failure(c, ClaimRules{"https://idp.example", "", ""}).empty());

  c = claims();
  CHECK(claims_failure(c, ClaimRules{"https://idp.example", "app", "https://app.example"}) == "azp");
  c["azp"] = "https://app.example";
  CHECK(claims_failure(c, ClaimRules{"https://idp.example", "", "https://app.example"}).empty());

  c = claims();
  c.removeMember("exp");
  CHECK(claims_failure(c) == "exp");
  c["exp"] = "1800000600";
  CHECK(claims_failure(c) == "exp");
  c["exp"] = true;
  CHECK(claims_failure(c) == "exp");
  c["exp"] = Json::Int64(kNow - 29);  // within the leeway
  CHECK(claims_failure(c).empty());
  c["exp"] = Json::Int64(kNow - 30);
  CHECK(claims_failure(c) == "exp");
  c["exp"] = static_cast<double>(kNow) + 0.5;  // fractions are NumericDates too
  CHECK(claims_failure(c).empty());
  c["exp"] = 1e300;
  CHECK(claims_failure(c).empty());

  c = claims();
  c["nbf"] = Json::Int64(kNow + 30);
  CHECK(claims_failure(c).empty());
  c["nbf"] = Json::Int64(kNow + 31);
  CHECK(claims_failure(c) == "nbf");
  c["nbf"] = "soon";
  CHECK(claims_failure(c) == "nbf");
  c = claims();
  c["iat"] = Json::Int64(kNow + 31);
  CHECK(claims_failure(c) == "iat");
  c["iat"] = Json::Int64(kNow - 100000);
  CHECK(claims_failure(c).empty());
}

TEST_CASE("user_map refuse passes valid user ids through and refuses the rest", "[jose]") {
  std::string why;
  CHECK(map_user("2f1c9a5e-8b7d-4c3a-9e1f-0a2b3c4d5e6f", UserMap::refuse, why) ==
        "2f1c9a5e-8b7d-4c3a-9e1f-0a2b3c4d5e6f");
  const std::vector<std::string> bad_values{"google-oauth2|1234", "a/b", "a+b", "a#b", "", "a b",
                                            std::string(129, 'a'), "caf\xc3\xa9"};
  for (const auto& bad : bad_values) {
    CAPTURE(bad);
    CHECK_FALSE(map_user(bad, UserMap::refuse, why));
    CHECK_FALSE(why.empty());
  }
}

TEST_CASE("user_map encode is injective and its output a valid user id", "[jose]") {
  std::string why;
  CHECK(map_user("google-oauth2|1234", UserMap::encode, why) == "google-oauth2:7c1234");
  CHECK(map_user("user@example.com", UserMap::encode, why) == "user@example.com");
  CHECK(map_user("a:b", UserMap::encode, why) == "a:3ab");
  CHECK(map_user("a/+#$ b", UserMap::encode, why) == "a:2f:2b:23:24:20b");
  CHECK(map_user("caf\xc3\xa9", UserMap::encode, why) == "caf:c3:a9");
  // Values that would collide under a naive rule stay distinct.
  std::set<std::string> seen;
  for (const std::string v : {"a|b", "a:7cb", "a:3a7cb", "a_7cb", "a%7cb", "a|B"}) {
    const auto u = map_user(v, UserMap::encode, why);
    REQUIRE(u);
    CHECK(shortcred::validate_user_id(*u) == shortcred::Errc::ok);
    CHECK(seen.insert(*u).second);
  }
  CHECK_FALSE(map_user(std::string(43, '|'), UserMap::encode, why));  // 129 bytes encoded
  CHECK(map_user(std::string(42, '|'), UserMap::encode, why));
}

TEST_CASE("user_map hash gives 64 hex characters for any value", "[jose]") {
  std::string why;
  const auto u = map_user("google-oauth2|1234", UserMap::hash, why);
  REQUIRE(u);
  CHECK(u->size() == 64);
  CHECK(shortcred::validate_user_id(*u) == shortcred::Errc::ok);
  CHECK(map_user("plain", UserMap::hash, why) != map_user("plain ", UserMap::hash, why));
  CHECK_FALSE(map_user("", UserMap::hash, why));
}

TEST_CASE("the user claim must be a non-empty string", "[jose]") {
  std::string why;
  Json::Value c = claims();
  CHECK(user_from_claims(c, "sub", UserMap::refuse, why) == "user-1");
  CHECK_FALSE(user_from_claims(c, "email", UserMap::refuse, why));
  c["sub"] = 42;
  CHECK_FALSE(user_from_claims(c, "sub", UserMap::encode, why));
  CHECK(why.find("not a string") != std::string::npos);
}

TEST_CASE("provider config: required fields, https keys, no shared-secret algorithms", "[jose]") {
  const shortcred::Fields base{{"issuer", "https://idp.example"},
                               {"jwks_url", "https://idp.example/.well-known/jwks.json"},
                               {"audience", "app"}};
  Provider p;
  REQUIRE(provider_from_fields("auth0", base, p).empty());
  CHECK(p.user_claim == "sub");
  CHECK(p.algorithms == AlgSet::defaults());
  CHECK(p.user_map == UserMap::refuse);
  Provider again;
  REQUIRE(provider_from_fields("auth0", provider_to_fields(p), again).empty());
  CHECK(provider_to_fields(again) == provider_to_fields(p));

  const auto error_with = [&](const std::string& field, const std::string& value) {
    shortcred::Fields f;
    for (const auto& kv : base) {
      if (kv.first != field) f.push_back(kv);
    }
    if (!value.empty()) f.emplace_back(field, value);
    Provider out;
    return provider_from_fields("p", f, out);
  };
  CHECK(error_with("issuer", "").find("issuer is required") != std::string::npos);
  CHECK(error_with("jwks_url", "").find("jwks_url") != std::string::npos);
  CHECK_FALSE(error_with("jwks_url", "http://idp.example/jwks").empty());
  CHECK_FALSE(error_with("jwks_url", "http://127.0.0.1.evil.example/jwks").empty());
  CHECK_FALSE(error_with("jwks_url", "https://user@idp.example/jwks").empty());
  CHECK_FALSE(error_with("jwks_url", "ftp://idp.example/jwks").empty());
  CHECK_FALSE(error_with("jwks_url", "https://idp.example:0/jwks").empty());
  CHECK_FALSE(error_with("jwks_url", "https:///jwks").empty());
  CHECK(error_with("jwks_url", "http://127.0.0.1:8080/jwks").empty());
  CHECK(error_with("jwks_url", "http://[::1]:8080/jwks").empty());
  CHECK(error_with("jwks_url", "http://localhost/jwks").empty());
  CHECK(error_with("jwks_url", "https://[2001:db8::1]:8443/jwks").empty());
  CHECK(error_with("audience", "").find("audience or azp") != std::string::npos);
  CHECK(error_with("algorithms", "HS256").find("never") != std::string::npos);
  CHECK(error_with("algorithms", "RS256,none").find("never") != std::string::npos);
  CHECK(error_with("algorithms", "RS256,XX1").find("unknown") != std::string::npos);
  CHECK(error_with("algorithms", "RS256, EdDSA").empty());
  CHECK_FALSE(error_with("max_ttl", "59").empty());
  CHECK_FALSE(error_with("max_ttl", "-5").empty());
  CHECK(error_with("max_ttl", "600").empty());
  CHECK_FALSE(error_with("user_map", "passthrough").empty());
  CHECK(error_with("user_map", "encode").empty());
  CHECK_FALSE(error_with("scope", "fly %o/#").empty());
  CHECK(error_with("scope", "read %o/feeds/#\nwrite %o/users/%u/out").empty());
  CHECK(error_with("audiance", "app").find("unknown provider field") != std::string::npos);
  CHECK_FALSE(error_with("issuer", "https://idp.example/ x").empty());
  CHECK_FALSE(provider_from_fields("a/b", base, p).empty());
}
