// The process_* series of /metrics, read from /proc at each scrape (a few
// small reads, no Redis). Names and units are those of the Prometheus client
// libraries, so stock dashboards and alerts apply.
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "shortcred/tokens/metrics.hpp"

namespace shortcred::tokens {
namespace {

std::string read_proc(const char* path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Entries of /proc/self/fd, less the one the listing itself holds open.
long open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  long n = 0;
  while (const dirent* e = ::readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(d);
  return n - 1;
}

// Fields of /proc/self/stat after the command name (which may hold spaces
// and parentheses, hence the last ')'): [0] is field 3 of proc(5), `state`.
std::vector<std::string> stat_fields() {
  const std::string s = read_proc("/proc/self/stat");
  const auto close = s.rfind(')');
  std::vector<std::string> out;
  if (close == std::string::npos) return out;
  std::istringstream in(s.substr(close + 1));
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

long long boot_time() {
  std::istringstream in(read_proc("/proc/stat"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

void gauge(std::string& o, const char* name, const char* type, const char* help, double v) {
  char num[64];
  std::snprintf(num, sizeof num, "%.15g", v);
  o += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + name +
       " " + num + "\n";
}

}  // namespace

std::string process_metrics_text() {
  std::string o;
  if (const long fds = open_fds(); fds >= 0) {
    gauge(o, "process_open_fds", "gauge", "Open file descriptors.", static_cast<double>(fds));
  }
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    gauge(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
          static_cast<double>(rl.rlim_cur));
  }
  long long rss_pages = -1;
  if (std::istringstream statm(read_proc("/proc/self/statm")); statm >> rss_pages >> rss_pages) {
    gauge(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
          static_cast<double>(rss_pages) * static_cast<double>(::sysconf(_SC_PAGESIZE)));
  }
  const std::vector<std::string> f = stat_fields();
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  if (f.size() > 19 && ticks > 0) {
    // proc(5): utime and stime are fields 14 and 15, starttime is 22 (clock
    // ticks since boot).
    gauge(o, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.",
          static_cast<double>(std::stoll(f[11]) + std::stoll(f[12])) / ticks);
    if (const long long btime = boot_time(); btime >= 0) {
      gauge(o, "process_start_time_seconds", "gauge",
            "Start time of the process since the Unix epoch in seconds.",
            static_cast<double>(btime) + static_cast<double>(std::stoll(f[19])) / ticks);
    }
  }
  return o;
}

}  // namespace shortcred::tokens
