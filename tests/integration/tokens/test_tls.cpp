// Native HTTPS (--tls-cert/--tls-key): the API over TLS, with a self-signed
// certificate made by the openssl CLI in the test's temp dir.
#include <curl/curl.h>

#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;

namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

size_t append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// One HTTPS request that trusts only `ca` (the server's own certificate).
support::HttpResponse https(const std::string& url, const std::string& ca,
                            const std::string& method, const std::string& body = {},
                            const std::string& auth = {}) {
  std::unique_ptr<CURL, CurlDeleter> c(curl_easy_init());
  REQUIRE(c);
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  const auto add = [&](const std::string& h) {
    headers.reset(curl_slist_append(headers.release(), h.c_str()));
  };
  if (!auth.empty()) add("Authorization: Bearer " + auth);
  if (!body.empty()) add("Content-Type: application/json");
  support::HttpResponse r;
  curl_easy_setopt(c.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.get(), CURLOPT_CUSTOMREQUEST, method.c_str());
  curl_easy_setopt(c.get(), CURLOPT_CAINFO, ca.c_str());
  curl_easy_setopt(c.get(), CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c.get(), CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c.get(), CURLOPT_TIMEOUT_MS, 5000L);
  curl_easy_setopt(c.get(), CURLOPT_HTTPHEADER, headers.get());
  if (!body.empty()) curl_easy_setopt(c.get(), CURLOPT_POSTFIELDS, body.c_str());
  curl_easy_setopt(c.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(c.get(), CURLOPT_WRITEDATA, &r.body);
  const CURLcode rc = curl_easy_perform(c.get());
  if (rc != CURLE_OK) {
    r.error = curl_easy_strerror(rc);
    return r;
  }
  curl_easy_getinfo(c.get(), CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

}  // namespace

TEST_CASE("with --tls-cert and --tls-key the API is served over HTTPS only", "[tokend]") {
  support::TempDir certs("shortcred-tls");
  const std::string cert = certs / "c.pem";
  const std::string key = certs / "k.pem";
  const auto made = support::run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                  "-subj", "/CN=127.0.0.1", "-addext",
                                  "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", key,
                                  "-out", cert});
  REQUIRE(made.exit_code == 0);
  TokendEnv env({"--tls-cert", cert, "--tls-key", key});
  const std::string base = "https://127.0.0.1:" + std::to_string(env.port);

  const auto health = https(base + "/healthz", cert, "GET");
  INFO(health.error);
  CHECK(health.status == 200);
  const auto r = https(base + "/v2/tokens", cert, "POST", R"({"user_id":"tls"})", env.api_key);
  REQUIRE(r.status == 201);
  const auto v = parse_json(r.body);
  CHECK(v["username"].asString() == "tls@org_test");
  CHECK(env.pttl("shortcred:{org_test}:cred:" + v["token_id"].asString()) > 0);
  CHECK(https(base + "/v2/tokens", cert, "POST", R"({"user_id":"tls"})", "sk_bad").status == 401);

  // Plain HTTP to the TLS port gets no HTTP answer at all.
  support::HttpClient plain(env.base_url());
  const auto p = plain.request("GET", "/healthz");
  CHECK(p.status == 0);
  CHECK_FALSE(p.error.empty());
  // And the service is still fine afterwards.
  CHECK(https(base + "/healthz", cert, "GET").status == 200);
}
