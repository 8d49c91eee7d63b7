#pragma once

#include <filesystem>
#include <string>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace support {

// A real mosquitto (Debian's /usr/sbin/mosquitto) on a free loopback port,
// configured from `extra_config` (plugin lines, password_file, …) appended to
// a base of: one listener, `user root` (so a root-run test keeps access to the
// build tree), logging of everything to a file in the temp dir.
class MosquittoServer {
 public:
  explicit MosquittoServer(std::string extra_config, bool wait_ready = true);
  ~MosquittoServer();

  // Starts and waits until the listener accepts connections. Returns false if
  // the broker exited (a config or plugin init error) — see log().
  bool start(bool wait_ready = true);
  void stop();
  bool running();
  void sighup();

  int port() const { return port_; }
  std::string log() const;
  const TempDir& dir() const { return dir_; }
  std::filesystem::path conf_path() const { return dir_ / "mosquitto.conf"; }
  void set_extra_config(std::string extra);

 private:
  void write_config();
  TempDir dir_;
  int port_;
  std::string extra_;
  Process proc_;
};

}  // namespace support
