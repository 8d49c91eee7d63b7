#include "shortcred/command_keys.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace shortcred {
namespace {

constexpr std::array<std::string_view, 33> kKeyless = {
    "ASKING", "AUTH",     "CLIENT",   "CLUSTER", "COMMAND", "CONFIG",  "DBSIZE",
    "DISCARD", "ECHO",    "EXEC",     "FLUSHALL", "FLUSHDB", "FUNCTION", "HELLO",
    "INFO",   "LATENCY",  "MEMORY",   "MULTI",   "PING",    "PSUBSCRIBE", "PUBLISH",
    "PUNSUBSCRIBE", "QUIT", "READONLY", "ROLE",  "SCAN",    "SCRIPT",  "SELECT",
    "SLOWLOG", "SUBSCRIBE", "TIME",   "UNSUBSCRIBE", "UNWATCH"};
// Every argument after the name is a key.
constexpr std::array<std::string_view, 6> kAllKeys = {"DEL", "EXISTS", "MGET", "TOUCH", "UNLINK",
                                                      "WATCH"};

bool is_glob(char c) { return c == '*' || c == '?' || c == '[' || c == ']' || c == '\\'; }

}  // namespace

std::string command_name(const std::vector<std::string>& argv) {
  std::string name = argv.empty() ? std::string() : argv.front();
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return name;
}

std::vector<std::size_t> key_positions(const std::vector<std::string>& argv) {
  std::vector<std::size_t> keys;
  const std::string name = command_name(argv);
  if (argv.size() < 2 || std::find(kKeyless.begin(), kKeyless.end(), name) != kKeyless.end()) {
    return keys;
  }
  if (std::find(kAllKeys.begin(), kAllKeys.end(), name) != kAllKeys.end()) {
    for (std::size_t i = 1; i < argv.size(); ++i) keys.push_back(i);
  } else if (name == "EVAL" || name == "EVALSHA" || name == "EVAL_RO" || name == "EVALSHA_RO" ||
             name == "FCALL" || name == "FCALL_RO") {
    std::size_t n = 0;
    const std::string_view count = argv.size() > 2 ? std::string_view(argv[2]) : "";
    const auto [end, ec] = std::from_chars(count.data(), count.data() + count.size(), n);
    if (!count.empty() && ec == std::errc() && end == count.data() + count.size()) {
      for (std::size_t i = 3; i < argv.size() && i < 3 + n; ++i) keys.push_back(i);
    }
  } else if (name == "MSET" || name == "MSETNX") {
    for (std::size_t i = 1; i < argv.size(); i += 2) keys.push_back(i);
  } else if (name == "XREAD" || name == "XREADGROUP") {
    // XREAD … STREAMS k1 k2 … id1 id2 …: the first half after STREAMS.
    for (std::size_t i = 1; i < argv.size(); ++i) {
      if (command_name({argv[i]}) != "STREAMS") continue;
      const std::size_t n = (argv.size() - i - 1) / 2;
      for (std::size_t k = 0; k < n; ++k) keys.push_back(i + 1 + k);
      break;
    }
  } else {
    keys.push_back(1);
  }
  return keys;
}

std::optional<std::string_view> scan_match_tag(const std::vector<std::string>& argv) {
  for (std::size_t i = 2; i + 1 < argv.size(); ++i) {
    if (command_name({argv[i]}) != "MATCH") continue;
    const std::string_view pattern = argv[i + 1];
    const auto open = pattern.find('{');
    if (open == std::string_view::npos) return std::nullopt;
    const auto close = pattern.find('}', open + 1);
    if (close == std::string_view::npos || close == open + 1) return std::nullopt;
    // A glob before the tag could match a key with an earlier `{…}`.
    const std::string_view through_tag = pattern.substr(0, close);
    if (std::any_of(through_tag.begin(), through_tag.end(), is_glob)) return std::nullopt;
    return pattern.substr(open + 1, close - open - 1);
  }
  return std::nullopt;
}

}  // namespace shortcred
