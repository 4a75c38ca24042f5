// Private: the codec's fast path for RecordId text.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "syncstack/record.h"

namespace syncstack {

// Hex digit values; 0xFF for anything else.
inline constexpr std::array<uint8_t, 256> kHexValue = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0xFF);
  for (int c = 0; c < 10; ++c) t['0' + c] = static_cast<uint8_t>(c);
  for (int c = 0; c < 6; ++c) {
    t['a' + c] = t['A' + c] = static_cast<uint8_t>(10 + c);
  }
  return t;
}();

// Parses a canonical UUID without branching per digit: the decoders' hot
// path (random hex defeats the branch predictor of a per-character
// classifier). Anything this rejects goes to RecordId::Parse, which then
// gives the verdict and the message, so both accept exactly the same text.
inline Result<RecordId> ParseId(std::string_view text) {
  if (text.size() == 36 && text[8] == '-' && text[13] == '-' &&
      text[18] == '-' && text[23] == '-') {
    static constexpr uint8_t kPos[16] = {0,  2,  4,  6,  9,  11, 14, 16,
                                         19, 21, 24, 26, 28, 30, 32, 34};
    std::array<uint8_t, 16> bytes;
    uint8_t bad = 0;
    for (size_t i = 0; i < 16; ++i) {
      const uint8_t hi = kHexValue[static_cast<unsigned char>(text[kPos[i]])];
      const uint8_t lo =
          kHexValue[static_cast<unsigned char>(text[kPos[i] + 1])];
      bad |= hi | lo;
      bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    if ((bad & 0xF0) == 0) return RecordId(bytes);
  }
  return RecordId::Parse(text);
}

}  // namespace syncstack
