#include "counters.hpp"

namespace shortcred::plugin {

std::string format_counters(const Counters& c, std::size_t live_sessions, bool breaker_open) {
  std::string line;
  for (const auto& [path, value] : c.items()) {
    line += path;
    line += '=';
    line += std::to_string(value);
    line += ' ';
  }
  line += "sessions/live=" + std::to_string(live_sessions);
  line += breaker_open ? " breaker=open" : " breaker=closed";
  return line;
}

}  // namespace shortcred::plugin
