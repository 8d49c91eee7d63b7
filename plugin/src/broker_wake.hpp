// Waking Mosquitto 2.1's loop from the CONNECT lookup worker. A delayed
// CONNECT is answered at the tick, and the tick runs only when the loop
// wakes: on a quiet broker that is the next socket event or the loop's own
// timeout (up to 100 ms in builds with WebSockets, seconds without), so each
// CONNECT would wait for it. The worker interrupts the loop's epoll_wait
// with a signal sent to the broker thread, whose handler does nothing.
//
// The signal is a real-time one that nothing else in the process handles
// (its disposition is still the default when the plugin loads); if it is
// taken, there is no wake-up and CONNECTs are answered at the loop's own
// pace. SA_RESTART restarts most system calls of the broker thread, but not
// poll(2), connect(2) or a socket read with a timeout: the broker thread's
// own Redis calls run with the signal blocked (Quiet). Signals are
// coalesced: at most one is in flight.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>

namespace shortcred::plugin {

class BrokerWake {
 public:
  // Broker thread, at plugin init. False if no signal could be taken.
  bool install();
  // Broker thread, at cleanup, after the worker has stopped.
  void uninstall();
  // Any thread.
  void wake();
  // Broker thread, at the tick: the next wake() sends a signal again.
  void woken() { pending_.store(false, std::memory_order_release); }
  // Blocks the signal on this thread while it lives (no-op if not installed).
  class Quiet {
   public:
    explicit Quiet(const BrokerWake& w);
    ~Quiet();
    Quiet(const Quiet&) = delete;
    Quiet& operator=(const Quiet&) = delete;

   private:
    bool blocked_ = false;
    sigset_t old_{};
  };

 private:
  int sig_ = 0;  // 0: not installed
  pthread_t broker_{};
  std::atomic<bool> pending_{false};
};

}  // namespace shortcred::plugin
