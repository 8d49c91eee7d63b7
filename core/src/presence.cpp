#include "shortcred/presence.hpp"

#include <cstdio>

namespace shortcred {
namespace {

std::string scoped(std::string_view prefix, std::string_view org, std::string_view rest,
                   std::string_view tail = {}) {
  std::string k;
  k.reserve(prefix.size() + org.size() + rest.size() + tail.size() + 2);
  k.append(prefix).append("{").append(org).append("}").append(rest).append(tail);
  return k;
}

// JSON string escaping for values we did not choose (client ids, user ids
// are restricted, but the encoder does not rely on it).
void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out.append(buf);
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
}

}  // namespace

std::string sessions_key(std::string_view prefix, std::string_view org) {
  return scoped(prefix, org, ":sessions");
}
std::string session_seen_key(std::string_view prefix, std::string_view org) {
  return scoped(prefix, org, ":session_seen");
}
std::string user_seen_key(std::string_view prefix, std::string_view org, std::string_view user) {
  return scoped(prefix, org, ":user_seen:", user);
}
std::string broker_seen_key(std::string_view prefix, std::string_view org, std::string_view broker) {
  return scoped(prefix, org, ":broker_seen:", broker);
}
std::string quota_key(std::string_view prefix, std::string_view org) {
  return scoped(prefix, org, ":quota");
}

Errc validate_broker_id(std::string_view id) noexcept {
  if (id.empty()) return Errc::empty;
  if (id.size() > 64) return Errc::too_long;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return Errc::bad_char;
  }
  return Errc::ok;
}

bool valid_kick_client_id(std::string_view id) noexcept {
  return !id.empty() && id.size() <= 65535 && id.find('\0') == std::string_view::npos;
}

std::string presence_field(std::string_view broker, std::string_view client_id) {
  std::string f;
  f.reserve(broker.size() + 1 + client_id.size());
  f.append(broker).append("|").append(client_id);
  return f;
}

std::optional<PresenceField> split_presence_field(std::string_view field) noexcept {
  const auto bar = field.find('|');
  if (bar == std::string_view::npos || bar == 0 || bar + 1 == field.size()) return std::nullopt;
  return PresenceField{field.substr(0, bar), field.substr(bar + 1)};
}

std::string encode_presence(const PresenceRecord& r) {
  std::string out = "{\"user\":";
  append_json_string(out, r.user);
  out += ",\"token\":";
  append_json_string(out, r.token);
  out += ",\"connected_at\":" + std::to_string(r.connected_at_ms);
  out += ",\"proto\":" + std::to_string(r.proto);
  out += ",\"broker\":";
  append_json_string(out, r.broker);
  out += '}';
  return out;
}

}  // namespace shortcred
