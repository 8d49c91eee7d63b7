#include "shortcred/tokens/access_log.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <json/json.h>

#include "shortcred/time.hpp"
#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {
namespace {

bool g_log_json = false;

std::string or_dash(std::string_view s) { return s.empty() ? "-" : std::string(s); }

// Doubles print with three decimals at most (2.765, not 2.7651599999999998).
std::string log_json_text(const Json::Value& v) {
  static const Json::StreamWriterBuilder w = [] {
    Json::StreamWriterBuilder b;
    b["indentation"] = "";
    b["emitUTF8"] = true;
    b["precision"] = 3;
    b["precisionType"] = "decimal";
    return b;
  }();
  return Json::writeString(w, v);
}

void write_stderr(const std::string& line) {
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

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
    // Rounded to whole microseconds first, so the writer's three decimals
    // are exact.
    if (r.latency_ms >= 0) v["latency_ms"] = std::round(r.latency_ms * 1000) / 1000;
    if (!r.org.empty()) v["org"] = std::string(r.org);
    if (!r.key_id.empty()) v["key_id"] = std::string(r.key_id);
    if (!r.token_id.empty()) v["token_id"] = std::string(r.token_id);
    if (!r.remote.empty()) v["remote"] = std::string(r.remote);
    return log_json_text(v) + "\n";
  }
  return ts + " " + or_dash(r.method) + " " + or_dash(r.route) + " " + std::to_string(r.status) +
         " " + (r.latency_ms >= 0 ? std::string(lat) + "ms" : std::string("-")) +
         " org=" + or_dash(r.org) + " key=" + or_dash(r.key_id) + " token=" +
         or_dash(r.token_id) + " remote=" + or_dash(r.remote) + "\n";
}

void write_access(const AccessRecord& r, bool json) { write_stderr(format_access(r, json)); }

void set_log_json(bool json) { g_log_json = json; }

std::string format_event(std::string_view event, std::string_view message, bool json) {
  if (!json) return "shortcred-tokend: " + std::string(message) + "\n";
  Json::Value v(Json::objectValue);
  v["ts"] = format_rfc3339(now_ms() / 1000);
  v["event"] = std::string(event);
  v["message"] = std::string(message);
  return log_json_text(v) + "\n";
}

void log_event(std::string_view event, std::string_view message) {
  write_stderr(format_event(event, message, g_log_json));
}

}  // namespace shortcred::tokens
