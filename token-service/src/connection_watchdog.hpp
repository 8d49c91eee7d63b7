// shortcred-tokend's workers and connections: who gets a worker, how long a
// request may take to arrive, and how much one client address may hold.
//
// Policy:
// - Deadline. cpp-httplib's read timeout applies to each read, so a client
//   sending one byte a second never times out. A request (head and body)
//   must arrive completely within --read-timeout, counted from its first byte
//   (or from when a worker starts serving the connection, if bytes were
//   already waiting); otherwise its socket is shut down (shutdown(2)), which
//   ends httplib's read at once. Time spent handling the request and idle
//   time between requests do not count (idle keep-alive connections stay
//   bounded by --idle-timeout, which httplib enforces).
// - Per address. One client address holds at most --max-conns-per-ip
//   connections (queued or served); the next one is closed as soon as it is
//   accepted, before any worker or byte is spent on it.
// - Fair share of workers. Connections waiting for a worker are served
//   fewest-workers-address first (oldest first among equals), not in accept
//   order. When every worker is busy and a connection waits, one worker is
//   freed within a tick: the connection idle longest (no byte since its last
//   response, for at least kMinIdle), else — only if the address holding the
//   most workers holds at least two more than the waiting connection's — the
//   request of that address that has been arriving longest is cut. So
//   connections from one address that idle or trickle and reconnect at once
//   cannot keep another address waiting, and a single address (a reverse
//   proxy) still uses every worker.
//
// How a connection is known: httplib 0.11.4 exposes no accepted descriptor.
// TaskQueue::enqueue gets an opaque std::function<void()> (the fd is inside
// its closure), and Server::process_and_close_socket(sock), though virtual,
// cannot be wrapped for --tls-cert: SSLServer's override is private, so a
// subclass could not chain to it. So admit(), called by our task queue
// (http_server.cpp) on the single accept thread right after accept(), finds
// the socket just accepted by scanning the process's descriptors for a
// connected socket on the listening port not seen before, and keeps a dup(2)
// of it. Exactly one such socket exists then: every earlier one was adopted
// (or closed) before it was accepted, and only the accept thread accepts or
// dups; descriptors other threads open or close meanwhile are outgoing Redis
// sockets, which the port check rejects.
// Shutting down through the dup always hits the right socket, even after
// httplib closed its descriptor and the number was reused. A worker serves a
// connection from start to end, and marks its phases through a thread-local.
// Bytes arriving on an idle connection are noticed through TCP_INFO's byte
// counter, sampled every tick (50 ms): that is the deadline's resolution.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace shortcred::tokens {

struct ConnectionLimits {
  std::chrono::milliseconds read_timeout{5000};
  int workers = 64;
  int max_per_address = 32;
};

class ConnectionWatchdog {
 public:
  // `log` gets one line about refused connections at most every 10 s.
  ConnectionWatchdog(ConnectionLimits limits, int listen_port,
                     std::function<void(const std::string&)> log);
  ~ConnectionWatchdog();
  ConnectionWatchdog(const ConnectionWatchdog&) = delete;
  ConnectionWatchdog& operator=(const ConnectionWatchdog&) = delete;

  // Accept thread, right after accept(): queues `serve` (httplib's handling
  // of the connection) for a worker, or closes the connection when its
  // address already holds max_per_address. A connection that cannot be found
  // is served without a deadline or an address.
  void admit(std::function<void()> serve);
  // Serves what is queued, then ends the workers (httplib's shutdown).
  void stop_workers();

  // Worker thread, about the connection it is serving (no-ops elsewhere):
  static void head_received();     // head parsed; a body may still be arriving
  static void request_received();  // the whole request is in: no deadline now
  static void response_written();  // the next request's clock starts at its first byte

  // For shutdown: closes every connection waiting for a request that has
  // not started, so workers need not wait out --idle-timeout.
  void close_idle();

  struct Conn;

 private:
  struct Pending {
    std::shared_ptr<Conn> conn;  // null if it could not be found
    std::function<void()> serve;
  };

  std::shared_ptr<Conn> adopt_new_connection(int& accepted_fd);
  void refuse(int accepted_fd, const std::string& address);
  void work();
  std::list<Pending>::iterator next_in_line();
  int workers_of(const std::shared_ptr<Conn>& c) const;
  void run();
  void tick();
  void free_a_worker(std::chrono::steady_clock::time_point now);
  void forget(const std::shared_ptr<Conn>& c);

  const ConnectionLimits limits_;
  const int listen_port_;
  const std::function<void(const std::string&)> log_;
  std::mutex mu_;
  std::condition_variable cv_;       // the tick thread
  std::condition_variable work_cv_;  // workers: a connection is queued, or stop
  bool stopping_ = false;
  bool stopping_workers_ = false;
  std::list<std::shared_ptr<Conn>> conns_;  // adopted, queued or served
  std::list<Pending> queue_;
  int busy_ = 0;                              // workers serving a connection
  std::map<std::string, int> held_, served_;  // per address: connections, workers
  std::chrono::steady_clock::time_point last_refusal_log_{};
  int refused_since_log_ = 0;
  std::vector<std::thread> workers_;
  std::thread thread_;
};

}  // namespace shortcred::tokens
