// One access-log line per request on stderr, text or JSON. It carries the
// route template (never the raw path or query), status, latency, org, API key
// id and token id; never a header, a body, a password, a secret or a key.
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

}  // namespace shortcred::tokens
