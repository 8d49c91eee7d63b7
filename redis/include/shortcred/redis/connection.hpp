// One connection to Redis, whatever the URL form: our Transport (socket, TLS
// when asked) carries hiredis's RESP formatter and reply reader. After any
// I/O or protocol error the connection is unusable (hiredis semantics): ok()
// turns false and the owner replaces it, and for a Sentinel endpoint the
// replacement rediscovers the master. User data always travels as argv with
// explicit lengths, never formatted into a command string.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
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

class Transport;

class Connection {
 public:
  // Connects with `timeout` for the connect, the TLS handshake and every
  // later command, then authenticates and selects the database of `ep`.
  // Sentinel: asks the sentinels for the master, connects and confirms ROLE
  // master. Cluster: the first seed that answers. On failure returns an empty
  // Connection (ok() == false) and sets `err` (never contains a password).
  static Connection open(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                         std::string& err);

  Connection();
  ~Connection();
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;

  // False once an exchange failed, and for a Sentinel connection also once
  // the master is known to have changed (a -READONLY or -MASTERDOWN reply,
  // a connection error, or a +switch-master event in this process).
  bool ok() const noexcept;
  // Why ok() is false, or "not connected"; "" while ok.
  std::string error() const;
  // The last exchange ran into the timeout (a frozen or overloaded server),
  // as opposed to a closed or reset connection.
  bool timed_out() const noexcept;

  // One round trip. Returns nullptr on I/O error (then ok() is false). A
  // Redis error reply is returned as a reply of type REDIS_REPLY_ERROR.
  Reply command(std::initializer_list<std::string_view> argv);
  Reply command(const std::vector<std::string>& argv);

  // Pipelining: queue commands, then read their replies in order (the first
  // read_reply() sends everything queued).
  bool append(std::initializer_list<std::string_view> argv);
  bool append(const std::vector<std::string>& argv);
  Reply read_reply();
  // Sends everything appended so far without reading a reply, so that
  // several servers work on their pipelines at once (Redis Cluster).
  bool flush();

  // For subscribers that poll(2): a reply that has fully arrived, reading
  // only what the socket holds now; nullptr when none has (check ok()).
  // Call it until nullptr before polling fd(), since the reader or TLS may
  // already hold data that poll cannot see.
  Reply read_ready();
  int fd() const noexcept;  // -1 when not connected

 private:
  struct State;
  explicit Connection(std::unique_ptr<State> s);
  bool send_pending();
  std::unique_ptr<State> s_;
};

// Reply helpers: type-checked accessors that never throw.
bool is_error(const Reply& r) noexcept;  // null or REDIS_REPLY_ERROR
bool is_status_ok(const Reply& r) noexcept;  // +OK
// A flat array of field/value pairs (HGETALL) into a vector of pairs.
std::vector<std::pair<std::string, std::string>> to_pairs(const redisReply* r);
std::string to_string(const redisReply* r);  // string/status/verb; "" otherwise

}  // namespace shortcred::redis
