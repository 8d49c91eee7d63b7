// Which master serves which slot of a Redis Cluster, and the redirects that
// say the map is out of date. Pure: the Redis layer turns a CLUSTER SLOTS
// reply into SlotRanges and an error reply's text into a Redirect.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "shortcred/redis_url.hpp"

namespace shortcred {

bool same_node(const RedisNode& a, const RedisNode& b) noexcept;
// `host:port`, `[v6]:port` for an IPv6 host; for messages and logs.
std::string node_name(const RedisNode& n);

// One entry of CLUSTER SLOTS: slots first..last (inclusive) and their master.
struct SlotRange {
  int first = 0;
  int last = 0;
  RedisNode master;
};

class SlotMap {
 public:
  static constexpr int kUnassigned = -1;

  // Every slot unassigned.
  SlotMap();
  // The map of CLUSTER SLOTS' ranges. Refused, with `err` naming the range,
  // when a range is outside 0..16383, reversed, or overlaps another (a reply
  // we do not understand is not half-used). Slots no range names stay
  // unassigned (a cluster that has lost them).
  static std::optional<SlotMap> from_ranges(const std::vector<SlotRange>& ranges,
                                            std::string& err);

  // Index into masters() of the node serving `slot`, or kUnassigned.
  int master_index(std::uint16_t slot) const noexcept;
  const RedisNode* master_of(std::uint16_t slot) const noexcept;
  // Every master the map names, each once, in order of first appearance.
  const std::vector<RedisNode>& masters() const noexcept { return masters_; }
  bool covers_all_slots() const noexcept;
  // A MOVED: `slot` is now served by `node` (added to masters() if new).
  void assign(std::uint16_t slot, const RedisNode& node);

 private:
  int index_of(const RedisNode& node);  // adds a new node
  std::vector<std::int16_t> owner_;     // per slot: index into masters_, or -1
  std::vector<RedisNode> masters_;
};

// `-MOVED <slot> <host>:<port>` and `-ASK <slot> <host>:<port>`.
struct Redirect {
  enum class Kind { moved, ask };
  Kind kind = Kind::moved;
  std::uint16_t slot = 0;
  RedisNode node;
};
// The redirect in an error reply's text, or nullopt for any other error (or
// a malformed redirect). An empty host (`MOVED 3999 :6381`: the node has no
// endpoint to announce) means the host of the node that answered,
// `replying_host`. The port is split off at the last `:`, so an IPv6 host
// (`::1:6381`) works.
std::optional<Redirect> parse_redirect(std::string_view error, std::string_view replying_host);

}  // namespace shortcred
