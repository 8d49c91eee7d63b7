// JSON shapes of HTTP API v2, shared by the service and `shortcredctl --json`.
#pragma once

#include <json/json.h>

#include <string>
#include <string_view>

#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {

// The 201 body of POST /v2/tokens: token_id, username, password, expires_at,
// expires_in, refresh_recommended_at (90 % of the lifetime), scope?, client_id?.
Json::Value issued_json(const Issued& t, std::int64_t now_ms);
// One entry of GET /v2/tokens: never a secret or its hash.
Json::Value token_info_json(const TokenInfo& t);
// The 200 body of GET /v2/tokens: {"tokens":[…], "next_cursor"? (when more remain)}.
Json::Value token_page_json(const ListPage& page);
// {"error":{"code","message"}}
Json::Value error_json(std::string_view code, std::string_view message);

// Compact one-line serialisation.
std::string to_json_text(const Json::Value& v);

}  // namespace shortcred::tokens
