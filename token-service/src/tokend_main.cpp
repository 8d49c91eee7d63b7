// shortcred-tokend: a thin main. Signals are handled on a dedicated thread
// (sigwait), so SIGTERM/SIGINT only ask the server to stop; in-flight
// requests finish, then Redis connections close as the service is destroyed.
// SIGHUP (a reload, a closed terminal) is logged and otherwise ignored: the
// service has no configuration file and logs to stderr only, so there is
// nothing to reopen or reread; it keeps serving. Under systemd (Type=notify)
// it reports READY=1 once it listens and STOPPING=1 when asked to stop.
#include <signal.h>

#include <iostream>
#include <string>
#include <thread>

#include "shortcred/tokens/access_log.hpp"
#include "shortcred/tokens/config.hpp"
#include "shortcred/tokens/http_server.hpp"
#include "shortcred/tokens/systemd_notify.hpp"

namespace {

using namespace shortcred::tokens;

std::string listening_message(const ServiceConfig& cfg, const HttpService& service) {
  const std::string metrics =
      cfg.separate_metrics() ? ", metrics on " + host_port(cfg.metrics_host, service.metrics_port())
                             : "";
  return "listening on " + host_port(cfg.listen_host, service.port()) +
         (cfg.tls_cert.empty() ? " (http)" : " (https)") + ", redis " + cfg.redis.redacted() +
         ", " + std::to_string(cfg.threads) + " threads, at most " +
         std::to_string(cfg.max_conns_per_ip) + " connections per client address" +
         (cfg.reuse_port ? ", port shared (--reuse-port)" : "") + metrics;
}

// Waits for SIGTERM/SIGINT (returns) while logging each SIGHUP.
void wait_for_stop(const sigset_t& set) {
  for (;;) {
    int sig = 0;
    sigwait(&set, &sig);
    if (sig != SIGHUP) {
      log_event("signal", "signal " + std::to_string(sig) + ", finishing in-flight requests");
      return;
    }
    log_event("sighup", "SIGHUP: nothing to reload (no config file, logs on stderr); still serving");
  }
}

}  // namespace

int main(int argc, char** argv) {
  ServiceConfig cfg;
  std::string msg;
  const std::vector<std::string> args(argv + 1, argv + argc);
  switch (parse_config(args, process_env(), cfg, msg)) {
    case ConfigOutcome::help:
      std::cout << msg;
      return 0;
    case ConfigOutcome::error:
      std::cerr << format_event("config_error", msg, wants_json_log(args, process_env()));
      return 2;
    case ConfigOutcome::run:
      break;
  }
  set_log_json(cfg.log_json);
  // Block the signals before any thread starts, so every thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  HttpService service(cfg);
  if (!service.bind(msg)) {
    log_event("bind_error", msg);
    return 2;
  }
  log_event("listening", listening_message(cfg, service));
  if (!notify_systemd("READY=1"))
    log_event("notify_error", "cannot notify systemd (NOTIFY_SOCKET)");
  std::thread signals([&] {
    wait_for_stop(set);
    notify_systemd("STOPPING=1");
    service.stop();
  });
  service.run();
  // run() also returns if listening failed; wake the signal thread then.
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  log_event("stopped", "stopped");
  return 0;
}
