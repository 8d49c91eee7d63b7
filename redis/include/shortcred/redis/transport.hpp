// The byte stream under a Connection: a TCP or unix socket, with TLS on top
// when the endpoint asks for it. hiredis 0.14 has no TLS, so its sockets are
// not used at all; only its RESP formatter and reader sit above this (see
// connection.cpp). One transport serves plain and TLS alike, so timeouts,
// errors and the subscriber's polling have one implementation that every
// test exercises, whichever scheme it uses.
//
// The socket is non-blocking; every operation waits in poll(2) for at most
// the timeout given at open(), so a frozen server costs one timeout per call,
// the TLS handshake included.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "shortcred/redis_url.hpp"

namespace shortcred::redis {

class Transport {
 public:
  enum class Failure { none, timeout, closed, io };

  // `ep` must be Kind::single. On failure returns null and sets `err`
  // (names the host, never a password).
  static std::unique_ptr<Transport> open(const RedisEndpoint& ep, std::chrono::milliseconds timeout,
                                         std::string& err);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Writes all of `bytes`; false on failure (then failure()/error() tell).
  bool send(std::string_view bytes);
  // Reads at least one byte, waiting up to the timeout; 0 on failure.
  std::size_t receive(char* buf, std::size_t cap);
  // Reads what has arrived without waiting; 0 when nothing has (or on
  // failure: check failure()).
  std::size_t receive_ready(char* buf, std::size_t cap);
  // Decrypted bytes held by TLS that poll(2) on fd() cannot see.
  bool pending() const;
  int fd() const noexcept { return fd_; }

  Failure failure() const noexcept { return failure_; }
  const std::string& error() const noexcept { return error_; }

 private:
  Transport(int fd, std::chrono::milliseconds timeout);
  bool handshake(const RedisEndpoint& ep, std::string& err);
  std::size_t read_once(char* buf, std::size_t cap, bool wait);
  bool fail(Failure f, std::string text);

  int fd_;
  std::chrono::milliseconds timeout_;
  struct Tls;
  std::unique_ptr<Tls> tls_;
  Failure failure_ = Failure::none;
  std::string error_;
};

// Loads the CA, certificate and key files of a TLS endpoint now, so a missing
// or unreadable file stops startup with a message naming it. True for plain
// endpoints.
bool check_tls_files(const RedisEndpoint& ep, std::string& err);

}  // namespace shortcred::redis
