// Day-2 operations of shortcred-tokend: signals, a port already in use,
// and a log that is JSON on every line with --log-format json.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <regex>
#include <set>
#include <sstream>

#include "support/ports.hpp"
#include "support/wait.hpp"
#include "support/text.hpp"
#include "tokend_env.hpp"

using namespace tokens_test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> tokend_argv(const TokendEnv& env, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{SHORTCRED_TOKEND_PATH, "--listen",
                                "127.0.0.1:" + std::to_string(env.port), "--redis",
                                env.redis.url(), "--threads", "2"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// Waits for `p` to exit; returns its exit code, or -1 if it is still running.
int exit_code_within(support::Process& p, std::chrono::milliseconds timeout) {
  if (!support::wait_until([&] { return !p.running(); }, timeout)) return -1;
  const int status = p.stop();
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("SIGHUP is logged and the service keeps serving", "[tokend][signals]") {
  TokendEnv env;
  support::HttpClient anon(env.base_url());
  env.proc.signal(SIGHUP);
  REQUIRE(support::wait_until([&] { return env.log().find("SIGHUP") != std::string::npos; }, 2s));
  env.proc.signal(SIGHUP);
  REQUIRE(support::wait_until([&] { return support::count_of(env.log(), "SIGHUP") == 2; }, 2s));
  CHECK(env.proc.running());
  CHECK(anon.request("GET", "/healthz").status == 200);
  CHECK(env.issue(R"({"user_id":"hup"})").status == 201);
  CHECK(env.log().find("shortcred-tokend: SIGHUP: nothing to reload") != std::string::npos);
  // SIGTERM still stops it cleanly afterwards.
  const int status = env.proc.stop();
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("a second tokend on a port in use refuses to start with exit 2", "[tokend][listen]") {
  TokendEnv env;
  support::Process second(tokend_argv(env), env.dir / "second.log");
  CHECK(exit_code_within(second, 5s) == 2);
  const std::string log = support::read_file(env.dir / "second.log");
  CHECK(log.find("--listen 127.0.0.1:" + std::to_string(env.port) + ": address already in use") !=
        std::string::npos);
  CHECK(log.find("--reuse-port") != std::string::npos);
  CHECK(log.find("listening on") == std::string::npos);
  // The first one is unaffected.
  support::HttpClient anon(env.base_url());
  CHECK(anon.request("GET", "/healthz").status == 200);
}

TEST_CASE("asking for --reuse-port on one side only does not share the port", "[tokend][listen]") {
  TokendEnv env;  // started without --reuse-port
  support::Process second(tokend_argv(env, {"--reuse-port"}), env.dir / "second.log");
  CHECK(exit_code_within(second, 5s) == 2);
  CHECK(support::read_file(env.dir / "second.log").find("address already in use") !=
        std::string::npos);
}

TEST_CASE("with --reuse-port (or SHORTCRED_REUSE_PORT) processes share the port on purpose",
          "[tokend][listen]") {
  TokendEnv env({"--reuse-port"});
  support::Process second(tokend_argv(env), env.dir / "second.log", {"SHORTCRED_REUSE_PORT=yes"});
  REQUIRE(support::wait_until(
      [&] {
        return support::read_file(env.dir / "second.log").find("listening on") !=
               std::string::npos;
      },
      5s));
  CHECK(second.running());
  CHECK(support::read_file(env.dir / "second.log").find("port shared (--reuse-port)") !=
        std::string::npos);
  support::HttpClient anon(env.base_url());
  CHECK(anon.request("GET", "/healthz").status == 200);
  second.stop();
}

TEST_CASE("a bad --reuse-port value names the option and exits 2", "[tokend][listen]") {
  const auto r = support::run({SHORTCRED_TOKEND_PATH, "--reuse-port=maybe"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--reuse-port 'maybe': expected on or off") != std::string::npos);
}

// The message names the address as it was given: an IPv6 host in brackets
// (`:::8080` reads as nothing). ::2 is never this host's, so binding fails
// whether or not the machine has IPv6.
TEST_CASE("a bind error names an IPv6 --listen address in brackets", "[tokend][listen]") {
  const std::string port = std::to_string(support::free_port());
  const auto r = support::run({SHORTCRED_TOKEND_PATH, "--listen", "[::2]:" + port});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--listen [::2]:" + port + ": ") != std::string::npos);
}

TEST_CASE("with --log-format json every log line is a JSON object, latencies 3 decimals",
          "[tokend][log]") {
  TokendEnv env({"--log-format", "json"});
  support::HttpClient anon(env.base_url());
  const std::string id = parse_json(env.issue(R"({"user_id":"jo"})").body)["token_id"].asString();
  env.call("GET", "/v2/tokens?user_id=jo");
  env.call("DELETE", "/v2/tokens/" + id);
  anon.request("GET", "/healthz");
  anon.request("POST", "/v2/tokens", "{}");  // 401
  anon.request("GET", "/nowhere");           // 404
  env.proc.signal(SIGHUP);
  REQUIRE(support::wait_until([&] { return env.log().find("sighup") != std::string::npos; }, 2s));
  env.proc.stop();

  const std::string log = env.log();
  std::istringstream in(log);
  std::size_t lines = 0, access = 0;
  std::set<std::string> events;
  for (std::string line; std::getline(in, line);) {
    CAPTURE(line);
    ++lines;
    const Json::Value v = parse_json(line);
    REQUIRE(v.isObject());
    CHECK(v["ts"].isString());
    if (v.isMember("event")) {
      CHECK(v["message"].isString());
      events.insert(v["event"].asString());
    } else {
      CHECK(v["route"].isString());
      CHECK(v["status"].isInt());
      CHECK(v["latency_ms"].isDouble());
      ++access;
    }
  }
  CHECK(lines == access + events.size());
  CHECK(access == 6);
  CHECK(events == std::set<std::string>{"listening", "sighup", "signal", "stopped"});
  // Fixed precision: at most three decimals, never 0.14124999999999999.
  static const std::regex kLatency(R"("latency_ms":([0-9.eE+-]+))");
  std::size_t latencies = 0;
  for (std::sregex_iterator it(log.begin(), log.end(), kLatency), end; it != end; ++it) {
    CAPTURE(it->str(1));
    CHECK(std::regex_match(it->str(1), std::regex(R"(\d+(\.\d{1,3})?)")));
    ++latencies;
  }
  CHECK(latencies == access);
}

TEST_CASE("with --log-format json a startup error is a JSON line too", "[tokend][log]") {
  TokendEnv env({"--log-format", "json"});
  support::Process second(tokend_argv(env, {"--log-format", "json"}), env.dir / "second.log");
  CHECK(exit_code_within(second, 5s) == 2);
  const Json::Value v = parse_json(support::read_file(env.dir / "second.log"));
  CHECK(v["event"].asString() == "bind_error");
  CHECK(v["message"].asString().find("address already in use") != std::string::npos);

  const auto bad = support::run({SHORTCRED_TOKEND_PATH, "--log-format", "json", "--threads", "0"},
                                {});
  CHECK(bad.exit_code == 2);
  const Json::Value e = parse_json(bad.err);
  CHECK(e["event"].asString() == "config_error");
  CHECK(e["message"].asString().find("--threads '0'") != std::string::npos);
}
