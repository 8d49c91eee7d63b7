#include "shortcred/client_owner.hpp"

namespace shortcred {

std::string client_owner_key(std::string_view prefix, std::string_view client_id) {
  std::string k(prefix);
  k += "clientid:";
  k += client_id;
  return k;
}

std::string encode_client_owner(std::string_view org, std::string_view user) {
  std::string v(org);
  v += '\n';
  v += user;
  return v;
}

std::optional<ClientOwner> parse_client_owner(std::string_view value) {
  const auto nl = value.find('\n');
  if (nl == std::string_view::npos || nl == 0 || nl + 1 == value.size() ||
      value.find('\n', nl + 1) != std::string_view::npos) {
    return std::nullopt;
  }
  return ClientOwner{std::string(value.substr(0, nl)), std::string(value.substr(nl + 1))};
}

}  // namespace shortcred
