// Bounded cardinality for per-org metric series: the N names with the
// highest counts get a series of their own, everything else is summed into
// one `other` value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace shortcred {

struct NamedCount {
  std::string_view name;
  std::uint64_t count = 0;
};

struct TopSplit {
  // Indices into the input of the (at most n) entries with the highest
  // non-zero counts, highest first; equal counts in name order, so the
  // choice does not depend on the input's order.
  std::vector<std::size_t> top;
  // The sum of every other entry's count.
  std::uint64_t other = 0;
};

TopSplit split_top(std::span<const NamedCount> entries, std::size_t n);

}  // namespace shortcred
