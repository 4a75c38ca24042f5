// Varints: unsigned LEB128 (seven bits a byte, lowest first, the high bit
// set on every byte but the last) and zigzag for signed values. The integer
// encoding of the binary pages (pages.h) and of reconciliation messages
// (reconcile/); part of syncstack::base so that both read them one way.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace syncstack {

// The longest encoding of a uint64_t.
inline constexpr size_t kMaxVarintBytes = 10;

// Appends `v` to `out` in 1 to kMaxVarintBytes bytes.
inline void PutVarint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

// Reads the varint at the front of `in` into `v` and removes its bytes from
// `in`. Returns false when `in` ends inside the varint or the varint runs
// past kMaxVarintBytes; `in` and `v` then hold no meaningful value. Of the
// tenth byte only the lowest bit counts (the 64th bit of `v`).
inline bool GetVarint(std::string_view& in, uint64_t& v) noexcept {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    const auto b = static_cast<uint8_t>(in.front());
    in.remove_prefix(1);
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// Signed to unsigned so that values near zero encode short:
// 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
inline constexpr uint64_t ZigZag(int64_t v) noexcept {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline constexpr int64_t UnZigZag(uint64_t v) noexcept {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}

}  // namespace syncstack
