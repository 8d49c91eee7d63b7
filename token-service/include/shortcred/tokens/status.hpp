// Outcomes of the store operations, shared by the HTTP service and
// shortcredctl. Each adapter maps them in one place: HTTP statuses in
// routes.cpp, exit codes in ctl.cpp. "Could not ask Redis" (unavailable) is
// never confused with "not found" or "refused".
#pragma once

#include <cstdint>
#include <string>

namespace shortcred::tokens {

enum class Code : std::uint8_t {
  ok,
  invalid,        // a field fails validation (HTTP 422); the message names it
  not_found,      // no such org / credential / key (HTTP 404)
  forbidden,      // the org is disabled (HTTP 403)
  org_not_found,  // issuing into an org whose hash does not exist (HTTP 404)
  too_many,       // the user holds max_tokens_per_user live credentials (HTTP 429)
  unavailable,    // Redis did not answer: unreachable, timeout, I/O (HTTP 503)
  busy,           // Redis answered "cannot serve now": LOADING, BUSY, OOM… (HTTP 503)
  internal,       // Redis answered an error about the data (WRONGTYPE…) (HTTP 500)
  not_replicated,  // fewer replicas than --min-replicas confirmed the write (HTTP 503)
};

struct Status {
  Code code = Code::ok;
  std::string message;  // a sentence for people; never carries a secret

  bool ok() const noexcept { return code == Code::ok; }
  static Status success() { return {}; }
  static Status invalid(std::string message) { return {Code::invalid, std::move(message)}; }
  static Status make(Code c, std::string message) { return {c, std::move(message)}; }
};

}  // namespace shortcred::tokens
