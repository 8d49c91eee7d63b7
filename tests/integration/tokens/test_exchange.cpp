// POST /v2/tokens/exchange against a JWKS server the test runs (cpp-httplib
// over HTTPS with a fixture CA that tokend trusts through --jwks-ca-file),
// with id tokens the test signs itself (tests/support jwt_signer). Every
// refusal is checked for its status and code and for leaving Redis as it was.
#include <httplib.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>

#include "support/jwt_signer.hpp"
#include "support/mosquitto_server.hpp"
#include "support/mqtt_client.hpp"
#include "support/ports.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_certs.hpp"
#include "support/wait.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using shortcred::jose::Alg;
using support::SigningKey;

namespace {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An identity provider's key endpoint: serves `body` with `cache_control`
// at /jwks.json over HTTPS and counts the requests.
class JwksServer {
 public:
  explicit JwksServer(const support::TestCerts& certs)
      : server_(certs.server_cert.c_str(), certs.server_key.c_str()) {
    server_.Get("/jwks.json", [this](const httplib::Request&, httplib::Response& res) {
      ++fetches;
      std::lock_guard lock(mu_);
      res.status = 200;
      if (!cache_control_.empty()) res.set_header("Cache-Control", cache_control_);
      res.set_content(body_, "application/json");
    });
    port = server_.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    REQUIRE(support::wait_until([&] { return server_.is_running(); }, std::chrono::seconds(5)));
  }
  ~JwksServer() { stop(); }
  void stop() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }
  void serve(std::string body, std::string cache_control = "max-age=600") {
    std::lock_guard lock(mu_);
    body_ = std::move(body);
    cache_control_ = std::move(cache_control);
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port) + "/jwks.json"; }

  std::atomic<int> fetches{0};
  int port = 0;

 private:
  httplib::SSLServer server_;
  std::thread thread_;
  std::mutex mu_;
  std::string body_ = R"({"keys":[]})", cache_control_;
};

struct Keys {
  SigningKey rs{Alg::RS256, "rsa-1"};
  SigningKey ps = rs.with(Alg::PS256, "pss-1");
  SigningKey es{Alg::ES256, "ec-1"};
  SigningKey ed{Alg::EdDSA, "ed-1"};
  std::string jwks() const { return support::jwks_json({&rs, &ps, &es, &ed}); }
};

const char* kIssuer = "https://idp.example.test/";

// The test's org with one provider `test` (all four algorithms) whose keys
// the JwksServer serves; tokend trusts the fixture CA.
struct ExchangeEnv {
  support::TempDir certs_dir{"shortcred-jwks"};
  support::TestCerts certs = support::make_test_certs(certs_dir.path());
  JwksServer jwks{certs};
  TokendEnv env{{"--jwks-ca-file", certs.ca_cert, "--jwks-timeout-ms", "1000"}};
  std::unique_ptr<support::HttpClient> http =
      std::make_unique<support::HttpClient>(env.base_url());
  Keys keys;

  ExchangeEnv() {
    jwks.serve(keys.jwks());
    set_provider("test", {"--issuer", kIssuer, "--jwks-url", jwks.url(), "--audience", "app",
                          "--algorithms", "RS256,PS256,ES256,EdDSA"});
  }

  void set_provider(const std::string& name, std::vector<std::string> fields,
                    const std::string& org = "org_test") {
    std::vector<std::string> args{"idp", "set", "--org", org, name};
    args.insert(args.end(), fields.begin(), fields.end());
    const auto r = env.ctl(args);
    REQUIRE(r.exit_code == 0);
  }

  Json::Value claims(const std::string& sub = "user-1") const {
    Json::Value c(Json::objectValue);
    c["iss"] = kIssuer;
    c["aud"] = "app";
    c["sub"] = sub;
    c["iat"] = Json::Int64(unix_now());
    c["exp"] = Json::Int64(unix_now() + 3600);
    return c;
  }

  support::HttpResponse exchange(const std::string& token, const std::string& extra = "",
                                 const std::string& org = "org_test") {
    Json::Value body(Json::objectValue);
    body["org"] = org;
    body["id_token"] = token;
    std::string text = support::json_text(body);
    if (!extra.empty()) text = text.substr(0, text.size() - 1) + "," + extra + "}";
    return http->request("POST", "/v2/tokens/exchange", text);
  }
};

support::MqttClient::Options mqtt_login(const std::string& client_id, const std::string& username,
                                        const std::string& password) {
  support::MqttClient::Options o;
  o.client_id = client_id;
  o.username = username;
  o.password = password;
  return o;
}

std::string error_code(const support::HttpResponse& r) {
  return parse_json(r.body)["error"]["code"].asString();
}

std::string error_message(const support::HttpResponse& r) {
  return parse_json(r.body)["error"]["message"].asString();
}

}  // namespace

TEST_CASE("exchange: RS256, PS256, ES256 and EdDSA id tokens mint credentials that CONNECT",
          "[exchange]") {
  ExchangeEnv x;
  support::MosquittoServer broker("plugin " SHORTCRED_PLUGIN_PATH "\nplugin_opt_redis_url " +
                                  x.env.redis.url() + "\n");
  for (const SigningKey* k : {&x.keys.rs, &x.keys.ps, &x.keys.es, &x.keys.ed}) {
    CAPTURE(k->kid());
    const std::string token = support::sign_jwt(*k, Json::Value(Json::objectValue), x.claims());
    const auto r = x.exchange(token, R"("ttl_seconds":600)");
    REQUIRE(r.status == 201);
    const Json::Value body = parse_json(r.body);
    CHECK(body["username"].asString() == "user-1@org_test");
    CHECK(body["expires_in"].asInt64() == 600);
    CHECK(r.body.find(token) == std::string::npos);
    support::MqttClient client(
        mqtt_login("c-" + k->kid(), body["username"].asString(), body["password"].asString()));
    REQUIRE(client.connect(broker.port()) == 0);
    CHECK(client.subscribe("org_test/users/user-1/#") == 0);
    const auto audit = x.env.last_audit("org_test");
    CHECK(audit.at("event") == "exchange");
    CHECK(audit.at("idp") == "test");
    CHECK(audit.at("user") == "user-1");
    CHECK(audit.at("token") == body["token_id"].asString());
  }
  CHECK(x.jwks.fetches == 1);  // one fetch, cached for every later exchange
  const auto metrics = x.http->request("GET", "/metrics");
  CHECK(metrics.body.find("shortcred_exchanges_total{outcome=\"issued\"} 4") != std::string::npos);
  CHECK(metrics.body.find("shortcred_jwks_fetches_total{result=\"ok\"} 1") != std::string::npos);
  // The credential never outlives the id token.
  Json::Value c = x.claims();
  c["exp"] = Json::Int64(unix_now() + 120);
  const auto short_lived = x.exchange(support::sign_jwt(x.keys.es, Json::Value(Json::objectValue), c));
  REQUIRE(short_lived.status == 201);
  CHECK(parse_json(short_lived.body)["expires_in"].asInt64() <= 120);
  CHECK(x.exchange(support::sign_jwt(x.keys.es, Json::Value(Json::objectValue), c),
                   R"("ttl_seconds":999999)").status == 422);
}

TEST_CASE("exchange: forged, broken and foreign id tokens get 401 invalid_token, no Redis write",
          "[exchange]") {
  ExchangeEnv x;
  // Another org's provider, with its own keys and issuer.
  REQUIRE(x.env.ctl({"org", "create", "--id", "org_other"}).exit_code == 0);
  x.set_provider("other", {"--issuer", "https://other.example.test/", "--jwks-url", x.jwks.url(),
                           "--audience", "app"},
                 "org_other");
  const Json::Value no_header(Json::objectValue);
  const auto& rs = x.keys.rs;
  // Warm the key cache, so the refusals below are about the tokens.
  REQUIRE(x.exchange(support::sign_jwt(rs, no_header, x.claims())).status == 201);
  const auto before = x.env.snapshot();

  const auto with = [&](const char* name, const Json::Value& v) {
    Json::Value c = x.claims();
    c[name] = v;
    return c;
  };
  const std::string good = support::sign_jwt(rs, no_header, x.claims());
  std::string tampered_payload = good;
  {
    const auto d1 = good.find('.'), d2 = good.rfind('.');
    Json::Value c = x.claims("admin");
    tampered_payload = good.substr(0, d1 + 1) +
                       support::unsigned_jwt(no_header, c).substr(
                           support::unsigned_jwt(no_header, c).find('.') + 1,
                           support::unsigned_jwt(no_header, c).rfind('.') -
                               support::unsigned_jwt(no_header, c).find('.') - 1) +
                       good.substr(d2);
  }
  std::string tampered_header;
  {
    Json::Value h(Json::objectValue);
    h["alg"] = "RS256";
    h["kid"] = rs.kid();
    h["typ"] = "JWT";  // sign_jwt's header has no typ: a different header
    const std::string hv = support::unsigned_jwt(h, x.claims());
    tampered_header = hv.substr(0, hv.find('.')) + good.substr(good.find('.'));
  }
  Json::Value none_header(Json::objectValue);
  none_header["alg"] = "none";
  none_header["kid"] = rs.kid();
  Json::Value hs_header(Json::objectValue);
  hs_header["alg"] = "HS256";
  hs_header["kid"] = rs.kid();
  Json::Value crit_header(Json::objectValue);
  crit_header["crit"].append("exp");
  Json::Value unknown_kid(Json::objectValue);
  unknown_kid["kid"] = "no-such-key";
  Json::Value rs512(Json::objectValue);
  rs512["alg"] = "RS512";
  Json::Value other_iss = x.claims();
  other_iss["iss"] = "https://other.example.test/";
  Json::Value big = x.claims();
  big["pad"] = std::string(9000, 'x');

  struct Case {
    const char* what;
    std::string token;
    std::string check;
  };
  const std::vector<Case> cases{
      {"expired", support::sign_jwt(rs, no_header, with("exp", Json::Int64(unix_now() - 60))), "exp"},
      {"not yet valid", support::sign_jwt(rs, no_header, with("nbf", Json::Int64(unix_now() + 600))), "nbf"},
      {"wrong iss", support::sign_jwt(rs, no_header, with("iss", "https://evil.example/")), "iss"},
      {"wrong aud", support::sign_jwt(rs, no_header, with("aud", "other-app")), "aud"},
      {"unknown kid", support::sign_jwt(rs, unknown_kid, x.claims()), "kid"},
      {"tampered payload", tampered_payload, "signature"},
      {"tampered header", tampered_header, "signature"},
      {"alg none", support::unsigned_jwt(none_header, x.claims()), "alg"},
      {"HS256 keyed with the RSA public key", support::hs256_jwt(hs_header, x.claims(), rs.public_pem()), "alg"},
      {"crit header", support::sign_jwt(rs, crit_header, x.claims()), "crit"},
      {"alg not among the provider's", support::sign_jwt(rs.with(Alg::RS512, rs.kid()), rs512, x.claims()), "alg"},
      {"oversized", support::sign_jwt(rs, no_header, big), "size"},
      {"another org's provider", support::sign_jwt(rs, no_header, other_iss), "iss"},
      {"not a JWS", "not.a.jws", "format"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto r = x.exchange(c.token);
    CHECK(r.status == 401);
    CHECK(error_code(r) == "invalid_token");
    CHECK(error_message(r).rfind(c.check + ":", 0) == 0);
    CHECK(r.body.find(c.token.substr(0, 40)) == std::string::npos);
  }
  CHECK(x.env.snapshot() == before);
  CHECK(x.env.log().find(good.substr(0, 40)) == std::string::npos);
  // The same token of org_other's provider is fine there.
  CHECK(x.exchange(support::sign_jwt(rs, no_header, other_iss), "", "org_other").status == 201);
}

TEST_CASE("exchange: org, provider, body and user claim errors", "[exchange]") {
  ExchangeEnv x;
  const Json::Value h(Json::objectValue);
  const std::string token = support::sign_jwt(x.keys.es, h, x.claims());
  const auto before = x.env.snapshot();
  const auto expect = [&](const support::HttpResponse& r, long status, const std::string& code) {
    CHECK(r.status == status);
    CHECK(error_code(r) == code);
  };
  expect(x.exchange(token, "", "org_nope"), 404, "org_not_found");
  REQUIRE(x.env.ctl({"org", "create", "--id", "org_bare"}).exit_code == 0);
  const auto bare = x.env.snapshot();
  expect(x.exchange(token, "", "org_bare"), 404, "no_provider");
  expect(x.exchange(token, R"("ttl":600)"), 400, "unknown_field");
  expect(x.http->request("POST", "/v2/tokens/exchange", "{\"org\":\"org_test\"}"), 422,
         "missing_field");
  expect(x.http->request("POST", "/v2/tokens/exchange", "{\"org\":\"a/b\",\"id_token\":\"x\"}"), 422,
         "invalid_field");
  expect(x.http->request("POST", "/v2/tokens/exchange", "{", {}), 400, "invalid_json");
  expect(x.http->request("POST", "/v2/tokens/exchange", "{}", {"Content-Type: text/plain"}), 415,
         "unsupported_media_type");
  expect(x.exchange(std::string(17000, 'a')), 413, "payload_too_large");
  // A claim that is no valid user id is refused by the default user_map…
  const std::string auth0_like = support::sign_jwt(x.keys.es, h, x.claims("google-oauth2|1234"));
  expect(x.exchange(auth0_like), 422, "invalid_user_claim");
  for (const char* sub : {"a/b", "a+b", "a#b"}) {
    expect(x.exchange(support::sign_jwt(x.keys.es, h, x.claims(sub))), 422, "invalid_user_claim");
  }
  CHECK(x.env.snapshot() == bare);
  // …and the org's state comes before the token.
  REQUIRE(x.env.ctl({"org", "disable", "org_test"}).exit_code == 0);
  expect(x.exchange(token), 403, "org_disabled");
  (void)before;
}

TEST_CASE("exchange: user_map encode and hash never put / + # | into a topic level", "[exchange]") {
  ExchangeEnv x;
  support::MosquittoServer broker("plugin " SHORTCRED_PLUGIN_PATH "\nplugin_opt_redis_url " +
                                  x.env.redis.url() + "\n");
  const Json::Value h(Json::objectValue);
  x.set_provider("test", {"--user-map", "encode"});
  const auto r = x.exchange(support::sign_jwt(x.keys.rs, h, x.claims("google-oauth2|12/3+#")));
  REQUIRE(r.status == 201);
  const std::string user = "google-oauth2:7c12:2f3:2b:23";
  CHECK(parse_json(r.body)["username"].asString() == user + "@org_test");
  support::MqttClient client(
      mqtt_login("enc", user + "@org_test", parse_json(r.body)["password"].asString()));
  REQUIRE(client.connect(broker.port()) == 0);
  CHECK(client.subscribe("org_test/users/" + user + "/#") == 0);
  CHECK(client.subscribe("org_test/users/google-oauth2|12/#") != 0);
  x.set_provider("test", {"--user-map", "hash"});
  const auto hashed = x.exchange(support::sign_jwt(x.keys.rs, h, x.claims("a/b")));
  REQUIRE(hashed.status == 201);
  CHECK(parse_json(hashed.body)["username"].asString().size() == 64 + 9);
}

TEST_CASE("exchange: real providers' token shapes", "[exchange]") {
  ExchangeEnv x;
  const Json::Value h(Json::objectValue);
  const std::string url = x.jwks.url();
  x.set_provider("supabase", {"--issuer", "https://abcdefgh.supabase.co/auth/v1", "--jwks-url", url,
                              "--audience", "authenticated", "--algorithms", "ES256,RS256"});
  x.set_provider("auth0", {"--issuer", "https://tenant.eu.auth0.com/", "--jwks-url", url,
                           "--audience", "https://api.example.com", "--user-map", "encode"});
  x.set_provider("firebase", {"--issuer", "https://securetoken.google.com/my-project",
                              "--jwks-url", url, "--audience", "my-project"});
  x.set_provider("clerk", {"--issuer", "https://clerk.example.com", "--jwks-url", url, "--azp",
                           "https://app.example.com", "--scope", "read %o/feeds/#"});
  const auto base = [&](const char* iss) {
    Json::Value c(Json::objectValue);
    c["iss"] = iss;
    c["iat"] = Json::Int64(unix_now());
    c["exp"] = Json::Int64(unix_now() + 3600);
    return c;
  };
  Json::Value supabase = base("https://abcdefgh.supabase.co/auth/v1");
  supabase["aud"] = "authenticated";
  supabase["sub"] = "2f1c9a5e-8b7d-4c3a-9e1f-0a2b3c4d5e6f";
  supabase["role"] = "authenticated";
  supabase["email"] = "ada@example.com";
  Json::Value auth0 = base("https://tenant.eu.auth0.com/");
  auth0["aud"].append("https://api.example.com");
  auth0["aud"].append("https://tenant.eu.auth0.com/userinfo");
  auth0["sub"] = "google-oauth2|112233445566778899001";
  auth0["azp"] = "xYz123ClientId";
  Json::Value firebase = base("https://securetoken.google.com/my-project");
  firebase["aud"] = "my-project";
  firebase["sub"] = "Kx2LmN3oPq4RsT5uVw6XyZ7a8b9c";
  firebase["user_id"] = "Kx2LmN3oPq4RsT5uVw6XyZ7a8b9c";
  firebase["auth_time"] = Json::Int64(unix_now() - 10);
  firebase["firebase"]["sign_in_provider"] = "password";
  Json::Value clerk = base("https://clerk.example.com");
  clerk["azp"] = "https://app.example.com";
  clerk["sub"] = "user_2NNEqL2nrIRdJ194ndJqAHwEfxC";
  clerk["sid"] = "sess_2NNEqL2nrIRdJ194ndJqAHwEfxD";
  clerk["nbf"] = Json::Int64(unix_now() - 5);
  struct Case {
    const char* what;
    std::string token, user;
  };
  const std::vector<Case> cases{
      {"supabase", support::sign_jwt(x.keys.es, h, supabase), supabase["sub"].asString()},
      {"auth0", support::sign_jwt(x.keys.rs, h, auth0), "google-oauth2:7c112233445566778899001"},
      {"firebase", support::sign_jwt(x.keys.rs, h, firebase), firebase["sub"].asString()},
      {"clerk", support::sign_jwt(x.keys.rs, h, clerk), clerk["sub"].asString()},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    const auto r = x.exchange(c.token);
    REQUIRE(r.status == 201);
    CHECK(parse_json(r.body)["username"].asString() == c.user + "@org_test");
    CHECK(x.env.last_audit("org_test").at("idp") == c.what);
  }
  // Clerk's provider scope is every credential's scope; a Clerk token for
  // another origin is refused.
  CHECK(parse_json(x.exchange(cases[3].token).body)["scope"][0].asString() == "read %o/feeds/#");
  clerk["azp"] = "https://evil.example.com";
  CHECK(error_message(x.exchange(support::sign_jwt(x.keys.rs, h, clerk))).rfind("azp:", 0) == 0);
}

TEST_CASE("exchange: per-user and per-org exchange_rate answer 429 without writing", "[exchange]") {
  ExchangeEnv x;
  // Rates of 1 per second: each refusal below comes well within the second
  // after the exchange that spent the budget, however loaded the machine.
  REQUIRE(x.env.ctl({"org", "set", "org_test", "--exchange-user-rate", "1"}).exit_code == 0);
  const Json::Value h(Json::objectValue);
  const auto token = [&](const char* sub) { return support::sign_jwt(x.keys.es, h, x.claims(sub)); };
  CHECK(x.exchange(token("a")).status == 201);
  auto before = x.env.snapshot();
  auto r = x.exchange(token("a"));
  CHECK(r.status == 429);
  CHECK(error_code(r) == "exchange_rate");
  CHECK(r.headers.count("retry-after") == 1);
  CHECK(x.env.snapshot() == before);
  CHECK(x.exchange(token("b")).status == 201);  // another user's own budget
  REQUIRE(x.env.ctl({"org", "set", "org_test", "--exchange-rate", "1"}).exit_code == 0);
  CHECK(x.exchange(token("c")).status == 201);
  before = x.env.snapshot();
  r = x.exchange(token("d"));  // the org's budget is spent
  CHECK(r.status == 429);
  CHECK(x.env.snapshot() == before);
}

TEST_CASE("exchange: key sets that are not JSON or unreachable, cached keys, rotation",
          "[exchange]") {
  ExchangeEnv x;
  const Json::Value h(Json::objectValue);
  // A provider whose key URL answers HTML: 503, nothing written.
  JwksServer html(x.certs);
  html.serve("<html>sign in</html>");
  x.set_provider("html", {"--issuer", "https://html.example.test/", "--jwks-url", html.url(),
                          "--audience", "app"});
  Json::Value hc = x.claims();
  hc["iss"] = "https://html.example.test/";
  const auto before = x.env.snapshot();
  auto r = x.exchange(support::sign_jwt(x.keys.rs, h, hc));
  CHECK(r.status == 503);
  CHECK(error_code(r) == "jwks_unavailable");
  // A provider whose key server is down and was never reached: 503, bounded.
  const int dead_port = support::free_port();
  x.set_provider("down", {"--issuer", "https://down.example.test/", "--jwks-url",
                          "https://127.0.0.1:" + std::to_string(dead_port) + "/jwks.json",
                          "--audience", "app"});
  Json::Value dc = x.claims();
  dc["iss"] = "https://down.example.test/";
  const auto started = std::chrono::steady_clock::now();
  r = x.exchange(support::sign_jwt(x.keys.rs, h, dc));
  CHECK(r.status == 503);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(1500));
  CHECK(x.env.snapshot().size() == before.size() + 1);  // only the second provider's hash

  // Keys cached, then the server goes: the cached keys still verify.
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(x.exchange(support::sign_jwt(x.keys.rs, h, x.claims())).status == 201);
  REQUIRE(x.jwks.fetches == 1);
  // Rotation: the provider adds a key. Its kid is fetched at most once per
  // 10 s, and then with one fetch.
  SigningKey rotated(Alg::ES256, "ec-2");
  x.jwks.serve(support::jwks_json({&x.keys.rs, &rotated}));
  const std::string new_kid_token = support::sign_jwt(rotated, h, x.claims());
  r = x.exchange(new_kid_token);
  CHECK(r.status == 401);
  CHECK(error_message(r).rfind("kid:", 0) == 0);
  CHECK(x.jwks.fetches == 1);
  int status = 0;
  CHECK(support::wait_until(
      [&] {
        status = static_cast<int>(x.exchange(new_kid_token).status);
        return status == 201;
      },
      std::chrono::seconds(12), std::chrono::milliseconds(250)));
  CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::seconds(10));
  CHECK(x.jwks.fetches == 2);
  x.jwks.stop();
  CHECK(x.exchange(support::sign_jwt(x.keys.rs, h, x.claims())).status == 201);
  CHECK(x.exchange(new_kid_token).status == 201);
}

TEST_CASE("shortcredctl idp: strict validation, one issuer per provider, audited", "[exchange]") {
  TokendEnv env;
  const std::string jwks = "https://idp.example.test/.well-known/jwks.json";
  const auto set = [&](std::vector<std::string> fields) {
    std::vector<std::string> args{"idp", "set", "--org", "org_test"};
    args.insert(args.end(), fields.begin(), fields.end());
    return env.ctl(args);
  };
  const auto before = env.snapshot();
  struct Bad {
    std::vector<std::string> args;
    std::string says;
  };
  const std::vector<Bad> bad{
      {{"p", "--issuer", "https://a/", "--jwks-url", jwks}, "audience or azp"},
      {{"p", "--issuer", "https://a/", "--audience", "x"}, "jwks_url is required"},
      {{"p", "--issuer", "https://a/", "--jwks-url", "http://idp.example.test/j", "--audience", "x"},
       "https"},
      {{"p", "--issuer", "https://a/", "--jwks-url", jwks, "--audience", "x", "--algorithms",
        "RS256,HS256"},
       "never accepted"},
      {{"p", "--issuer", "https://a/", "--jwks-url", jwks, "--audience", "x", "--user-map", "raw"},
       "user_map"},
      {{"p", "--issuer", "https://a/", "--jwks-url", jwks, "--audience", "x", "--max-ttl", "10"},
       "max_ttl"},
      {{"p", "--issuer", "https://a/", "--jwks-url", jwks, "--audience", "x", "--scope", "fly #"},
       "scope"},
      {{"p", "--issuer", "https://a/", "--jwks-url", jwks, "--audiance", "x"}, "unknown provider field"},
      {{"a/b", "--issuer", "https://a/", "--jwks-url", jwks, "--audience", "x"}, "provider name"},
  };
  for (const auto& b : bad) {
    CAPTURE(b.args);
    const auto r = set(b.args);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find(b.says) != std::string::npos);
  }
  CHECK(env.snapshot() == before);
  REQUIRE(set({"auth0", "--issuer", "https://a/", "--jwks-url", jwks, "--audience", "x"}).exit_code == 0);
  auto audit = env.last_audit("org_test");
  CHECK(audit.at("event") == "idp_set");
  CHECK(audit.at("idp") == "auth0");
  CHECK(audit.at("changes").find("issuer (unset) \u2192 https://a/") != std::string::npos);
  // A second provider with the same issuer: refused, nothing written.
  const auto r = set({"again", "--issuer", "https://a/", "--jwks-url", jwks, "--audience", "y"});
  CHECK(r.exit_code == 2);  // a value that fails validation, as for every command
  CHECK(r.err.find("already has issuer") != std::string::npos);
  // A change of one field keeps the others.
  REQUIRE(set({"auth0", "--user-map", "encode", "--scope", "read %o/a/#", "--scope",
               "write %o/b"}).exit_code == 0);
  const auto show = env.ctl({"--json", "idp", "show", "--org", "org_test", "auth0"});
  REQUIRE(show.exit_code == 0);
  const Json::Value p = parse_json(show.out);
  CHECK(p["issuer"].asString() == "https://a/");
  CHECK(p["user_map"].asString() == "encode");
  CHECK(p["scope"].asString() == "read %o/a/#\nwrite %o/b");
  CHECK(p["algorithms"].asString() == "RS256,ES256");
  const auto list = env.ctl({"--json", "idp", "list", "--org", "org_test"});
  CHECK(parse_json(list.out)["providers"].size() == 1);
  REQUIRE(env.ctl({"idp", "remove", "--org", "org_test", "auth0"}).exit_code == 0);
  CHECK(env.last_audit("org_test").at("event") == "idp_remove");
  CHECK(env.ctl({"idp", "show", "--org", "org_test", "auth0"}).exit_code == 1);
  CHECK(env.ctl({"idp", "list", "--org", "org_nope"}).exit_code == 1);
}
