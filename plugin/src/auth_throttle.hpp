// Failed-auth throttling before Redis (issue 13 "Failed-auth throttling",
// issue 12 "A stock client whose credential expired reconnects…"). Every
// well-formed but wrong CONNECT would cost a Redis round trip and a log line;
// a flood of them from one address, or a stock client retrying an expired
// credential forever, must not — and a valid new credential is never refused
// for what others did.
//
//  - Per credential (org and token id, the key that was looked up): one Redis
//    did not know or that had expired cannot become valid again (ids are
//    never reused), so it is held: refused from memory until `token_hold_s`
//    after its *last* attempt, so a client retrying it in a loop never
//    reaches Redis (or the log) again. Wrong secrets do not hold a token id,
//    and the org is part of the key: neither may let a third party who knows
//    a (public) token id lock its owner out.
//  - Per client address: a token bucket of failures (`per_address` per
//    minute, burst `per_address`) that counts only looked-up failures —
//    retries of a held credential cost nothing and count nothing. Once it is
//    empty the address is throttled for a backoff that doubles from 1 s to
//    60 s while failures go on; a success from the address lifts it.
//    While throttled, a credential that is not held may still be valid (a
//    new credential, a new user behind the same NAT), so one lookup a second
//    (kProbeIntervalNs) still goes to Redis; the rest are refused from
//    memory. A flood from the address thus costs at most its bucket plus one
//    lookup a second, and a valid credential from it gets in at its first
//    attempt unless another attempt from the same address took that second's
//    lookup (then at the client's next retry).
//
// Memory is bounded: at most kMaxEntries of each (beyond that, new entries are
// not made: those attempts simply go to Redis); entries that carry no
// information (full bucket, no throttle; lapsed holds) go at sweep(). Pure:
// no Mosquitto or Redis, clocks passed in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sessions.hpp"  // StringMap
#include "shortcred/rate_limit.hpp"

namespace shortcred::plugin {

class AuthThrottle {
 public:
  static constexpr std::size_t kMaxEntries = 65536;
  static constexpr std::int64_t kFirstBlockNs = 1'000'000'000;
  static constexpr std::int64_t kMaxBlockNs = 60'000'000'000;
  static constexpr std::int64_t kProbeIntervalNs = 1'000'000'000;

  enum class Verdict { ask_redis, address_blocked, token_refused };

  // per_address 0 or token_hold_s 0 turns that half off.
  AuthThrottle(int per_address = 20, int token_hold_s = 60)
      : per_address_(per_address), token_hold_ns_(token_hold_s * 1'000'000'000LL) {}

  // `credential`: "<org>/<token id>" (org ids cannot contain '/'). A held
  // credential's hold is renewed by each attempt.
  Verdict check(std::string_view address, std::string_view credential, std::int64_t now_ns);
  // A well-formed credential from `address` was refused after its lookup;
  // `dead`: Redis did not know it, or it had expired. True when this
  // failure starts throttling the address.
  bool failed(std::string_view address, std::string_view credential, bool dead,
              std::int64_t now_ns);
  // Lifts the address's throttle and backoff; its failure bucket stays, so a
  // valid credential of one's own cannot reset it.
  void succeeded(std::string_view address);
  void sweep(std::int64_t now_ns);

  std::size_t addresses() const noexcept { return addresses_.size(); }
  std::size_t tokens() const noexcept { return tokens_.size(); }

 private:
  struct Address {
    TokenBucket failures;
    std::int64_t blocked_until_ns = 0;
    std::int64_t block_ns = 0;       // the next block's length
    std::int64_t last_probe_ns = 0;  // the last lookup let through while blocked
  };
  int per_address_;
  std::int64_t token_hold_ns_;
  StringMap<Address> addresses_;
  StringMap<std::int64_t> tokens_;  // credential → held until
};

}  // namespace shortcred::plugin
