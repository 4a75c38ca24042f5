// LMDB store benchmarks: bulk apply and a full manifest scan through the
// Store interface, each next to raw LMDB doing the same work on the same
// layout (raw mdb_put in one transaction; a raw cursor scan decoding the
// same fields), so the store's overhead is a ratio of two items/s figures.
//
//   lmdb_bench                          # N = 100k records
//   SYNCSTACK_BENCH_N=1000000 lmdb_bench
//   SYNCSTACK_BENCH_N=100000,1000000 lmdb_bench
//
// Each benchmark reports items_per_second (records) and allocs_per_item.
#include <benchmark/benchmark.h>
#include <lmdb.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "store_runs.h"
#include "syncstack/lmdb/lmdb_store.h"
#include "syncstack/store.h"
#include "workload.h"

namespace syncstack {
namespace {

using bench::Batches;
using bench::Check;
using bench::kBatchSize;
using bench::kCollection;
using bench::kPayloadSize;
using bench::MeasureApply;
using bench::Records;
using bench::ReportPerItem;
using bench::Seconds;
using bench::TempDir;

constexpr size_t kHeaderSize = 22;  // the store's record header

void CheckRc(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "lmdb_bench: %s: %s\n", what, mdb_strerror(rc));
    std::abort();
  }
}

std::unique_ptr<Database> OpenStoreIn(const std::string& dir) {
  LmdbDatabaseOptions options;
  options.path = dir;
  auto db = OpenLmdbDatabase(options);
  Check(db.status(), "open");
  return std::move(db).value();
}

// A raw environment over `dir` with the store's named databases.
struct RawEnv {
  explicit RawEnv(const std::string& dir) {
    CheckRc(mdb_env_create(&env), "env create");
    CheckRc(mdb_env_set_maxdbs(env, 8), "maxdbs");
    CheckRc(mdb_env_set_mapsize(env, size_t{8} << 30), "mapsize");
    // Unsynced, as the store's Apply with WriteOptions.sync false.
    CheckRc(mdb_env_open(env, dir.c_str(), MDB_NOTLS | MDB_NOSYNC, 0644),
            "env open");
    MDB_txn* txn = nullptr;
    CheckRc(mdb_txn_begin(env, nullptr, 0, &txn), "begin");
    CheckRc(mdb_dbi_open(txn, "records", MDB_CREATE, &records), "dbi");
    CheckRc(mdb_txn_commit(txn), "commit");
  }
  ~RawEnv() { mdb_env_close(env); }
  RawEnv(const RawEnv&) = delete;
  RawEnv& operator=(const RawEnv&) = delete;

  MDB_env* env = nullptr;
  MDB_dbi records = 0;
};

// ---------------------------------------------------------------------------
// Bulk apply: N records through Store::Apply in batches of `batch` records
// (WriteOptions.sync false), in random id order or, if `sorted`, in id
// order (as a first sync receives them), into a fresh database with the
// default 64 MiB initial map (so map growth is included).
void BM_LmdbStoreApply(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t batch = static_cast<size_t>(state.range(1));
  const bool sorted = state.range(2) != 0;
  MeasureApply(state, Batches(n, batch, sorted), false, OpenStoreIn);
}

// The same rows and bytes (cid + id key; header + payload value) with raw
// mdb_put (flags 0), unsynced, into a map pre-sized to 8 GiB: in one
// transaction (batch = n, the baseline) or one per `batch` records (what
// the store does, to show what LMDB's per-commit copy-on-write costs by
// itself); in random or (`sorted`) id order.
void BM_LmdbRawPut(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const size_t batch = static_cast<size_t>(state.range(1));
  const bool sorted = state.range(2) != 0;
  const auto& records = Records(n, sorted);
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    std::string dir = TempDir();
    {
      RawEnv raw(dir);
      allocations.Start();
      auto start = std::chrono::steady_clock::now();
      MDB_txn* txn = nullptr;
      CheckRc(mdb_txn_begin(raw.env, nullptr, 0, &txn), "begin");
      char key[20] = {0, 0, 0, 1};
      char value[kHeaderSize + kPayloadSize] = {};
      for (size_t i = 0; i < records.size(); ++i) {
        const Record& r = records[i];
        if (i > 0 && i % batch == 0) {
          CheckRc(mdb_txn_commit(txn), "commit");
          CheckRc(mdb_txn_begin(raw.env, nullptr, 0, &txn), "begin");
        }
        std::memcpy(key + 4, r.id.bytes().data(), 16);
        std::memcpy(value, &r.version.timestamp, 8);
        std::memcpy(value + 8, &r.base, 8);
        std::memcpy(value + kHeaderSize, r.payload.data(), r.payload.size());
        MDB_val k{sizeof(key), key};
        MDB_val v{kHeaderSize + r.payload.size(), value};
        CheckRc(mdb_put(txn, raw.records, &k, &v, 0), "put");
      }
      CheckRc(mdb_txn_commit(txn), "commit");
      state.SetIterationTime(Seconds(start));
      allocations.Stop();
    }
    std::filesystem::remove_all(dir);
  }
  ReportPerItem(state, n, allocations.total());
}

// ---------------------------------------------------------------------------
// Manifest scans over a database of N records written by the store. The
// store and the raw environment take turns on the directory (one process
// must not open an environment twice).
struct Fixture {
  std::string dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Store> store;
  std::unique_ptr<RawEnv> raw;

  Store& OpenStore() {
    raw.reset();
    if (db == nullptr) {
      db = OpenStoreIn(dir);
      store = std::move(db->OpenAccount(kLocalAccount)).value();
    }
    return *store;
  }
  RawEnv& Raw() {
    store.reset();
    db.reset();
    if (raw == nullptr) raw = std::make_unique<RawEnv>(dir);
    return *raw;
  }
};

Fixture& Populated(size_t n) {
  static std::map<size_t, Fixture> fixtures;
  Fixture& f = fixtures[n];
  if (f.dir.empty()) {
    f.dir = TempDir();
    auto& store = f.OpenStore();
    for (const ChangeBatch& b : Batches(n)) {
      Check(store.Apply(WriteOptions{false}, b), "populate");
    }
    static const bool registered = [] {
      std::atexit([] {
        for (auto& [size, fixture] : fixtures) {
          fixture.store.reset();
          fixture.db.reset();
          fixture.raw.reset();
          std::filesystem::remove_all(fixture.dir);
        }
      });
      return true;
    }();
    (void)registered;
  }
  return f;
}

void BM_LmdbStoreScan(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Store& store = Populated(n).OpenStore();
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    allocations.Start();
    size_t count = 0;
    auto it = store.Scan(kCollection, ScanOptions());
    for (; it->Valid(); it->Next()) {
      benchmark::DoNotOptimize(it->entry().version.timestamp);
      ++count;
    }
    Check(it->status(), "scan");
    Check(count == n, "scan count");
    allocations.Stop();
  }
  ReportPerItem(state, n, allocations.total());
}

// One raw read transaction and cursor over the same file, decoding the same
// fields into a ManifestEntry per row.
void BM_LmdbRawScan(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  RawEnv& raw = Populated(n).Raw();
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    allocations.Start();
    size_t count = 0;
    ManifestEntry e;
    MDB_txn* txn = nullptr;
    CheckRc(mdb_txn_begin(raw.env, nullptr, MDB_RDONLY, &txn), "begin");
    MDB_cursor* cursor = nullptr;
    CheckRc(mdb_cursor_open(txn, raw.records, &cursor), "cursor");
    MDB_val k;
    MDB_val v;
    for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
      const char* p = static_cast<const char*>(v.mv_data);
      e.id = RecordId::FromBytes(
          std::string_view(static_cast<const char*>(k.mv_data) + 4, 16));
      std::memcpy(&e.version.timestamp, p, 8);
      std::memcpy(&e.base, p + 8, 8);
      e.deleted = p[16] != 0;
      e.state = static_cast<SyncState>(p[17]);
      uint32_t extra;
      std::memcpy(&extra, p + 18, 4);
      e.version.extra.assign(p + kHeaderSize, extra);
      benchmark::DoNotOptimize(e);
      ++count;
    }
    mdb_cursor_close(cursor);
    mdb_txn_abort(txn);
    Check(count == n, "raw scan count");
    allocations.Stop();
  }
  ReportPerItem(state, n, allocations.total());
}

}  // namespace
}  // namespace syncstack

int main(int argc, char** argv) {
  using namespace syncstack;
  std::vector<int64_t> sizes;
  const char* env = std::getenv("SYNCSTACK_BENCH_N");
  std::stringstream list(env != nullptr ? env : "100000");
  for (std::string item; std::getline(list, item, ',');) {
    sizes.push_back(std::stoll(item));
  }
  for (int64_t n : sizes) {
    const auto batch = static_cast<int64_t>(kBatchSize);
    benchmark::RegisterBenchmark("BM_LmdbStoreApply", BM_LmdbStoreApply)
        ->ArgNames({"n", "batch", "sorted"})
        ->Args({n, batch, 0})
        ->Args({n, n, 0})
        ->Args({n, batch, 1})
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("BM_LmdbRawPut", BM_LmdbRawPut)
        ->ArgNames({"n", "batch", "sorted"})
        ->Args({n, n, 0})
        ->Args({n, batch, 0})
        ->Args({n, n, 1})
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("BM_LmdbStoreScan", BM_LmdbStoreScan)
        ->ArgName("n")
        ->Arg(n)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("BM_LmdbRawScan", BM_LmdbRawScan)
        ->ArgName("n")
        ->Arg(n)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
