#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "shortcred/redis/connection.hpp"

namespace support {

// A credential written straight into Redis, as the token service would.
struct Account {
  std::string username, password;
};

// Creates org `org` (its hash, if absent) and `n` credentials of it for
// users <user_prefix>0…, valid for `ttl`, with pipelined HSETs (500 per
// round trip). For load generators that need thousands at once.
std::vector<Account> write_credentials(shortcred::redis::Connection& c, const std::string& org,
                                       int n, const std::string& user_prefix,
                                       std::chrono::milliseconds ttl = std::chrono::hours(1));

}  // namespace support
