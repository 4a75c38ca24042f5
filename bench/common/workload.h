// The standard store workload of the benchmarks: records with random
// (UUIDv4-like) ids, 120-byte JSON payloads, in collection "todo", applied
// in batches of 1000. The same rows for every benchmark that uses it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "syncstack/store.h"

namespace syncstack::bench {

inline constexpr size_t kBatchSize = 1000;   // records per Apply
inline constexpr size_t kPayloadSize = 120;  // a small JSON object
inline constexpr const char* kCollection = "todo";

// A new empty folder under the system temp dir (the caller removes it).
std::string TempDir(const char* prefix = "syncstack-bench");

// `n` records in random id order or, if `sorted`, in id order (as a first
// sync receives them). Generated once per (n, sorted) and cached.
const std::vector<Record>& Records(size_t n, bool sorted = false);

// Records(n, sorted) cut into batches of `batch_size`.
std::vector<ChangeBatch> Batches(size_t n, size_t batch_size = kBatchSize,
                                 bool sorted = false);

}  // namespace syncstack::bench
