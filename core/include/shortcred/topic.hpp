// MQTT topic names and filters (MQTT 5 §4.7): validation, matching, and the
// filter-within-filter relation used for SUBSCRIBE ACLs.
#pragma once

#include <cstddef>
#include <string_view>

#include "shortcred/errc.hpp"

namespace shortcred {

inline constexpr std::size_t kMaxTopicLen = 65535;  // MQTT UTF-8 string limit
inline constexpr std::size_t kMaxTopicLevels = 128;

// A topic name for PUBLISH: 1..65535 bytes of well-formed UTF-8, no NUL, no
// `+` or `#`, at most kMaxTopicLevels levels.
Errc validate_topic(std::string_view topic) noexcept;
// A subscription filter: as above, but `+` must fill a whole level and `#`
// must fill the last level. `$share/...` is NOT accepted here (strip first).
Errc validate_filter(std::string_view filter) noexcept;

// `topic` matches `filter` (both assumed valid). A topic whose first level
// starts with `$` is not matched by a filter whose first level is `+` or `#`.
bool topic_matches(std::string_view filter, std::string_view topic) noexcept;

// Every topic matched by `inner` is also matched by `outer`
// (`a/+/c` ⊆ `a/#`, `a/#` ⊄ `a/+`, `+/+` ⊆ `#`, `$SYS/#` ⊄ `#`).
bool filter_within(std::string_view inner, std::string_view outer) noexcept;

// `$share/<group>/<filter>`: on success `filter` is the part after the group.
// Returns Errc::ok and leaves `filter` = input when it is not a shared
// subscription; bad_format when the group is empty or has `+ # /`, or the
// filter part is missing.
Errc strip_shared(std::string_view raw, std::string_view& filter) noexcept;

}  // namespace shortcred
