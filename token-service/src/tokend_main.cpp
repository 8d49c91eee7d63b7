// shortcred-tokend: a thin main. Signals are handled on a dedicated thread
// (sigwait), so SIGTERM/SIGINT only ask the server to stop; in-flight
// requests finish, then Redis connections close as the service is destroyed.
#include <signal.h>

#include <cstdio>
#include <iostream>
#include <thread>

#include "shortcred/tokens/config.hpp"
#include "shortcred/tokens/http_server.hpp"

int main(int argc, char** argv) {
  using namespace shortcred::tokens;
  ServiceConfig cfg;
  std::string msg;
  switch (parse_config({argv + 1, argv + argc}, process_env(), cfg, msg)) {
    case ConfigOutcome::help:
      std::cout << msg;
      return 0;
    case ConfigOutcome::error:
      std::cerr << "shortcred-tokend: " << msg << "\n";
      return 2;
    case ConfigOutcome::run:
      break;
  }
  // Block the signals before any thread starts, so every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  HttpService service(cfg);
  if (!service.bind(msg)) {
    std::cerr << "shortcred-tokend: " << msg << "\n";
    return 2;
  }
  std::cerr << "shortcred-tokend: listening on " << cfg.listen_host << ":" << service.port()
            << (cfg.tls_cert.empty() ? " (http)" : " (https)") << ", redis "
            << cfg.redis.redacted() << ", " << cfg.threads << " threads\n";
  std::thread signals([&] {
    int sig = 0;
    sigwait(&set, &sig);
    std::cerr << "shortcred-tokend: signal " << sig << ", finishing in-flight requests\n";
    service.stop();
  });
  service.run();
  // run() also returns if listening failed; wake the signal thread then.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  std::cerr << "shortcred-tokend: stopped\n";
  return 0;
}
