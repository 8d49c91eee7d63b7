#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace support {

// A child process with stdout and stderr appended to `log`. Stopped (SIGTERM,
// then SIGKILL after 5 s) on destruction.
class Process {
 public:
  Process() = default;
  Process(std::vector<std::string> argv, const std::filesystem::path& log,
          const std::vector<std::string>& extra_env = {});
  ~Process();
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int sig) const;
  // SIGTERM, wait up to `grace_ms`, then SIGKILL. Returns the wait status.
  int stop(int grace_ms = 5000);
  // SIGKILL and reap, for simulating a crash.
  void kill_hard();

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

// Runs a command to completion; returns its exit code and captures stdout
// (stderr goes to `err`).
struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
RunResult run(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env = {},
              const std::string& stdin_data = "");

}  // namespace support
