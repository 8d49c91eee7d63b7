#include "tokend_process.hpp"

#include <chrono>
#include <regex>
#include <stdexcept>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace broker_test {

TokendProcess start_tokend(const support::TempDir& dir, const std::string& redis_url,
                           const std::vector<std::string>& flags, const std::string& name) {
  TokendProcess t;
  t.log = dir / (name + ".log");
  for (int attempt = 0; attempt < 3 && t.port == 0; ++attempt) {
    const int p = support::free_port();
    std::vector<std::string> argv{SHORTCRED_TOKEND_PATH, "--listen",
                                  "127.0.0.1:" + std::to_string(p), "--redis", redis_url};
    argv.insert(argv.end(), flags.begin(), flags.end());
    t.proc = support::Process(argv, t.log);
    const std::string ready = "listening on 127.0.0.1:" + std::to_string(p);
    support::wait_until(
        [&] {
          return !t.proc.running() || support::read_file(t.log).find(ready) != std::string::npos;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(10));
    if (t.proc.running()) t.port = p;
  }
  return t;
}

support::RunResult run_ctl(const std::string& redis_url, std::vector<std::string> args) {
  args.insert(args.begin(), {SHORTCRED_CTL_PATH, "--redis", redis_url});
  return support::run(args);
}

std::string make_api_key(const std::string& redis_url, const std::string& org) {
  const auto created = run_ctl(redis_url, {"org", "create", "--id", org});
  if (created.exit_code != 0) throw std::runtime_error("org create failed: " + created.err);
  const auto key = run_ctl(redis_url, {"--json", "apikey", "create", "--org", org});
  if (key.exit_code != 0) throw std::runtime_error("apikey create failed: " + key.err);
  return "Authorization: Bearer " + json_field(key.out, "api_key");
}

std::string json_field(const std::string& body, const std::string& name) {
  std::smatch m;
  const std::regex re("\"" + name + "\"\\s*:\\s*\"([^\"]*)\"");
  return std::regex_search(body, m, re) ? m.str(1) : std::string();
}

}  // namespace broker_test
