// A real shortcred-tokend for the broker tests that run the whole flow
// (HTTP mint -> MQTT CONNECT -> revoke), against any Redis URL form.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace broker_test {

struct TokendProcess {
  support::Process proc;
  int port = 0;  // 0: it did not start (see the log)
  std::filesystem::path log;
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port); }
};

// Starts shortcred-tokend on a free port with `--redis redis_url` and
// `flags`, logging to `dir`/`name`.log, and waits for its "listening" line.
// free_port() can race with other processes: another port is tried if it
// lost.
TokendProcess start_tokend(const support::TempDir& dir, const std::string& redis_url,
                           const std::vector<std::string>& flags = {},
                           const std::string& name = "tokend");

// shortcredctl against `redis_url`.
support::RunResult run_ctl(const std::string& redis_url, std::vector<std::string> args);

// Creates `org` and an API key through shortcredctl; returns the
// "Authorization: Bearer sk_…" header.
std::string make_api_key(const std::string& redis_url, const std::string& org);

// One string field of a flat JSON object (the token service's replies).
std::string json_field(const std::string& body, const std::string& name);

}  // namespace broker_test
