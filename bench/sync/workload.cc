#include "workload.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace syncstack::bench {
namespace {

uint64_t SplitMix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

// From the seed alone (random access, so no id list is kept in memory).
// SplitMix is a bijection, so distinct i give distinct ids.
RecordId Workload::Id(uint64_t i) const {
  const uint64_t base = SplitMix(seed);
  uint64_t hi = SplitMix(base + 2 * i), lo = SplitMix(base + 2 * i + 1);
  std::array<uint8_t, 16> b{};
  std::memcpy(b.data(), &hi, 8);
  std::memcpy(b.data() + 8, &lo, 8);
  b[6] = static_cast<uint8_t>((b[6] & 0x0F) | 0x40);  // a v4 UUID's shape
  b[8] = static_cast<uint8_t>((b[8] & 0x3F) | 0x80);
  return RecordId(b);
}

// The id key is the engine's and is not part of a stored payload.
std::string Workload::Payload(uint64_t i, int rev, std::string_view by) const {
  std::string out = "{\"title\":\"item " + std::to_string(i) + " by " +
                    std::string(by) + "\",\"n\":" + std::to_string(i) +
                    ",\"rev\":" + std::to_string(rev) + ",\"pad\":\"";
  const size_t tail = 2;  // "}
  if (out.size() + tail < payload_bytes) {
    out.append(payload_bytes - out.size() - tail, 'x');
  }
  out += "\"}";
  return out;
}

uint64_t Workload::ChangedIndex(int round, uint64_t j) const {
  uint64_t step = changes == 0 ? 1 : std::max<uint64_t>(1, records / changes);
  return (j * step + static_cast<uint64_t>(round)) % records;
}

uint64_t Workload::ChangedJsonBytes(int round) const {
  // {"id":"<36>","last_update":<13>,  then the payload without its '{'.
  constexpr uint64_t kEnvelope = 7 + 36 + 16 + 13 + 1 - 1;
  uint64_t total = 0;
  for (uint64_t j = 0; j < changes; ++j) {
    const uint64_t i = ChangedIndex(round, j);
    const bool server = j < ServerChanges();
    total +=
        kEnvelope + Payload(i, round + 1, server ? "server" : "device").size();
  }
  return total;
}

}  // namespace syncstack::bench
