#include "workload.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

namespace syncstack::bench {

std::string TempDir(const char* prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() /
                      (std::string(prefix) + "-XXXXXX"))
                         .string();
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

const std::vector<Record>& Records(size_t n, bool sorted) {
  static std::map<std::pair<size_t, bool>, std::vector<Record>> cache;
  auto& records = cache[{n, sorted}];
  if (records.empty() && sorted) {
    records = Records(n, false);
    std::sort(records.begin(), records.end(),
              [](const Record& a, const Record& b) { return a.id < b.id; });
  } else if (records.empty()) {
    std::mt19937_64 rng(42);
    records.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      std::array<uint8_t, 16> b{};
      for (auto& x : b) x = static_cast<uint8_t>(rng());
      Record r;
      r.collection = kCollection;
      r.id = RecordId(b);
      r.version.timestamp = 1700000000000 + static_cast<int64_t>(i);
      r.base = r.version.timestamp;
      r.payload = "{\"title\":\"item " + std::to_string(i) + "\",\"note\":\"";
      r.payload.resize(kPayloadSize - 2, 'x');
      r.payload += "\"}";
      records.push_back(std::move(r));
    }
  }
  return records;
}

std::vector<ChangeBatch> Batches(size_t n, size_t batch_size, bool sorted) {
  const auto& records = Records(n, sorted);
  std::vector<ChangeBatch> batches;
  for (size_t i = 0; i < n; i += batch_size) {
    ChangeBatch& b = batches.emplace_back();
    for (size_t j = i; j < std::min(n, i + batch_size); ++j) b.Put(records[j]);
  }
  return batches;
}

RecordId RandomId(std::mt19937_64& rng) {
  std::array<uint8_t, 16> b{};
  uint64_t x = rng(), y = rng();
  std::memcpy(b.data(), &x, 8);
  std::memcpy(b.data() + 8, &y, 8);
  return RecordId(b);
}

Timestamp RandomTimestamp(std::mt19937_64& rng) {
  return 1356998400000 + static_cast<Timestamp>(rng() % 315576000000);
}

const std::vector<Stamp>& SortedStamps(size_t n) {
  static std::map<size_t, std::vector<Stamp>> cache;
  std::vector<Stamp>& stamps = cache[n];
  if (stamps.size() == n) return stamps;
  std::mt19937_64 rng(42);
  stamps.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    Timestamp ts = RandomTimestamp(rng);
    stamps.push_back(Stamp{RandomId(rng), ts});
  }
  std::sort(stamps.begin(), stamps.end(),
            [](const Stamp& a, const Stamp& b) { return a.id < b.id; });
  return stamps;
}

}  // namespace syncstack::bench
