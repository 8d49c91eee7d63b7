// Who owns an MQTT client id (hardening: a tenant must not take over, wipe
// or resume another tenant's persistent session). Mosquitto keeps a session
// by client id for as long as its expiry allows, across disconnects and —
// with persistence — restarts, on the broker that holds it; so the owner of a
// client id is recorded in Redis, where every broker sees it:
//
//   <prefix>clientid:<client id>   string "<org>\n<user>"   EX owner TTL
//
// written after each CONNECT of ours and at each disconnect (so the TTL runs
// from the last disconnect), read in the CONNECT round trip. Neither org ids
// nor user ids can contain '\n', so the value is unambiguous.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace shortcred {

struct ClientOwner {
  std::string org, user;
  bool operator==(const ClientOwner&) const = default;
};

std::string client_owner_key(std::string_view prefix, std::string_view client_id);
std::string encode_client_owner(std::string_view org, std::string_view user);
// nullopt for anything that is not "<org>\n<user>" (a value written by hand).
std::optional<ClientOwner> parse_client_owner(std::string_view value);

}  // namespace shortcred
