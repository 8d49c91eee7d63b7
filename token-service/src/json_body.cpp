#include "shortcred/tokens/json_body.hpp"

#include <algorithm>

#include "shortcred/time.hpp"

namespace shortcred::tokens {
namespace {

Json::Value string_array(const std::vector<std::string>& v) {
  Json::Value a(Json::arrayValue);
  for (const auto& s : v) a.append(s);
  return a;
}

const Json::StreamWriterBuilder& compact_writer() {
  static const Json::StreamWriterBuilder w = [] {
    Json::StreamWriterBuilder b;
    b["indentation"] = "";
    b["emitUTF8"] = true;
    return b;
  }();
  return w;
}

}  // namespace

Json::Value issued_json(const Issued& t, std::int64_t now) {
  Json::Value v(Json::objectValue);
  v["token_id"] = t.token_id;
  v["username"] = t.username;
  v["password"] = t.password;
  v["expires_at"] = format_rfc3339(t.expires_at_ms / 1000);
  // Rounded: a credential issued a few ms ago for 3600 s says 3600, not 3599.
  v["expires_in"] = Json::Int64(std::max<std::int64_t>(0, (t.expires_at_ms - now + 500) / 1000));
  const std::int64_t lifetime = t.expires_at_ms - t.issued_at_ms;
  v["refresh_recommended_at"] = format_rfc3339((t.issued_at_ms + lifetime * 9 / 10) / 1000);
  if (!t.scope.empty()) v["scope"] = string_array(t.scope);
  if (!t.client_id.empty()) v["client_id"] = t.client_id;
  return v;
}

Json::Value token_info_json(const TokenInfo& t) {
  Json::Value v(Json::objectValue);
  v["token_id"] = t.token_id;
  v["user_id"] = t.record.user;
  v["issued_at"] = format_rfc3339(t.record.issued_at_ms / 1000);
  v["expires_at"] = format_rfc3339(t.record.expires_at_ms / 1000);
  if (!t.record.scope.empty()) v["scope"] = string_array(t.record.scope);
  if (!t.record.client_id.empty()) v["client_id"] = t.record.client_id;
  if (!t.record.apikey.empty()) v["apikey"] = t.record.apikey;
  return v;
}

Json::Value token_page_json(const ListPage& page) {
  Json::Value v(Json::objectValue);
  v["tokens"] = Json::Value(Json::arrayValue);
  for (const auto& t : page.tokens) v["tokens"].append(token_info_json(t));
  if (!page.next_cursor.empty()) v["next_cursor"] = page.next_cursor;
  return v;
}

Json::Value error_json(std::string_view code, std::string_view message) {
  Json::Value v(Json::objectValue);
  v["error"]["code"] = std::string(code);
  v["error"]["message"] = std::string(message);
  return v;
}

std::string to_json_text(const Json::Value& v) { return Json::writeString(compact_writer(), v); }

}  // namespace shortcred::tokens
