// Per-request deadlines for shortcred-tokend's connections.
//
// Why: cpp-httplib's read timeout applies to each read, so a client sending
// one byte a second never times out and holds a worker for good; a handful of
// such clients starve the whole pool. Policy: a request (head and body) must
// arrive completely within --read-timeout, counted from its first byte (or
// from when a worker starts serving the connection, if bytes were already
// waiting); otherwise the watchdog shuts the socket down (shutdown(2)), which
// ends httplib's read at once. Time spent handling the request and idle time
// between requests do not count (idle keep-alive connections stay bounded by
// --idle-timeout, which httplib enforces).
//
// How a connection is known: httplib 0.11.4 exposes no accepted descriptor.
// TaskQueue::enqueue gets an opaque std::function<void()> (the fd is inside
// its closure), and Server::process_and_close_socket(sock), though virtual,
// cannot be wrapped for --tls-cert: SSLServer's override is private, so a
// subclass could not chain to it. So our task queue (http_server.cpp), whose
// enqueue runs on the single accept thread right after accept(), finds the
// socket just accepted by scanning the process's descriptors for a connected
// socket on the listening port not seen before, and keeps a dup(2) of it.
// Exactly one such socket exists then: every earlier one was adopted before
// it was accepted, and only the accept thread accepts or dups; descriptors
// other threads open or close meanwhile are outgoing Redis sockets, which the
// port check rejects.
// Shutting down through the dup always hits the right socket, even after
// httplib closed its descriptor and the number was reused. The worker that
// serves the connection marks its phases through a thread-local (httplib
// serves a connection on one thread from start to end). Bytes arriving on an
// idle connection are noticed through TCP_INFO's byte counter, sampled every
// tick (50 ms): that is the deadline's resolution.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace shortcred::tokens {

class ConnectionWatchdog {
 public:
  ConnectionWatchdog(std::chrono::milliseconds read_timeout, int listen_port);
  ~ConnectionWatchdog();
  ConnectionWatchdog(const ConnectionWatchdog&) = delete;
  ConnectionWatchdog& operator=(const ConnectionWatchdog&) = delete;

  struct Conn;
  // Accept thread, right after accept(): the connection just accepted, or
  // null if it cannot be found (then it runs without a deadline).
  std::shared_ptr<Conn> adopt_new_connection();
  // Worker thread: runs `serve` (httplib's handling of the connection) with
  // the connection's phases tracked, and forgets the connection afterwards.
  void serve(const std::shared_ptr<Conn>& c, const std::function<void()>& serve);

  // Worker thread, about the connection it is serving (no-ops elsewhere):
  static void head_received();     // head parsed; a body may still be arriving
  static void request_received();  // the whole request is in: no deadline now
  static void response_written();  // the next request's clock starts at its first byte

  // For shutdown: closes every connection waiting for a request that has
  // not started, so workers need not wait out --idle-timeout.
  void close_idle();

 private:
  void run();
  void tick();

  const std::chrono::milliseconds read_timeout_;
  const int listen_port_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::list<std::shared_ptr<Conn>> conns_;
  std::thread thread_;
};

}  // namespace shortcred::tokens
