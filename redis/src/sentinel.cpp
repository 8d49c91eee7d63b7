#include <cstdlib>
#include <map>
#include <mutex>

#include "sentinel_discovery.hpp"
#include "shortcred/redis/sentinel.hpp"

namespace shortcred::redis {
namespace {

std::atomic<std::uint64_t> g_generation{0};
std::atomic<std::uint64_t> g_discoveries{0};
std::atomic<std::uint64_t> g_master_changes{0};
std::atomic<std::uint64_t> g_masters_lost{0};
std::atomic<std::uint64_t> g_switch_events{0};
// The sentinel that answered last is asked first: a dead one costs a
// connect attempt only until another has answered.
std::atomic<std::size_t> g_preferred{0};

std::mutex g_mu;
std::map<std::string, std::string> g_last_master;  // master name -> "host:port"

std::string node_text(const RedisNode& n) {
  return (n.host.find(':') != std::string::npos ? "[" + n.host + "]" : n.host) + ":" +
         std::to_string(n.port);
}

// The master's address from one sentinel, or "" with `why` set.
bool ask_sentinel(const RedisEndpoint& ep, const RedisNode& sentinel,
                  std::chrono::milliseconds timeout, RedisNode& master, std::string& why) {
  Connection s = Connection::open(ep.sentinel_at(sentinel), timeout, why);
  if (!s.ok()) return false;
  Reply r = s.command({"SENTINEL", "get-master-addr-by-name", ep.master_name});
  if (!r) {
    why = "sentinel " + node_text(sentinel) + ": " + s.error();
    return false;
  }
  if (r->type == REDIS_REPLY_NIL) {
    why = "sentinel " + node_text(sentinel) + " does not monitor a master named '" +
          ep.master_name + "'";
    return false;
  }
  int port = 0;
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING ||
      (port = std::atoi(to_string(r->element[1]).c_str())) <= 0 || port > 65535) {
    why = "sentinel " + node_text(sentinel) + " answered " +
          (r->type == REDIS_REPLY_ERROR ? to_string(r.get()) : std::string("an unexpected reply"));
    return false;
  }
  master.host = to_string(r->element[0]);
  master.port = port;
  return true;
}

}  // namespace

std::uint64_t sentinel_generation() noexcept {
  return g_generation.load(std::memory_order_acquire);
}

void note_master_lost() noexcept {
  g_masters_lost.fetch_add(1, std::memory_order_relaxed);
  g_generation.fetch_add(1, std::memory_order_acq_rel);
}

void note_switch_master() noexcept {
  g_switch_events.fetch_add(1, std::memory_order_relaxed);
  g_generation.fetch_add(1, std::memory_order_acq_rel);
}

SentinelCounters sentinel_counters() noexcept {
  SentinelCounters c;
  c.discoveries = g_discoveries.load(std::memory_order_relaxed);
  c.master_changes = g_master_changes.load(std::memory_order_relaxed);
  c.masters_lost = g_masters_lost.load(std::memory_order_relaxed);
  c.switch_master_events = g_switch_events.load(std::memory_order_relaxed);
  return c;
}

Connection discover_master(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                           std::string& err) {
  const std::size_t n = ep.nodes.size();
  const std::size_t first = g_preferred.load(std::memory_order_relaxed);
  std::string reasons;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t idx = (first + i) % n;
    RedisNode master;
    std::string why;
    if (ask_sentinel(ep, ep.nodes[idx], timeout, master, why)) {
      Connection c = Connection::open(ep.at(master), timeout, why);
      Reply role = c.ok() ? c.command({"ROLE"}) : nullptr;
      if (role && role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
          to_string(role->element[0]) == "master") {
        g_preferred.store(idx, std::memory_order_relaxed);
        g_discoveries.fetch_add(1, std::memory_order_relaxed);
        std::lock_guard lock(g_mu);
        std::string& last = g_last_master[ep.master_name];
        const std::string now = node_text(master);
        if (!last.empty() && last != now) g_master_changes.fetch_add(1, std::memory_order_relaxed);
        last = now;
        return c;
      }
      if (c.ok()) {
        // During a failover a sentinel may still name the demoted master.
        why = node_text(master) + " (named by sentinel " + node_text(ep.nodes[idx]) + ") is " +
              (role ? "a " + to_string(role && role->elements > 0 ? role->element[0] : nullptr)
                    : "unreachable: " + c.error()) +
              ", not the master";
      }
    }
    reasons += (reasons.empty() ? "" : "; ") + why;
  }
  err = "no sentinel named a reachable master '" + ep.master_name + "': " + reasons;
  return {};
}

}  // namespace shortcred::redis
