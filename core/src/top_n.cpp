#include "shortcred/top_n.hpp"

#include <algorithm>

namespace shortcred {

TopSplit split_top(std::span<const NamedCount> entries, std::size_t n) {
  TopSplit out;
  std::vector<std::size_t> order;
  order.reserve(entries.size());
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].count > 0) order.push_back(i);
  }
  const auto before = [&](std::size_t a, std::size_t b) {
    if (entries[a].count != entries[b].count) return entries[a].count > entries[b].count;
    return entries[a].name < entries[b].name;
  };
  const std::size_t kept = std::min(n, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(kept), order.end(),
                    before);
  for (const NamedCount& e : entries) out.other += e.count;
  for (std::size_t i = 0; i < kept; ++i) out.other -= entries[order[i]].count;
  order.resize(kept);
  out.top = std::move(order);
  return out;
}

}  // namespace shortcred
