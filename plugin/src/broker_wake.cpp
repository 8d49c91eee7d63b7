#include "broker_wake.hpp"

#include <signal.h>

namespace shortcred::plugin {
namespace {
extern "C" void on_wake_signal(int) {}
}  // namespace

bool BrokerWake::install() {
  const int sig = SIGRTMAX - 1;
  struct sigaction old {};
  if (sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) return false;
  struct sigaction sa {};
  sa.sa_handler = on_wake_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, nullptr) != 0) return false;
  broker_ = pthread_self();
  sig_ = sig;
  return true;
}

void BrokerWake::uninstall() {
  if (sig_ == 0) return;
  // Ignored, not the default (which terminates): a signal still queued must
  // not end the broker.
  struct sigaction sa {};
  sa.sa_handler = SIG_IGN;
  sigemptyset(&sa.sa_mask);
  sigaction(sig_, &sa, nullptr);
  sig_ = 0;
}

BrokerWake::Quiet::Quiet(const BrokerWake& w) {
  if (w.sig_ == 0) return;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, w.sig_);
  blocked_ = pthread_sigmask(SIG_BLOCK, &set, &old_) == 0;
}

BrokerWake::Quiet::~Quiet() {
  if (blocked_) pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

void BrokerWake::wake() {
  if (sig_ == 0 || pending_.exchange(true, std::memory_order_acq_rel)) return;
  pthread_kill(broker_, sig_);
}

}  // namespace shortcred::plugin
