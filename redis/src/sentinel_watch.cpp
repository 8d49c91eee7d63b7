#include <poll.h>

#include <algorithm>

#include "sentinel_discovery.hpp"
#include "shortcred/redis/sentinel.hpp"

namespace shortcred::redis {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kIoTimeout = std::chrono::milliseconds(1000);
constexpr auto kPoll = std::chrono::milliseconds(100);
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::milliseconds(2000);

// "+switch-master <name> <old ip> <old port> <new ip> <new port>"
bool about(const std::string& payload, const std::string& master_name) {
  return payload.starts_with(master_name + " ");
}

}  // namespace

SwitchMasterWatcher::SwitchMasterWatcher(RedisEndpoint ep,
                                         std::function<void(const std::string&)> on_switch)
    : ep_(std::move(ep)), on_switch_(std::move(on_switch)) {
  if (ep_.kind == RedisEndpoint::Kind::sentinel && !ep_.nodes.empty()) {
    thread_ = std::thread([this] { run(); });
  }
}

SwitchMasterWatcher::~SwitchMasterWatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void SwitchMasterWatcher::run() {
  std::size_t next = 0;
  auto backoff = kFirstBackoff;
  while (!stop_) {
    std::string err;
    const RedisNode& node = ep_.nodes[next++ % ep_.nodes.size()];
    Connection sub = Connection::open(ep_.sentinel_at(node), kIoTimeout, err);
    Reply r = sub.ok() ? sub.command({"SUBSCRIBE", "+switch-master"}) : nullptr;
    if (r && r->type == REDIS_REPLY_ARRAY) {
      backoff = kFirstBackoff;
      while (!stop_ && sub.ok()) {
        Reply m = sub.read_ready();
        if (!m) {
          if (!sub.ok()) break;
          pollfd p{sub.fd(), POLLIN, 0};
          if (::poll(&p, 1, static_cast<int>(kPoll.count())) < 0 && errno != EINTR) break;
          continue;
        }
        if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
            to_string(m->element[0]) != "message") {
          continue;
        }
        const std::string payload = to_string(m->element[2]);
        if (!about(payload, ep_.master_name)) continue;
        note_switch_master();
        if (on_switch_) on_switch_(payload);
      }
    }
    // Lost or never reached: the next sentinel after a pause.
    const auto until = Clock::now() + backoff;
    while (!stop_ && Clock::now() < until) std::this_thread::sleep_for(kPoll / 2);
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace shortcred::redis
