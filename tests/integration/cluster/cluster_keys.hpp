// Picking names whose slots land where a test needs them.
#pragma once

#include <string>
#include <vector>

#include "shortcred/cluster_slots.hpp"
#include "support/redis_cluster.hpp"

namespace cluster_test {

// One name `<stem><n>` per master of `cluster`, in the order of
// cluster.masters(): an org (or hash tag) served by each.
inline std::vector<std::string> one_per_master(const support::RedisCluster& cluster,
                                               const std::string& stem) {
  const std::vector<int> masters = cluster.masters();
  std::vector<std::string> names(masters.size());
  std::size_t found = 0;
  for (int n = 0; found < names.size() && n < 10000; ++n) {
    const std::string name = stem + std::to_string(n);
    const int owner = cluster.master_of(shortcred::key_slot(name));
    for (std::size_t i = 0; i < masters.size(); ++i) {
      if (masters[i] == owner && names[i].empty()) {
        names[i] = name;
        ++found;
      }
    }
  }
  return names;
}

}  // namespace cluster_test
