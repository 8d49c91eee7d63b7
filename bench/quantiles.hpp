// Median and interquartile range over benchmark rounds, shared by the
// load generators (linear interpolation between closest ranks).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

struct Stats {
  double median = 0, q1 = 0, q3 = 0;
};

inline Stats stats(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto q = [&](double p) {
    const double pos = p * static_cast<double>(v.size() - 1);
    const auto lo = static_cast<std::size_t>(pos);
    const std::size_t hi = std::min(lo + 1, v.size() - 1);
    return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
  };
  return {q(0.5), q(0.25), q(0.75)};
}
