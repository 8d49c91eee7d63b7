// Strict JSON (RFC 8259) for what identity providers send: JWS headers and
// claims, JWK sets.
#pragma once

#include <json/value.h>

#include <string_view>

namespace shortcred::jose {

// One JSON value and nothing after it: no comments, no duplicate member
// names (RFC 7515 §4 lets a JWS parser refuse them; two `alg` or `iss`
// members are how parser differentials start), no byte order mark, no
// single quotes, trailing commas, NaN or numeric keys, nesting at most 64
// deep. False for anything else; never throws.
bool parse_strict_json(std::string_view text, Json::Value& out);

// The same, saying why a text was refused, for callers that answer with it.
enum class JsonRefusal { none, byte_order_mark, comment, malformed };
JsonRefusal parse_strict_json_why(std::string_view text, Json::Value& out);

}  // namespace shortcred::jose
