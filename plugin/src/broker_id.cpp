#include "broker_id.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>

namespace shortcred::plugin {
namespace {

// The port of the listening TCP socket with the lowest descriptor other
// than `skip_fd`, or 0.
int first_listener_port(int skip_fd) {
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  int best_fd = INT_MAX, port = 0;
  while (const dirent* ent = ::readdir(d)) {
    char* end = nullptr;
    const long fd = std::strtol(ent->d_name, &end, 10);
    if (end == ent->d_name || *end != '\0' || fd >= best_fd || fd == skip_fd) continue;
    int listening = 0;
    socklen_t len = sizeof listening;
    if (::getsockopt(static_cast<int>(fd), SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 ||
        listening == 0) {
      continue;
    }
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (::getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    if (addr.ss_family == AF_INET) {
      port = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      port = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
    } else {
      continue;  // a unix socket listener has no port
    }
    best_fd = static_cast<int>(fd);
  }
  ::closedir(d);
  return port;
}

}  // namespace

std::string default_broker_id(int not_mqtt_fd) {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') std::snprintf(host, sizeof host, "broker");
  std::string id;
  for (const char* c = host; *c != '\0'; ++c) {
    const bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-';
    id.push_back(ok ? *c : '-');
  }
  const std::string port = ":" + std::to_string(first_listener_port(not_mqtt_fd));
  if (id.size() + port.size() > 64) id.resize(64 - port.size());
  return id + port;
}

}  // namespace shortcred::plugin
