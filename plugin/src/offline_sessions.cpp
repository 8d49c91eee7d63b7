#include "offline_sessions.hpp"

#include <algorithm>

namespace shortcred::plugin {

void OfflineSessions::left(const void* client, OfflineSession s) {
  forget_client(client);
  forget_id(s.client_id);
  if (by_client_.size() >= kMaxRecords) drop_oldest();
  by_id_[s.client_id] = client;
  by_org_[s.org].insert(client);
  by_client_.emplace(client, std::move(s));
}

void OfflineSessions::erase(std::unordered_map<const void*, OfflineSession>::iterator it) {
  by_id_.erase(it->second.client_id);
  if (auto o = by_org_.find(it->second.org); o != by_org_.end()) {
    o->second.erase(it->first);
    if (o->second.empty()) by_org_.erase(o);
  }
  by_client_.erase(it);
}

void OfflineSessions::forget_client(const void* client) {
  auto it = by_client_.find(client);
  if (it != by_client_.end()) erase(it);
}

void OfflineSessions::forget_id(std::string_view client_id) {
  auto it = by_id_.find(client_id);
  if (it == by_id_.end()) return;
  auto c = by_client_.find(it->second);
  if (c != by_client_.end()) {
    erase(c);
  } else {
    by_id_.erase(it);
  }
}

const OfflineSession* OfflineSessions::find(const void* client) const {
  auto it = by_client_.find(client);
  return it == by_client_.end() ? nullptr : &it->second;
}

OfflineSession* OfflineSessions::find(const void* client, std::string_view client_id) noexcept {
  auto it = by_client_.find(client);
  if (it == by_client_.end() || it->second.client_id != client_id) return nullptr;
  return &it->second;
}

void OfflineSessions::drop_oldest() {
  auto oldest = std::min_element(by_client_.begin(), by_client_.end(), [](const auto& a, const auto& b) {
    return a.second.left_ms < b.second.left_ms;
  });
  if (oldest == by_client_.end()) return;
  forget_client(oldest->first);
  ++evictions_;
}

}  // namespace shortcred::plugin
