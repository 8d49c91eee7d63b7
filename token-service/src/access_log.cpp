#include "shortcred/tokens/access_log.hpp"

#include <unistd.h>

#include <cstdio>
#include <json/json.h>

#include "shortcred/time.hpp"
#include "shortcred/tokens/json_body.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {
namespace {

std::string or_dash(std::string_view s) { return s.empty() ? "-" : std::string(s); }

}  // namespace

std::string format_access(const AccessRecord& r, bool json) {
  const std::string ts = format_rfc3339(now_ms() / 1000);
  char lat[32];
  std::snprintf(lat, sizeof lat, "%.3f", r.latency_ms);
  if (json) {
    Json::Value v(Json::objectValue);
    v["ts"] = ts;
    v["method"] = std::string(r.method);
    v["route"] = std::string(r.route);
    v["status"] = r.status;
    if (r.latency_ms >= 0) v["latency_ms"] = r.latency_ms;
    if (!r.org.empty()) v["org"] = std::string(r.org);
    if (!r.key_id.empty()) v["key_id"] = std::string(r.key_id);
    if (!r.token_id.empty()) v["token_id"] = std::string(r.token_id);
    if (!r.remote.empty()) v["remote"] = std::string(r.remote);
    return to_json_text(v) + "\n";
  }
  return ts + " " + or_dash(r.method) + " " + or_dash(r.route) + " " + std::to_string(r.status) +
         " " + (r.latency_ms >= 0 ? std::string(lat) + "ms" : std::string("-")) +
         " org=" + or_dash(r.org) + " key=" + or_dash(r.key_id) + " token=" +
         or_dash(r.token_id) + " remote=" + or_dash(r.remote) + "\n";
}

void write_access(const AccessRecord& r, bool json) {
  const std::string line = format_access(r, json);
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace shortcred::tokens
