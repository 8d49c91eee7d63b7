// A Lua script run with EVALSHA: loaded once with SCRIPT LOAD, and loaded
// again when Redis answers NOSCRIPT (a restart, a failover, SCRIPT FLUSH).
// On a Redis Cluster SCRIPT LOAD (no key) may reach another node than the
// script's keys: a second NOSCRIPT runs it once with EVAL, which caches it on
// the keys' node. One instance per thread: it keeps its SHA, no locking.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/redis/client.hpp"

namespace shortcred::redis {

class Script {
 public:
  explicit Script(std::string_view body) : body_(body) {}

  // The script's reply; nullptr on I/O error (then c.ok() is false). A Redis
  // error reply other than NOSCRIPT is returned as it is.
  Reply run(Client& c, const std::vector<std::string>& keys,
            const std::vector<std::string>& args);
  // How many times the script was sent (SCRIPT LOAD, or EVAL), for counters.
  std::uint64_t loads() const noexcept { return loads_; }

 private:
  Reply load(Client& c);  // SCRIPT LOAD; keeps the SHA on success
  std::string body_;
  std::string sha_;
  std::uint64_t loads_ = 0;
};

}  // namespace shortcred::redis
