// shortcred-tokend: HTTP API v2 (DESIGN.md) on cpp-httplib.
#pragma once

#include <memory>
#include <string>

#include "shortcred/tokens/config.hpp"

namespace shortcred::tokens {

class HttpService {
 public:
  explicit HttpService(ServiceConfig cfg);
  ~HttpService();
  HttpService(const HttpService&) = delete;
  HttpService& operator=(const HttpService&) = delete;

  // Binds the listening socket (and loads TLS files), and the --metrics-listen
  // one if asked. False + `err` on failure.
  bool bind(std::string& err);
  int port() const;
  // The --metrics-listen port once bound (the kernel's choice for 0), else -1.
  int metrics_port() const;
  // Serves until stop(); in-flight requests finish before it returns.
  void run();
  // Thread-safe; returns at once.
  void stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace shortcred::tokens
