// base64url without padding (RFC 7515 §2, RFC 4648 §5), as JWS and JWK use it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shortcred::jose {

// Strict: only [A-Za-z0-9_-], no '=' padding, no whitespace, a length that a
// whole number of bytes can have (not 1 mod 4), and zero unused bits in the
// last character, so every byte string has exactly one accepted encoding
// (a token cannot be altered in its encoding and keep its signature input).
std::optional<std::string> base64url_decode(std::string_view in);

std::string base64url_encode(std::string_view bytes);

}  // namespace shortcred::jose
