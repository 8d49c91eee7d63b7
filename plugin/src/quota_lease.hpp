// `pub_rate_scope global` (DESIGN.md part 2): an org's publish budget is one
// token bucket in Redis, `<prefix>{<org>}:quota`, shared by every broker.
// A broker never asks Redis per publish: its background thread leases a
// slice of the bucket (kLeaseScript, atomic, EVALSHA) and the publish path
// spends the slice from memory. So the org's total over all brokers stays
// within pub_rate × seconds + pub_burst + one lease per broker (the slices
// brokers hold unspent).
//
// The broker thread posts a request when its slice runs low; the grant comes
// back through the background mailbox (BackgroundEvents::leases).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "shortcred/redis/client.hpp"
#include "shortcred/redis/script.hpp"
#include "shortcred/redis_url.hpp"

namespace shortcred::plugin {

// The slice a broker leases at once: a tenth of a second's budget (at least
// one token). Small enough to keep the overshoot bound tight, large enough
// that a busy broker asks Redis about ten times a second per org.
inline std::int64_t lease_size(std::int64_t pub_rate) noexcept {
  return pub_rate <= 10 ? 1 : (pub_rate + 9) / 10;
}

// KEYS[1] = quota hash; ARGV = rate/s, burst, tokens wanted, broker id.
// Fields: `tokens` (fill, fractional), `updated_ms` (Redis TIME), and
// `leased:<broker id>` (tokens granted to that broker so far, for redis-cli).
// Returns the tokens granted (0 to ARGV[3]).
inline constexpr std::string_view kLeaseScript = R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate, burst, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens')) or burst
local last = tonumber(redis.call('HGET', KEYS[1], 'updated_ms')) or now
if now > last then tokens = math.min(burst, tokens + (now - last) * rate / 1000) end
if tokens > burst then tokens = burst end
local grant = math.min(want, math.floor(tokens))
if grant < 0 then grant = 0 end
tokens = tokens - grant
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'updated_ms', math.max(now, last))
if grant > 0 then redis.call('HINCRBY', KEYS[1], 'leased:' .. ARGV[4], grant) end
redis.call('PEXPIRE', KEYS[1], 86400000)
return grant
)lua";

struct LeaseRequest {
  std::string org;
  std::int64_t rate = 0, burst = 0, want = 0;
};
struct LeaseGrant {
  std::string org;
  std::int64_t granted = 0;  // 0 also when Redis could not be asked
};
struct LeaseStats {
  std::uint64_t requests = 0, granted = 0, errors = 0, script_loads = 0;
};

class QuotaLeaser {
 public:
  QuotaLeaser(RedisEndpoint ep, std::string prefix);

  // Broker thread.
  void set_broker_id(std::string id);
  void post(LeaseRequest r);
  // Background thread: runs every posted request.
  void run_due(std::vector<LeaseGrant>& grants, LeaseStats& stats, std::string& error);

 private:
  RedisEndpoint ep_;
  std::string prefix_;
  std::mutex mu_;
  std::string broker_id_;
  std::vector<LeaseRequest> requests_;
  redis::Client conn_;
  redis::Script script_;
  bool failing_ = false;
};

}  // namespace shortcred::plugin
