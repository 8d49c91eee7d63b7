#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace support {

// The broker binary the fixtures run: $SHORTCRED_MOSQUITTO if set (a
// 2.0.21 unpacked from bookworm-backports, a hand-built 2.1.x), else the
// `mosquitto` on PATH (Debian 12's 2.0.11).
std::string mosquitto_binary();

// The broker binary the WebSockets tests run: $SHORTCRED_MOSQUITTO_WS if set,
// else mosquitto_binary(). It must have WebSockets built in: Debian's 2.0.11
// and 2.0.21 and any 2.1.x have; a 2.0.x source build only WITH_WEBSOCKETS.
std::string mosquitto_ws_binary();

// A real mosquitto (mosquitto_binary()) on a free loopback port,
// configured from `extra_config` (plugin lines, password_file, …) appended to
// a base of: one listener, `user root` (so a root-run test keeps access to the
// build tree), logging of everything to a file in the temp dir.
class MosquittoServer {
 public:
  explicit MosquittoServer(std::string extra_config, bool wait_ready = true);
  // As above, running `binary` instead of mosquitto_binary() ("" = that).
  MosquittoServer(std::string extra_config, bool wait_ready, std::string binary);
  // As above, with the broker run under `wrapper` (e.g. valgrind and its
  // options) and a longer start-up allowance.
  MosquittoServer(std::string extra_config, std::vector<std::string> wrapper);
  ~MosquittoServer();

  // Starts and waits until the listener accepts connections. Returns false if
  // the broker exited (a config or plugin init error) — see log().
  bool start(bool wait_ready = true);
  // Stops the broker; returns its wait status.
  int stop();
  bool running();
  void sighup();

  int port() const { return port_; }
  pid_t pid() const { return proc_.pid(); }
  std::string log() const;
  const TempDir& dir() const { return dir_; }
  // The broker binary this server runs.
  std::string binary() const;
  std::filesystem::path conf_path() const { return dir_ / "mosquitto.conf"; }
  void set_extra_config(std::string extra);

 private:
  void write_config();
  TempDir dir_;
  int port_;
  std::string extra_;
  std::vector<std::string> wrapper_;
  std::string binary_;  // "" = mosquitto_binary()
  Process proc_;
};

}  // namespace support
