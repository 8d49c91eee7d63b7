// The log of shortcred-tokend on stderr, text or JSON (--log-format): one
// access line per request and the lifecycle and error lines ("listening",
// "signal", "stopped", "store_error"…), every one a single write(2). In JSON
// every line is one object, lifecycle lines included.
//
// An access line carries the route template (never the raw path or query),
// status, latency, org, API key id and token id; never a header, a body, a
// password, a secret or a key. The latency is milliseconds with at most three
// decimals (microsecond resolution): `2.509ms` in text, `"latency_ms":2.509`
// in JSON.
#pragma once

#include <string>
#include <string_view>

namespace shortcred::tokens {

struct AccessRecord {
  std::string_view method;
  std::string_view route;  // e.g. "/v2/tokens/{id}", or "unmatched"
  int status = 0;
  double latency_ms = -1;  // < 0: unknown (rejected before routing)
  std::string_view org, key_id, token_id, remote;
};

// Formats one line (with trailing newline).
std::string format_access(const AccessRecord& r, bool json);
// Writes it with one write(2), so concurrent lines never interleave.
void write_access(const AccessRecord& r, bool json);

// The format of lifecycle lines; set once at startup, before any thread.
void set_log_json(bool json);
// Text: `shortcred-tokend: <message>`; JSON: {"ts","event","message"}.
std::string format_event(std::string_view event, std::string_view message, bool json);
// Writes one lifecycle line in the format of set_log_json.
void log_event(std::string_view event, std::string_view message);

}  // namespace shortcred::tokens
