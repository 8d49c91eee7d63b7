#include "tokend_env.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <regex>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace tokens_test {

using namespace std::chrono_literals;

support::RunResult ctl(const std::string& redis_url, std::vector<std::string> args) {
  args.insert(args.begin(), {SHORTCREDCTL_PATH, "--redis", redis_url});
  return support::run(args);
}

Json::Value parse_json(const std::string& text) {
  Json::Value v;
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  if (!r->parse(text.data(), text.data() + text.size(), &v, &errs)) return Json::Value();
  return v;
}

std::string find_secret(const std::string& text, const std::vector<std::string>& secrets) {
  static const std::regex kPattern("(^|[^A-Za-z0-9])(tkn|sk)_[0-9A-Za-z_]*");
  std::smatch m;
  if (std::regex_search(text, m, kPattern)) return m.str(0);
  for (const auto& s : secrets) {
    if (!s.empty() && text.find(s) != std::string::npos) return s;
  }
  return {};
}

TokendEnv::TokendEnv(std::vector<std::string> extra_flags) : extra(std::move(extra_flags)) {
  auto [id, key] = make_key(org);
  key_id = id;
  api_key = key;
  start();
}

TokendEnv::~TokendEnv() {
  proc.stop();
  // The access log must never carry a password, a secret or an API key.
  const std::string offender = find_secret(log(), {api_key});
  CHECK(offender.empty());
}

void TokendEnv::start() {
  if (port == 0) port = support::free_port();
  std::vector<std::string> argv{SHORTCRED_TOKEND_PATH, "--listen",
                                "127.0.0.1:" + std::to_string(port), "--redis", redis.url(),
                                "--threads", "8", "--read-timeout", "1", "--idle-timeout", "2",
                                "--redis-timeout-ms", "200"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  proc = support::Process(argv, dir / "tokend.log");
  const bool up = support::wait_until([&] { return support::port_open(port); }, 10s, 10ms);
  if (!up) FAIL("shortcred-tokend did not start:\n" << log());
  http_ = std::make_unique<support::HttpClient>(base_url());
}

std::string TokendEnv::log() const { return support::read_file(dir / "tokend.log"); }

support::RunResult TokendEnv::ctl(std::vector<std::string> args) {
  return tokens_test::ctl(redis.url(), std::move(args));
}

std::pair<std::string, std::string> TokendEnv::make_key(const std::string& o) {
  ctl({"org", "create", "--id", o});
  auto r = ctl({"--json", "apikey", "create", "--org", o, "--name", "test"});
  REQUIRE(r.exit_code == 0);
  auto v = parse_json(r.out);
  return {v["key_id"].asString(), v["api_key"].asString()};
}

support::HttpResponse TokendEnv::call(const std::string& method, const std::string& path,
                                      const std::string& body, std::vector<std::string> headers) {
  headers.push_back("Authorization: Bearer " + api_key);
  return http_->request(method, path, body, headers);
}

support::HttpResponse TokendEnv::issue(const std::string& body) {
  return call("POST", "/v2/tokens", body);
}

std::map<std::string, std::string> TokendEnv::snapshot() {
  auto c = redis.connect();
  std::map<std::string, std::string> out;
  auto keys = c.command({"KEYS", "*"});
  for (size_t i = 0; i < keys->elements; ++i) {
    const std::string k = shortcred::redis::to_string(keys->element[i]);
    auto type = shortcred::redis::to_string(c.command({"TYPE", k}).get());
    std::string content = type + ":";
    shortcred::redis::Reply r;
    if (type == "hash") r = c.command({"HGETALL", k});
    if (type == "zset") r = c.command({"ZRANGE", k, "0", "-1", "WITHSCORES"});
    if (type == "set") r = c.command({"SMEMBERS", k});
    if (type == "stream") content += std::to_string(c.command({"XLEN", k})->integer);
    // An API key's last_used_at is the service's bookkeeping of the key
    // check (test_last_used.cpp), not data a request changes.
    const bool apikey = type == "hash" && k.rfind("shortcred:apikey:", 0) == 0;
    if (r) {
      for (size_t j = 0; j < r->elements; ++j) {
        const std::string e = shortcred::redis::to_string(r->element[j]);
        if (apikey && j % 2 == 0 && e == "last_used_at") {
          ++j;
          continue;
        }
        content += e + ",";
      }
    }
    out[k] = content;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> TokendEnv::hgetall(const std::string& key) {
  auto c = redis.connect();
  auto r = c.command({"HGETALL", key});
  return shortcred::redis::to_pairs(r.get());
}

long long TokendEnv::pttl(const std::string& key) {
  auto c = redis.connect();
  return c.command({"PTTL", key})->integer;
}

long long TokendEnv::xlen(const std::string& key) {
  auto c = redis.connect();
  return c.command({"XLEN", key})->integer;
}

std::map<std::string, std::string> TokendEnv::last_audit(const std::string& o) {
  auto c = redis.connect();
  auto r = c.command({"XREVRANGE", "shortcred:{" + o + "}:audit", "+", "-", "COUNT", "1"});
  std::map<std::string, std::string> out;
  if (!r || r->elements == 0) return out;
  for (const auto& [k, v] : shortcred::redis::to_pairs(r->element[0]->element[1])) out[k] = v;
  return out;
}

}  // namespace tokens_test
