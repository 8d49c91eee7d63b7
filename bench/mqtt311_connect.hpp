// A hand-written MQTT 3.1.1 CONNECT, shared by the load generators that open
// connections over raw sockets (no libmosquitto client per connection, so the
// generator's own cost stays small and the same in every bench).
#pragma once

#include <cstddef>
#include <string>

#include "support/credentials.hpp"

namespace bench {

// CONNECT, clean session, `keepalive_s` (0 = none); with `login`, the
// username and password flags and fields.
inline std::string mqtt311_connect(const std::string& client_id, const support::Account* login,
                                   unsigned keepalive_s = 0) {
  auto str = [](const std::string& s) {
    return std::string{static_cast<char>(s.size() >> 8), static_cast<char>(s.size() & 0xff)} + s;
  };
  std::string body = str("MQTT") + '\x04' + static_cast<char>(login ? 0xC2 : 0x02) +
                     static_cast<char>(keepalive_s >> 8) + static_cast<char>(keepalive_s & 0xff) +
                     str(client_id);
  if (login) body += str(login->username) + str(login->password);
  std::string pkt(1, '\x10');
  std::size_t len = body.size();
  do {
    auto byte = static_cast<unsigned char>(len % 128);
    len /= 128;
    if (len) byte |= 0x80;
    pkt += static_cast<char>(byte);
  } while (len);
  return pkt + body;
}

}  // namespace bench
