// Redis Cluster key → slot, as the cluster specification defines it: CRC16
// (XMODEM: polynomial 0x1021, initial value 0, no reflection) of the key's
// hash tag, modulo 16384. The hash tag is the part between the first `{` and
// the first `}` after it, if that part is not empty; otherwise the whole key
// is hashed. Every key of one org (`shortcred:{<org>}:…`) therefore lands on
// the same slot.
#pragma once

#include <cstdint>
#include <string_view>

namespace shortcred {

inline constexpr int kClusterSlots = 16384;

std::uint16_t crc16_xmodem(std::string_view data) noexcept;
// The part of `key` that is hashed: its hash tag, else the whole key.
std::string_view hash_tag(std::string_view key) noexcept;
std::uint16_t key_slot(std::string_view key) noexcept;

}  // namespace shortcred
