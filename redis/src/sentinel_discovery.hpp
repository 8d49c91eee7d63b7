// Finding the master of a Sentinel endpoint (used by Connection::open).
#pragma once

#include <chrono>
#include <string>

#include "shortcred/redis/connection.hpp"

namespace shortcred::redis {

// Asks the sentinels in turn (the one that answered last first) for
// `SENTINEL get-master-addr-by-name`, connects to that address with the data
// credentials and confirms `ROLE` is master. On failure returns an empty
// Connection and sets `err` with each sentinel's reason.
Connection discover_master(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                           std::string& err);

// A watcher saw +switch-master: counted, and every connection rediscovers.
void note_switch_master() noexcept;

}  // namespace shortcred::redis
