// Store benchmarks: bulk apply and manifest scans through the Store
// interface, next to raw SQLite doing the same work, so the overhead of the
// store is a ratio of two items/s figures.
//
//   store_bench                                  # everything (100k and 1M)
//   store_bench --benchmark_filter='n:100000/'   # 100k records only
//   store_bench --benchmark_filter='n:1000000/'  # 1M records only
//
// Each benchmark reports items_per_second (records) and allocs_per_item
// (heap allocations per record, from bench/common's counter).
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "alloc_counter.h"
#include "store_runs.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/sqlite/sqlite_store.h"
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

void Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "store_bench: %s: %s\n", sql, err);
    std::abort();
  }
}

std::unique_ptr<Database> OpenSqliteIn(const std::string& dir) {
  SqliteDatabaseOptions options;
  options.path = dir + "/store.db";
  auto db = OpenSqliteDatabase(options);
  Check(db.status(), "open");
  return std::move(db).value();
}

// ---------------------------------------------------------------------------
// Bulk apply: N records through Store::Apply in batches, into a fresh
// database. Args: N, sync (WriteOptions.sync), records per batch, and
// whether ids arrive sorted.

void BM_SqliteStoreApply(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const bool sync = state.range(1) != 0;
  MeasureApply(
      state,
      Batches(n, static_cast<size_t>(state.range(2)), state.range(3) != 0),
      sync, OpenSqliteIn);
}
BENCHMARK(BM_SqliteStoreApply)
    ->ArgNames({"n", "sync", "batch", "sorted"})
    ->Args({100000, 0, kBatchSize, 0})
    ->Args({100000, 1, kBatchSize, 0})
    ->Args({100000, 0, 100000, 0})
    ->Args({100000, 0, kBatchSize, 1})
    ->Args({100000, 1, kBatchSize, 1})
    ->Args({100000, 0, 100000, 1})
    ->Args({1000000, 0, kBatchSize, 0})
    ->Args({1000000, 0, kBatchSize, 1})
    ->Args({1000000, 0, 1000000, 1})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// The same rows inserted with raw prepared statements, in one transaction
// (batch = n) or one per batch. inline 0: the store's layout (manifest
// WITHOUT ROWID table + payloads rowid table); inline 1: one WITHOUT ROWID
// table with the payload inline.
void BM_SqliteRawInsert(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  const bool inline_payload = state.range(1) != 0;
  const auto& records = Records(n, state.range(2) != 0);
  const size_t batch = static_cast<size_t>(state.range(3));
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    std::string dir = TempDir();
    sqlite3* db = nullptr;
    Check(sqlite3_open((dir + "/raw.db").c_str(), &db) == SQLITE_OK, "open");
    // The settings the store uses (WAL, NORMAL for sync=false, 16 MiB cache).
    Exec(db,
         "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
         " PRAGMA cache_size=-16384");
    if (inline_payload) {
      Exec(db,
           "CREATE TABLE records(cid INTEGER NOT NULL, id BLOB NOT NULL,"
           " ts INTEGER NOT NULL, extra BLOB NOT NULL, deleted INTEGER NOT "
           "NULL, state INTEGER NOT NULL, base INTEGER NOT NULL, payload TEXT,"
           " PRIMARY KEY(cid, id)) WITHOUT ROWID");
    } else {
      Exec(db,
           "CREATE TABLE records(cid INTEGER NOT NULL, id BLOB NOT NULL,"
           " ts INTEGER NOT NULL, extra BLOB NOT NULL, deleted INTEGER NOT "
           "NULL, state INTEGER NOT NULL, base INTEGER NOT NULL, pid INTEGER,"
           " PRIMARY KEY(cid, id)) WITHOUT ROWID;"
           "CREATE TABLE payloads(pid INTEGER PRIMARY KEY, payload TEXT)");
    }
    sqlite3_stmt* ins = nullptr;
    sqlite3_stmt* ins_payload = nullptr;
    Check(sqlite3_prepare_v2(db,
                             "INSERT INTO records VALUES(?1, ?2, ?3, ?4, ?5, "
                             "?6, ?7, ?8)",
                             -1, &ins, nullptr) == SQLITE_OK,
          "prepare");
    if (!inline_payload) {
      Check(sqlite3_prepare_v2(db, "INSERT INTO payloads(payload) VALUES(?1)",
                               -1, &ins_payload, nullptr) == SQLITE_OK,
            "prepare");
    }
    allocations.Start();
    auto start = std::chrono::steady_clock::now();
    Exec(db, "BEGIN");
    for (size_t i = 0; i < records.size(); ++i) {
      const Record& r = records[i];
      if (i > 0 && i % batch == 0) Exec(db, "COMMIT; BEGIN");
      if (!inline_payload) {
        sqlite3_bind_text(ins_payload, 1, r.payload.data(),
                          static_cast<int>(r.payload.size()), SQLITE_STATIC);
        Check(sqlite3_step(ins_payload) == SQLITE_DONE, "insert payload");
        sqlite3_reset(ins_payload);
      }
      sqlite3_bind_int64(ins, 1, 1);
      sqlite3_bind_blob(ins, 2, r.id.bytes().data(), 16, SQLITE_STATIC);
      sqlite3_bind_int64(ins, 3, r.version.timestamp);
      sqlite3_bind_blob(ins, 4, "", 0, SQLITE_STATIC);
      sqlite3_bind_int64(ins, 5, r.deleted);
      sqlite3_bind_int64(ins, 6, static_cast<int>(r.state));
      sqlite3_bind_int64(ins, 7, r.base);
      if (inline_payload) {
        sqlite3_bind_text(ins, 8, r.payload.data(),
                          static_cast<int>(r.payload.size()), SQLITE_STATIC);
      } else {
        sqlite3_bind_int64(ins, 8, sqlite3_last_insert_rowid(db));
      }
      Check(sqlite3_step(ins) == SQLITE_DONE, "insert");
      sqlite3_reset(ins);
    }
    Exec(db, "COMMIT");
    state.SetIterationTime(Seconds(start));
    allocations.Stop();
    sqlite3_finalize(ins);
    sqlite3_finalize(ins_payload);
    sqlite3_close(db);
    std::filesystem::remove_all(dir);
  }
  ReportPerItem(state, n, allocations.total());
}
BENCHMARK(BM_SqliteRawInsert)
    ->ArgNames({"n", "inline", "sorted", "batch"})
    ->Args({100000, 0, 0, 100000})
    ->Args({100000, 1, 0, 100000})
    ->Args({100000, 0, 0, kBatchSize})
    ->Args({100000, 0, 1, 100000})
    ->Args({100000, 1, 1, 100000})
    ->Args({100000, 0, 1, kBatchSize})
    ->Args({1000000, 0, 0, 1000000})
    ->Args({1000000, 0, 1, 1000000})
    ->Args({1000000, 1, 1, 1000000})
    ->Args({1000000, 0, 1, kBatchSize})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// Manifest scans over a database of N records (built once per N).

struct SqliteFixture {
  std::string dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Store> store;
};

SqliteFixture& PopulatedSqlite(size_t n) {
  static std::map<size_t, SqliteFixture> fixtures;
  SqliteFixture& f = fixtures[n];
  if (f.db == nullptr) {
    f.dir = TempDir();
    f.db = OpenSqliteIn(f.dir);
    f.store = std::move(f.db->OpenAccount(kLocalAccount)).value();
    for (const ChangeBatch& b : Batches(n)) {
      Check(f.store->Apply(WriteOptions{false}, b), "populate");
    }
    static const bool registered = [] {
      std::atexit([] {
        for (auto& [size, fixture] : fixtures) {
          fixture.store.reset();
          fixture.db.reset();
          std::filesystem::remove_all(fixture.dir);
        }
      });
      return true;
    }();
    (void)registered;
  }
  return f;
}

void BM_SqliteStoreScan(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Store& store = *PopulatedSqlite(n).store;
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
BENCHMARK(BM_SqliteStoreScan)
    ->ArgNames({"n"})
    ->Arg(100000)
    ->Arg(1000000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// One raw SELECT over the same file, decoding the same columns into a
// ManifestEntry per row.
void BM_SqliteRawScan(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  SqliteFixture& f = PopulatedSqlite(n);
  sqlite3* db = nullptr;
  Check(sqlite3_open((f.dir + "/store.db").c_str(), &db) == SQLITE_OK, "open");
  Exec(db, "PRAGMA cache_size=-16384");  // as the store's connection
  sqlite3_stmt* scan = nullptr;
  Check(sqlite3_prepare_v2(db,
                           "SELECT id, ts, extra, deleted, state, base FROM "
                           "records WHERE cid=?1 ORDER BY id",
                           -1, &scan, nullptr) == SQLITE_OK,
        "prepare");
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    allocations.Start();
    size_t count = 0;
    ManifestEntry e;
    sqlite3_bind_int64(scan, 1, 1);
    while (sqlite3_step(scan) == SQLITE_ROW) {
      e.id = RecordId::FromBytes(std::string_view(
          static_cast<const char*>(sqlite3_column_blob(scan, 0)), 16));
      e.version.timestamp = sqlite3_column_int64(scan, 1);
      const void* extra = sqlite3_column_blob(scan, 2);
      e.version.extra.assign(
          static_cast<const char*>(extra ? extra : ""),
          static_cast<size_t>(sqlite3_column_bytes(scan, 2)));
      e.deleted = sqlite3_column_int(scan, 3) != 0;
      e.state = static_cast<SyncState>(sqlite3_column_int(scan, 4));
      e.base = sqlite3_column_int64(scan, 5);
      benchmark::DoNotOptimize(e);
      ++count;
    }
    sqlite3_reset(scan);
    Check(count == n, "raw scan count");
    allocations.Stop();
  }
  sqlite3_finalize(scan);
  sqlite3_close(db);
  ReportPerItem(state, n, allocations.total());
}
BENCHMARK(BM_SqliteRawScan)
    ->ArgNames({"n"})
    ->Arg(100000)
    ->Arg(1000000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// Get: batches of 100 random ids (the engine fetching payloads to upload).
void BM_SqliteStoreGet(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  Store& store = *PopulatedSqlite(n).store;
  const auto& records = Records(n);
  std::mt19937_64 rng(7);
  std::vector<RecordId> ids(100);
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    for (auto& id : ids) id = records[rng() % n].id;
    allocations.Start();
    size_t bytes = 0;
    Check(store.Get(kCollection, ids,
                    [&](const Record& r) { bytes += r.payload.size(); }),
          "get");
    benchmark::DoNotOptimize(bytes);
    allocations.Stop();
  }
  ReportPerItem(state, ids.size(), allocations.total());
}
BENCHMARK(BM_SqliteStoreGet)
    ->ArgNames({"n"})
    ->Arg(100000)
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---------------------------------------------------------------------------
// The memory store.

void BM_MemoryStoreApply(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  MeasureApply(state, Batches(n), false, [](const std::string&) {
    return std::move(OpenMemoryDatabase()).value();
  });
}
BENCHMARK(BM_MemoryStoreApply)
    ->ArgNames({"n"})
    ->Arg(100000)
    ->Arg(1000000)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_MemoryStoreScan(benchmark::State& state) {
  const size_t n = static_cast<size_t>(state.range(0));
  static std::map<size_t,
                  std::pair<std::unique_ptr<Database>, std::shared_ptr<Store>>>
      stores;
  auto& [db, store] = stores[n];
  if (db == nullptr) {
    db = std::move(OpenMemoryDatabase()).value();
    store = std::move(db->OpenAccount(kLocalAccount)).value();
    for (const ChangeBatch& b : Batches(n)) {
      Check(store->Apply(WriteOptions{false}, b), "populate");
    }
  }
  bench::AllocationMeter allocations;
  for (auto _ : state) {
    allocations.Start();
    size_t count = 0;
    auto it = store->Scan(kCollection, ScanOptions());
    for (; it->Valid(); it->Next()) {
      benchmark::DoNotOptimize(it->entry().version.timestamp);
      ++count;
    }
    Check(count == n, "scan count");
    allocations.Stop();
  }
  ReportPerItem(state, n, allocations.total());
}
BENCHMARK(BM_MemoryStoreScan)
    ->ArgNames({"n"})
    ->Arg(100000)
    ->Arg(1000000)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
