// What the store benchmarks (bench/store, bench/lmdb) share: failing
// loudly, timing, figures per record, and the bulk-apply loop every store
// is measured by.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "syncstack/status.h"
#include "syncstack/store.h"

namespace syncstack::bench {

// Ends the program with a message naming `what` unless `ok`.
void Check(bool ok, const char* what);
// Ends the program with `what` and the error unless `s` is ok.
void Check(const Status& s, const char* what);

// Seconds from `start` to now.
double Seconds(std::chrono::steady_clock::time_point start);

// items_per_second and allocs_per_item for `items` records an iteration.
void ReportPerItem(benchmark::State& state, size_t items, uint64_t allocations);

// Opens a database in an empty folder `dir`.
using OpenIn = std::function<std::unique_ptr<Database>(const std::string& dir)>;

// Bulk apply: each iteration opens a fresh database with `open` in a new
// temporary folder (removed afterwards) and applies `batches` to its local
// account with WriteOptions{sync}; only the applies are timed (manual
// time) and their allocations counted. Reports per record.
void MeasureApply(benchmark::State& state,
                  const std::vector<ChangeBatch>& batches, bool sync,
                  const OpenIn& open);

}  // namespace syncstack::bench
