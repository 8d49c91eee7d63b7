// RAII over a hiredis synchronous context. After any I/O or protocol error the
// context is unusable (hiredis semantics): ok() turns false and the owner
// replaces the connection. User data always travels as argv with explicit
// lengths, never formatted into a command string.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/redis_url.hpp"

namespace shortcred::redis {

struct ReplyDeleter {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

struct ContextDeleter {
  void operator()(redisContext* c) const noexcept { redisFree(c); }
};

class Connection {
 public:
  // Connects with `timeout` for both connect and every later command, then
  // authenticates and selects the database of `ep`. On failure returns an
  // empty Connection (ok() == false) and sets `err` (never contains the
  // password).
  static Connection open(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                         std::string& err);

  Connection() = default;
  bool ok() const noexcept { return ctx_ && ctx_->err == 0; }
  // hiredis' error text, or "not connected".
  std::string error() const;

  // One round trip. Returns nullptr on I/O error (then ok() is false). A
  // Redis error reply is returned as a reply of type REDIS_REPLY_ERROR.
  Reply command(std::initializer_list<std::string_view> argv);
  Reply command(const std::vector<std::string>& argv);

  // Pipelining: queue commands, then read their replies in order.
  bool append(std::initializer_list<std::string_view> argv);
  bool append(const std::vector<std::string>& argv);
  Reply read_reply();
  // Sends everything appended so far without reading a reply, so that
  // several servers work on their pipelines at once (Redis Cluster).
  bool flush();
  // The last I/O error was the socket timeout, not a closed connection.
  bool timed_out() const;

  redisContext* raw() noexcept { return ctx_.get(); }

 private:
  explicit Connection(redisContext* c) : ctx_(c) {}
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
};

// Reply helpers: type-checked accessors that never throw.
bool is_error(const Reply& r) noexcept;  // null or REDIS_REPLY_ERROR
bool is_status_ok(const Reply& r) noexcept;  // +OK
// A flat array of field/value pairs (HGETALL) into a vector of pairs.
std::vector<std::pair<std::string, std::string>> to_pairs(const redisReply* r);
std::string to_string(const redisReply* r);  // string/status/verb; "" otherwise

}  // namespace shortcred::redis
