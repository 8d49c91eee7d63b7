// JSON request bodies of HTTP API v2, parsed strictly: 400 for malformed
// JSON, a non-object, a field of the wrong JSON type or an unknown field (so
// `ttl` is never silently taken for the default); 422 for a value that fails
// validation. Every message names the field and the rule.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "shortcred/tokens/store.hpp"

namespace shortcred::tokens {

struct BodyError {
  int status = 400;
  std::string code;     // invalid_json | invalid_body | invalid_type | unknown_field |
                        // missing_field | invalid_field
  std::string message;
};

// POST /v2/tokens: {"user_id", "ttl_seconds"?, "scope"?, "client_id"?}.
std::optional<BodyError> parse_issue_body(std::string_view body, IssueRequest& out);

// POST /v2/tokens/exchange: {"org", "id_token", "ttl_seconds"?, "client_id"?}.
// The id token is only checked to be a string here (jose verifies it).
struct ExchangeRequest {
  std::string org;
  std::string id_token;
  std::optional<std::int64_t> ttl_seconds;
  std::string client_id;
};
std::optional<BodyError> parse_exchange_body(std::string_view body, ExchangeRequest& out);

// POST /v2/tokens/<id>/refresh: optional {"ttl_seconds"?, "revoke_old"?}; an
// empty body means neither.
std::optional<BodyError> parse_refresh_body(std::string_view body,
                                            std::optional<std::int64_t>& ttl, bool& revoke_old);

}  // namespace shortcred::tokens
