#include "support/redis_sentinels.hpp"

#include <stdexcept>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace support {
namespace {

using namespace std::chrono_literals;

shortcred::redis::Connection connect_to(int port) {
  shortcred::RedisEndpoint ep;
  ep.port = port;
  std::string err;
  return shortcred::redis::Connection::open(ep, 1000ms, err);
}

// Field `name` of a flat field/value array reply (SENTINEL MASTER).
std::string field(const redisReply* r, const std::string& name) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY) return {};
  for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
    if (shortcred::redis::to_string(r->element[i]) == name) {
      return shortcred::redis::to_string(r->element[i + 1]);
    }
  }
  return {};
}

}  // namespace

RedisSentinels::RedisSentinels(int replicas, int sentinels, int down_after_ms)
    : dir_("shortcred-sentinels") {
  servers_.push_back(std::make_unique<RedisServer>());
  const std::string master_port = std::to_string(master().port());
  for (int i = 0; i < replicas; ++i) {
    RedisServerOptions o;
    o.extra_args = {"--replicaof", "127.0.0.1", master_port};
    servers_.push_back(std::make_unique<RedisServer>(o));
  }
  for (int i = 0; i < sentinels; ++i) {
    const int port = free_port();
    const auto conf = dir_ / ("sentinel-" + std::to_string(i) + ".conf");
    // Sentinel rewrites its config file as it learns: one per sentinel.
    write_file(conf, "port " + std::to_string(port) +
                         "\nbind 127.0.0.1\n"
                         "protected-mode no\n"
                         "dir " + dir_.path().string() + "\n"
                         "sentinel monitor " + kMasterName + " 127.0.0.1 " + master_port + " 2\n"
                         "sentinel down-after-milliseconds " + kMasterName + " " +
                         std::to_string(down_after_ms) + "\n"
                         "sentinel failover-timeout " + kMasterName + " " +
                         std::to_string(4 * down_after_ms) + "\n"
                         "sentinel parallel-syncs " + kMasterName + " 1\n");
    sentinel_ports_.push_back(port);
    sentinels_.emplace_back(std::vector<std::string>{"redis-server", conf.string(), "--sentinel"},
                            dir_ / ("sentinel-" + std::to_string(i) + ".log"));
  }
  if (!wait_until([&] { return ready(); }, 30s, 50ms)) {
    throw std::runtime_error("the sentinels did not converge; see " + dir_.path().string());
  }
}

RedisSentinels::~RedisSentinels() = default;

bool RedisSentinels::ready() const {
  for (std::size_t i = 1; i < servers_.size(); ++i) {
    auto c = connect_to(servers_[i]->port());
    if (info_field(c, "replication", "master_link_status") != "up") return false;
  }
  for (int port : sentinel_ports_) {
    auto c = connect_to(port);
    auto r = c.command({"SENTINEL", "MASTER", kMasterName});
    if (field(r.get(), "num-other-sentinels") != std::to_string(sentinel_ports_.size() - 1) ||
        field(r.get(), "num-slaves") != std::to_string(servers_.size() - 1)) {
      return false;
    }
  }
  return true;
}

std::string RedisSentinels::url() const {
  std::string u = "redis-sentinel://";
  for (std::size_t i = 0; i < sentinel_ports_.size(); ++i) {
    u += (i == 0 ? "" : ",") + std::string("127.0.0.1:") + std::to_string(sentinel_ports_[i]);
  }
  return u + "/0?master=" + kMasterName;
}

std::string RedisSentinels::reported_master() const {
  for (int port : sentinel_ports_) {
    auto c = connect_to(port);
    auto r = c.command({"SENTINEL", "get-master-addr-by-name", kMasterName});
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
      return shortcred::redis::to_string(r->element[0]) + ":" +
             shortcred::redis::to_string(r->element[1]);
    }
  }
  return {};
}

shortcred::redis::Connection RedisSentinels::connect_port(int port) { return connect_to(port); }

}  // namespace support
