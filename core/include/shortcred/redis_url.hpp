// `redis://[user:pass@]host[:port][/db]` and `unix:///path[?db=N]`.
#pragma once

#include <string>
#include <string_view>

#include "shortcred/errc.hpp"

namespace shortcred {

struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string unix_path;  // non-empty for unix://
  std::string username;
  std::string password;  // never logged; see redacted()
  int db = 0;

  // The URL without the password, for logs.
  std::string redacted() const;
};

inline constexpr std::string_view kDefaultRedisUrl = "redis://127.0.0.1:6379/0";

Errc parse_redis_url(std::string_view url, RedisEndpoint& out);

}  // namespace shortcred
