#include "shortcred/cluster_map.hpp"

#include <charconv>

#include "shortcred/cluster_slots.hpp"

namespace shortcred {
namespace {

// Decimal digits only (no sign, no spaces), within [0, max].
std::optional<int> parse_bounded(std::string_view s, int max) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.front() == '+' || v < 0 || v > max) {
    return std::nullopt;
  }
  return v;
}

std::string range_name(const SlotRange& r) {
  return std::to_string(r.first) + "-" + std::to_string(r.last) + " (" + node_name(r.master) +
         ")";
}

}  // namespace

bool same_node(const RedisNode& a, const RedisNode& b) noexcept {
  return a.port == b.port && a.host == b.host;
}

std::string node_name(const RedisNode& n) {
  const bool v6 = n.host.find(':') != std::string::npos;
  return (v6 ? "[" + n.host + "]" : n.host) + ":" + std::to_string(n.port);
}

SlotMap::SlotMap() : owner_(kClusterSlots, kUnassigned) {}

std::optional<SlotMap> SlotMap::from_ranges(const std::vector<SlotRange>& ranges,
                                            std::string& err) {
  SlotMap map;
  for (const SlotRange& r : ranges) {
    if (r.first < 0 || r.last >= kClusterSlots || r.first > r.last) {
      err = "CLUSTER SLOTS names an invalid slot range " + range_name(r);
      return std::nullopt;
    }
    if (r.master.host.empty() || r.master.port <= 0 || r.master.port > 65535) {
      err = "CLUSTER SLOTS names an invalid master for slots " + range_name(r);
      return std::nullopt;
    }
    const int node = map.index_of(r.master);
    for (int slot = r.first; slot <= r.last; ++slot) {
      if (map.owner_[slot] != kUnassigned) {
        err = "CLUSTER SLOTS names slot " + std::to_string(slot) + " twice";
        return std::nullopt;
      }
      map.owner_[slot] = static_cast<std::int16_t>(node);
    }
  }
  return map;
}

int SlotMap::master_index(std::uint16_t slot) const noexcept {
  return slot < kClusterSlots ? owner_[slot] : kUnassigned;
}

const RedisNode* SlotMap::master_of(std::uint16_t slot) const noexcept {
  const int i = master_index(slot);
  return i == kUnassigned ? nullptr : &masters_[static_cast<std::size_t>(i)];
}

bool SlotMap::covers_all_slots() const noexcept {
  for (const auto o : owner_) {
    if (o == kUnassigned) return false;
  }
  return true;
}

void SlotMap::assign(std::uint16_t slot, const RedisNode& node) {
  if (slot >= kClusterSlots) return;
  owner_[slot] = static_cast<std::int16_t>(index_of(node));
}

int SlotMap::index_of(const RedisNode& node) {
  for (std::size_t i = 0; i < masters_.size(); ++i) {
    if (same_node(masters_[i], node)) return static_cast<int>(i);
  }
  masters_.push_back(node);
  return static_cast<int>(masters_.size() - 1);
}

std::optional<Redirect> parse_redirect(std::string_view error, std::string_view replying_host) {
  Redirect r;
  if (error.starts_with("MOVED ")) {
    r.kind = Redirect::Kind::moved;
    error.remove_prefix(6);
  } else if (error.starts_with("ASK ")) {
    r.kind = Redirect::Kind::ask;
    error.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto slot = parse_bounded(error.substr(0, space), kClusterSlots - 1);
  const std::string_view address = error.substr(space + 1);
  const auto colon = address.rfind(':');
  if (!slot || colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_bounded(address.substr(colon + 1), 65535);
  if (!port || *port == 0) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  if (host.find(' ') != std::string_view::npos) return std::nullopt;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  r.slot = static_cast<std::uint16_t>(*slot);
  r.node.host = std::string(host.empty() ? replying_host : host);
  r.node.port = *port;
  if (r.node.host.empty()) return std::nullopt;
  return r;
}

}  // namespace shortcred
