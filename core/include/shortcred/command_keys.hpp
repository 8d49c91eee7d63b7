// Which arguments of a Redis command are keys, for routing it in a Redis
// Cluster. Covers the commands shortcred sends; a command not listed is
// taken to have its key at argv[1], as most Redis commands do.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shortcred {

// Positions in `argv` of the command's keys; empty for a command without
// keys (MULTI, EXEC, PING, PUBLISH, SCAN, INFO…), which any node serves.
std::vector<std::size_t> key_positions(const std::vector<std::string>& argv);

// The hash tag every key a `SCAN … MATCH pattern` can return shares: the
// literal tag of a pattern like `shortcred:{acme}:cred:*`. nullopt when
// the pattern may match keys of several slots (no tag, or a glob character
// before or inside it) or there is no MATCH.
std::optional<std::string_view> scan_match_tag(const std::vector<std::string>& argv);

// argv[0] upper-cased, for comparing command names.
std::string command_name(const std::vector<std::string>& argv);

}  // namespace shortcred
