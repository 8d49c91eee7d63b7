// Failed-auth throttling before Redis (hardening issue, "Failed-auth
// throttling"). Every well-formed but wrong CONNECT would cost a Redis round
// trip; a flood of them from one address, or a stock client retrying an
// expired credential forever, must not.
//
//  - Per client address: a token bucket of failures (`per_address` per
//    minute, burst `per_address`). Once it is empty the address is refused
//    from memory for a backoff that doubles from 1 s to 60 s while failures
//    go on; a success from the address resets it.
//  - Per credential (org and token id, the key that was looked up): one Redis
//    did not know or that had expired cannot become valid again (ids are
//    never reused), so it is refused from memory for `token_hold_s`. Wrong
//    secrets do not count here, and the org is part of the key: neither may
//    let a third party who knows a (public) token id lock its owner out.
//
// Memory is bounded: at most kMaxEntries of each; entries that carry no
// information (full bucket, no block; expired holds) go at sweep(). Pure: no
// Mosquitto or Redis, clocks passed in.
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

  enum class Verdict { ask_redis, address_blocked, token_refused };

  // per_address 0 or token_hold_s 0 turns that half off.
  AuthThrottle(int per_address = 20, int token_hold_s = 5)
      : per_address_(per_address), token_hold_ns_(token_hold_s * 1'000'000'000LL) {}

  // `credential`: "<org>/<token id>" (org ids cannot contain '/').
  Verdict check(std::string_view address, std::string_view credential, std::int64_t now_ns);
  // A well-formed credential from `address` was refused; `dead`: Redis did
  // not know it, or it had expired.
  void failed(std::string_view address, std::string_view credential, bool dead,
              std::int64_t now_ns);
  // Lifts the address's block and backoff; its failure bucket stays, so a
  // valid credential of one's own cannot reset it.
  void succeeded(std::string_view address);
  void sweep(std::int64_t now_ns);

  std::size_t addresses() const noexcept { return addresses_.size(); }
  std::size_t tokens() const noexcept { return tokens_.size(); }

 private:
  struct Address {
    TokenBucket failures;
    std::int64_t blocked_until_ns = 0;
    std::int64_t block_ns = 0;  // the next block's length
  };
  int per_address_;
  std::int64_t token_hold_ns_;
  StringMap<Address> addresses_;
  StringMap<std::int64_t> tokens_;  // credential → refused until
};

}  // namespace shortcred::plugin
