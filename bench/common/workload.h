// The standard store workload of the benchmarks: records with random
// (UUIDv4-like) ids, 120-byte JSON payloads, in collection "todo", applied
// in batches of 1000. The same rows for every benchmark that uses it.
#pragma once

#include <cstddef>
#include <random>
#include <string>
#include <vector>

#include "syncstack/codec.h"
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

// An id of 128 random bits from `rng` (two draws).
RecordId RandomId(std::mt19937_64& rng);

// A timestamp in 2013..2023 at millisecond precision from `rng` (one draw).
Timestamp RandomTimestamp(std::mt19937_64& rng);

// `n` manifest entries, sorted by id: each a RandomTimestamp then a
// RandomId from one generator seeded 42; no version data. Generated once
// per n and cached.
const std::vector<Stamp>& SortedStamps(size_t n);

}  // namespace syncstack::bench
