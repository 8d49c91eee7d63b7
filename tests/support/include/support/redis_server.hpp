#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "shortcred/redis/connection.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tls_certs.hpp"

namespace support {

struct RedisServerOptions {
  // TLS only (`--port 0 --tls-port P`), with a CA, server and client
  // certificates made in the server's temp dir.
  bool tls = false;
  bool require_client_cert = true;  // --tls-auth-clients yes|no
  std::vector<std::string> extra_args;  // e.g. {"--replicaof", "127.0.0.1", "7000"}
};

// One field of `INFO <section>` on `c` ("" if absent), e.g.
// info_field(c, "replication", "master_link_status") == "up".
std::string info_field(shortcred::redis::Connection& c, const char* section,
                       const std::string& field);

// A real redis-server on a free loopback port in its own temp dir, no
// persistence. stop()/start() keep the port, for outage tests.
class RedisServer {
 public:
  RedisServer();
  explicit RedisServer(RedisServerOptions options);
  ~RedisServer();

  void start();
  void stop();        // SIGTERM and wait
  void kill_hard();   // SIGKILL
  bool running();
  // SIGSTOP / SIGCONT: the kernel still accepts TCP connections but no command
  // is answered, as with a hung server, so only timeouts tell.
  void freeze();
  void thaw();

  int port() const { return port_; }
  // redis://127.0.0.1:<port>/0; with TLS rediss://127.0.0.1:<port>/0?ca_file=…
  // &cert_file=…&key_file=… (the client certificate, required or not).
  std::string url() const;
  shortcred::redis::Connection connect() const;
  const TempDir& dir() const { return dir_; }
  const TestCerts& certs() const { return *certs_; }  // TLS servers only

 private:
  RedisServerOptions options_;
  TempDir dir_;
  int port_;
  std::optional<TestCerts> certs_;
  Process proc_;
};

// Freezes a RedisServer for its scope and thaws it on every exit path (a
// failed REQUIRE included), or the fixture could not stop it.
class FrozenRedis {
 public:
  explicit FrozenRedis(RedisServer& r) : redis_(&r) { r.freeze(); }
  ~FrozenRedis() { thaw(); }
  FrozenRedis(const FrozenRedis&) = delete;
  FrozenRedis& operator=(const FrozenRedis&) = delete;
  void thaw() {
    if (redis_ != nullptr) redis_->thaw();
    redis_ = nullptr;
  }

 private:
  RedisServer* redis_;
};

}  // namespace support
