// shortcredctl: the admin CLI of DESIGN.md, talking to Redis directly and
// sharing the store code with the service. Exit codes: 0 ok, 1 refused or
// not found (also: Redis unavailable, acl check denied), 2 usage error.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace shortcred::tokens {

inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;
inline constexpr int kExitUsage = 2;

// `args` excludes argv[0]. Environment: SHORTCRED_REDIS_URL,
// SHORTCRED_KEY_PREFIX.
int run_ctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace shortcred::tokens
