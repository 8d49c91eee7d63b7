#include "shortcred/jose/user_map.hpp"

#include "shortcred/ids.hpp"
#include "shortcred/secrets.hpp"

namespace shortcred::jose {
namespace {

bool kept_by_encode(unsigned char c) noexcept {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         c == '.' || c == '_' || c == '@' || c == '-';
}

std::string encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) {
    if (kept_by_encode(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(':');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

}  // namespace

std::optional<UserMap> parse_user_map(std::string_view name) noexcept {
  if (name == "refuse") return UserMap::refuse;
  if (name == "encode") return UserMap::encode;
  if (name == "hash") return UserMap::hash;
  return std::nullopt;
}

std::string_view user_map_name(UserMap m) noexcept {
  switch (m) {
    case UserMap::refuse:
      return "refuse";
    case UserMap::encode:
      return "encode";
    case UserMap::hash:
      return "hash";
  }
  return "refuse";
}

std::optional<std::string> map_user(std::string_view value, UserMap rule, std::string& why) {
  if (value.empty()) {
    why = "the user claim is empty";
    return std::nullopt;
  }
  switch (rule) {
    case UserMap::refuse:
      if (validate_user_id(value) != Errc::ok) {
        why = "the user claim is not a valid user id (1-128 bytes of [A-Za-z0-9._:@-]) and this "
              "provider's user_map is refuse";
        return std::nullopt;
      }
      return std::string(value);
    case UserMap::encode: {
      std::string out = encode(value);
      if (out.size() > kUserIdMax) {
        why = "the user claim, encoded, is longer than 128 bytes (use user_map hash)";
        return std::nullopt;
      }
      return out;
    }
    case UserMap::hash:
      return sha256_hex(value);
  }
  why = "unknown user_map";
  return std::nullopt;
}

std::optional<std::string> user_from_claims(const Json::Value& claims, const std::string& claim,
                                            UserMap rule, std::string& why) {
  const Json::Value& v = claims[claim];
  if (!v.isString()) {
    why = v.isNull() ? "the token has no " + claim + " claim"
                     : "the " + claim + " claim is not a string";
    return std::nullopt;
  }
  return map_user(v.asString(), rule, why);
}

}  // namespace shortcred::jose
