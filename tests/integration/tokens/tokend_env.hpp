// Fixture for the token service tests: a real redis-server and a real
// shortcred-tokend process on free loopback ports, an org with an API key
// created through shortcredctl, and helpers to look at Redis.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <json/json.h>

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/redis_server.hpp"
#include "support/temp_dir.hpp"

namespace tokens_test {

// Runs shortcredctl against `redis_url`; returns exit code and output.
support::RunResult ctl(const std::string& redis_url, std::vector<std::string> args);
Json::Value parse_json(const std::string& text);

// Every log a test produced is scanned for secrets when the env goes away.
class TokendEnv {
 public:
  explicit TokendEnv(std::vector<std::string> extra_flags = {});
  ~TokendEnv();

  support::RedisServer redis;
  support::TempDir dir{"shortcred-tokend"};
  int port = 0;
  std::string org = "org_test";
  std::string api_key, key_id;
  std::vector<std::string> extra;
  support::Process proc;

  void start();
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string log() const;
  support::RunResult ctl(std::vector<std::string> args);
  // Creates an org (if needed) and an API key; returns {key id, api key}.
  std::pair<std::string, std::string> make_key(const std::string& org);

  // HTTP with the env's API key.
  support::HttpResponse call(const std::string& method, const std::string& path,
                             const std::string& body = {},
                             std::vector<std::string> headers = {});
  support::HttpResponse issue(const std::string& body);

  // Every key with its type and content, to prove a request changed nothing
  // (an API key's last_used_at aside).
  std::map<std::string, std::string> snapshot();
  std::vector<std::pair<std::string, std::string>> hgetall(const std::string& key);
  long long pttl(const std::string& key);
  // Last entry of the org's audit stream as field → value.
  std::map<std::string, std::string> last_audit(const std::string& org);
  long long xlen(const std::string& key);

 private:
  std::unique_ptr<support::HttpClient> http_;
  std::vector<std::string> logs_to_scan_;
};

// Finds `tkn_…`, `sk_…` or any of `secrets` in `text`; returns the offender.
std::string find_secret(const std::string& text, const std::vector<std::string>& secrets = {});

}  // namespace tokens_test
