// ScanSince and ScanUnsynced (issue 13) beside a full Scan, per store: what
// an incremental sync reads on a server (the rows written after a
// checkpoint) and on a device (its rows not yet acknowledged), at n = 100k
// and 1M rows of which 10 qualify. Index-backed scans should cost the same
// at both sizes; the full scan grows with n.
//
//   index_scan_bench                                  # everything
//   index_scan_bench --benchmark_filter='Sqlite'      # one store
//
// Each row: base = its write sequence 1..n, synced; the last 10 written
// are after the checkpoint n - 10, and 10 rows spread over the id space
// are marked changed (unsynced).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "store_runs.h"
#include "syncstack/lmdb/lmdb_store.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/sqlite/sqlite_store.h"
#include "syncstack/store.h"
#include "workload.h"

namespace syncstack {
namespace {

using bench::Check;
using bench::kBatchSize;
using bench::kCollection;

constexpr size_t kQualifying = 10;

enum Kind : int64_t { kMemory = 0, kSqlite = 1, kLmdb = 2 };

struct Fixture {
  std::string dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Store> store;
};

std::unique_ptr<Database> OpenKind(int64_t kind, const std::string& dir) {
  if (kind == kMemory) return std::move(OpenMemoryDatabase()).value();
  if (kind == kSqlite) {
    SqliteDatabaseOptions options;
    options.path = dir + "/store.db";
    return std::move(OpenSqliteDatabase(options)).value();
  }
  LmdbDatabaseOptions options;
  options.path = dir + "/lmdb";
  return std::move(OpenLmdbDatabase(options)).value();
}

// n rows of the workload, base = position + 1; kQualifying of them,
// spread over the ids, changed.
Fixture& Populated(int64_t kind, size_t n) {
  static std::map<std::pair<int64_t, size_t>, Fixture> fixtures;
  Fixture& f = fixtures[{kind, n}];
  if (f.db != nullptr) return f;
  f.dir = bench::TempDir();
  f.db = OpenKind(kind, f.dir);
  f.store = std::move(f.db->OpenAccount(kLocalAccount)).value();
  const std::vector<Record>& records = bench::Records(n, /*sorted=*/false);
  ChangeBatch batch;
  for (size_t i = 0; i < n; ++i) {
    Record r = records[i];
    r.base = static_cast<Timestamp>(i + 1);
    if (i % (n / kQualifying) == n / (2 * kQualifying)) {
      r.state = SyncState::kChanged;
    }
    batch.Put(std::move(r));
    if (batch.size() == kBatchSize || i + 1 == n) {
      Check(f.store->Apply(WriteOptions{false}, batch), "populate");
      batch.Clear();
    }
  }
  static const bool registered = [] {
    std::atexit([] {
      for (auto& [key, fixture] : fixtures) {
        fixture.store.reset();
        fixture.db.reset();
        if (!fixture.dir.empty()) std::filesystem::remove_all(fixture.dir);
      }
    });
    return true;
  }();
  (void)registered;
  return f;
}

void BM_ScanSince(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(1));
  Store& store = *Populated(state.range(0), n).store;
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    allocations.Start();
    size_t count = 0;
    Check(store.ScanSince(kCollection, static_cast<Timestamp>(n - kQualifying),
                          1000,
                          [&](const Record& r) {
                            benchmark::DoNotOptimize(r.payload.data());
                            ++count;
                          }),
          "scan since");
    Check(count == kQualifying, "scan since count");
    allocations.Stop();
  }
  bench::ReportPerItem(state, kQualifying, allocations.total());
}

void BM_ScanUnsynced(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(1));
  Store& store = *Populated(state.range(0), n).store;
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    allocations.Start();
    size_t count = 0;
    Check(store.ScanUnsynced(kCollection,
                             [&](const Record& r) {
                               benchmark::DoNotOptimize(r.payload.data());
                               ++count;
                             }),
          "scan unsynced");
    Check(count == kQualifying, "scan unsynced count");
    allocations.Stop();
  }
  bench::ReportPerItem(state, kQualifying, allocations.total());
}

// What finding the same rows cost before: the whole manifest.
void BM_FullScan(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(1));
  Store& store = *Populated(state.range(0), n).store;
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    allocations.Start();
    size_t count = 0;
    auto it = store.Scan(kCollection, ScanOptions());
    for (; it->Valid(); it->Next()) {
      if (it->entry().state != SyncState::kSynced) ++count;
    }
    Check(it->status(), "scan");
    Check(count == kQualifying, "scan count");
    allocations.Stop();
  }
  bench::ReportPerItem(state, n, allocations.total());
}

void Sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"store", "n"});
  for (int64_t kind : {kMemory, kSqlite, kLmdb}) {
    for (int64_t n : {100000, 1000000}) b->Args({kind, n});
  }
  b->UseRealTime();
  b->Unit(benchmark::kMicrosecond);
}

BENCHMARK(BM_ScanSince)->Apply(Sizes);
BENCHMARK(BM_ScanUnsynced)->Apply(Sizes);
BENCHMARK(BM_FullScan)->Apply(Sizes);

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
