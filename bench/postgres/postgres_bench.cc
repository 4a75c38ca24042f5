// PostgreSQL store benchmarks: one 100k-record Apply and a full manifest
// scan through the Store, each next to raw libpq doing the same work on the
// same table (COPY FROM STDIN of the same rows; COPY TO STDOUT of the same
// manifest columns, not decoded), so the store's overhead is a ratio of two
// items/s figures.
//
//   ./scripts/with-postgres.sh build/release/bench/postgres/postgres_bench
//   SYNCSTACK_BENCH_N=1000000 ...   (default 100000)
//
// Each benchmark reports items_per_second (records) and allocs_per_item.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include "alloc_counter.h"
#include "syncstack/postgres/postgres_store.h"
#include "syncstack/store.h"

namespace syncstack {
namespace {

constexpr const char* kSchema = "syncstack_bench";
constexpr const char* kCollection = "todo";
constexpr size_t kPayloadSize = 120;

size_t N() {
  const char* env = std::getenv("SYNCSTACK_BENCH_N");
  return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10)
                                        : 100000;
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "postgres_bench: %s failed\n", what);
    std::abort();
  }
}

const std::string& Conninfo() {
  static const std::string conninfo = [] {
    const char* env = std::getenv("SYNCSTACK_PG_CONNINFO");
    Check(env != nullptr, "SYNCSTACK_PG_CONNINFO (use with-postgres.sh)");
    return std::string(env);
  }();
  return conninfo;
}

PGconn* Connect() {
  PGconn* conn = PQconnectdb(Conninfo().c_str());
  Check(PQstatus(conn) == CONNECTION_OK, "connect");
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return conn;
}

void Exec(PGconn* conn, const std::string& sql) {
  PGresult* r = PQexec(conn, sql.c_str());
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    std::fprintf(stderr, "%s\n", PQerrorMessage(conn));
    Check(false, "exec");
  }
  PQclear(r);
}

Database& Db() {
  static std::unique_ptr<Database> db = [] {
    PGconn* conn = Connect();
    Exec(conn, std::string("DROP SCHEMA IF EXISTS ") + kSchema + " CASCADE");
    PQfinish(conn);
    PostgresDatabaseOptions options;
    options.conninfo = Conninfo();
    options.schema = kSchema;
    auto opened = OpenPostgresDatabase(options);
    Check(opened.ok(), "open");
    return std::move(opened).value();
  }();
  return *db;
}

RecordId IdN(uint64_t n) {
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(n >> (56 - 8 * i));
  return RecordId(b);
}

std::string Payload(uint64_t n) {
  std::string p = "{\"n\":" + std::to_string(n) + ",\"text\":\"";
  p.resize(kPayloadSize - 2, 'x');
  return p + "\"}";
}

void Hex(std::string& out, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
}

int g_account = 0;
std::string NewAccount() { return "bench" + std::to_string(g_account++); }

void Report(benchmark::State& state, uint64_t allocs, size_t items) {
  state.SetItemsProcessed(static_cast<int64_t>(items));
  state.counters["allocs_per_item"] =
      static_cast<double>(allocs) / static_cast<double>(items);
}

// Arg 0: a bulk load (the account has no rows yet: the store COPYs
// straight into the table). Arg 1: the same rows again over the loaded
// account (every row an update: COPY into staging, then the upsert merge).
void BM_StoreApply(benchmark::State& state) {
  const size_t n = N();
  const bool over_existing = state.range(0) != 0;
  bench::AllocationMeter allocs;
  size_t items = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto store = Db().OpenAccount(NewAccount());
    ChangeBatch batch;
    for (size_t i = 0; i < n; ++i) {
      Record r;
      r.collection = kCollection;
      r.id = IdN(i);
      r.version.timestamp = 1700000000000 + static_cast<int64_t>(i);
      r.payload = Payload(i);
      batch.Put(std::move(r));
    }
    if (over_existing)
      Check((*store)->Apply(WriteOptions(), batch).ok(), "load");
    allocs.Start();
    state.ResumeTiming();
    Check((*store)->Apply(WriteOptions(), batch).ok(), "apply");
    allocs.Stop();
    items += n;
  }
  Report(state, allocs.total(), items);
}

void BM_RawCopyFrom(benchmark::State& state) {
  const size_t n = N();
  Db();
  PGconn* conn = Connect();
  bench::AllocationMeter allocs;
  size_t items = 0;
  for (auto _ : state) {
    std::string account = NewAccount();
    allocs.Start();
    Exec(conn, "BEGIN");
    PGresult* r = PQexec(
        conn, (std::string("COPY ") + kSchema + ".records FROM STDIN").c_str());
    Check(PQresultStatus(r) == PGRES_COPY_IN, "copy in");
    PQclear(r);
    std::string chunk;
    for (size_t i = 0; i < n; ++i) {
      chunk += account;
      chunk += '\t';
      chunk += kCollection;
      chunk += "\t\\\\x";
      Hex(chunk, IdN(i).raw());
      chunk += '\t';
      chunk += std::to_string(1700000000000 + static_cast<int64_t>(i));
      chunk += "\t\\\\x\tf\t0\t";
      chunk += std::to_string(kNoTimestamp);
      chunk += "\t\\\\x";
      Hex(chunk, Payload(i));
      chunk += '\n';
      if (chunk.size() > 65536) {
        Check(PQputCopyData(conn, chunk.data(),
                            static_cast<int>(chunk.size())) == 1,
              "put copy");
        chunk.clear();
      }
    }
    Check(
        PQputCopyData(conn, chunk.data(), static_cast<int>(chunk.size())) == 1,
        "put copy");
    Check(PQputCopyEnd(conn, nullptr) == 1, "copy end");
    r = PQgetResult(conn);
    Check(PQresultStatus(r) == PGRES_COMMAND_OK, "copy result");
    PQclear(r);
    Exec(conn, "COMMIT");
    allocs.Stop();
    items += n;
  }
  PQfinish(conn);
  Report(state, allocs.total(), items);
}

// The account the scans read: n records, written once.
const std::string& ScanAccount() {
  static const std::string account = [] {
    std::string name = NewAccount();
    auto store = Db().OpenAccount(name);
    ChangeBatch batch;
    for (size_t i = 0; i < N(); ++i) {
      Record r;
      r.collection = kCollection;
      r.id = IdN(i);
      r.version.timestamp = static_cast<int64_t>(i);
      r.payload = Payload(i);
      batch.Put(std::move(r));
    }
    Check((*store)->Apply(WriteOptions(), batch).ok(), "apply");
    PGconn* conn = Connect();
    Exec(conn, std::string("ANALYZE ") + kSchema + ".records");
    PQfinish(conn);
    return name;
  }();
  return account;
}

void BM_StoreScan(benchmark::State& state) {
  auto store = Db().OpenAccount(ScanAccount());
  bench::AllocationMeter allocs;
  size_t items = 0;
  for (auto _ : state) {
    allocs.Start();
    auto it = (*store)->Scan(kCollection, ScanOptions());
    int64_t sum = 0;
    for (; it->Valid(); it->Next(), ++items)
      sum += it->entry().version.timestamp;
    Check(it->status().ok(), "scan");
    benchmark::DoNotOptimize(sum);
    allocs.Stop();
  }
  Report(state, allocs.total(), items);
}

void BM_RawCopyTo(benchmark::State& state) {
  const std::string& account = ScanAccount();
  PGconn* conn = Connect();
  bench::AllocationMeter allocs;
  size_t items = 0;
  for (auto _ : state) {
    allocs.Start();
    std::string sql =
        std::string("COPY (SELECT id, ts, extra, deleted, ") +
        "state, base FROM " + kSchema + ".records WHERE account = '" + account +
        "' AND collection = '" + kCollection + "' ORDER BY id) TO STDOUT";
    PGresult* r = PQexec(conn, sql.c_str());
    Check(PQresultStatus(r) == PGRES_COPY_OUT, "copy out");
    PQclear(r);
    char* line = nullptr;
    int len;
    while ((len = PQgetCopyData(conn, &line, 0)) > 0) {
      ++items;
      PQfreemem(line);
    }
    r = PQgetResult(conn);
    Check(PQresultStatus(r) == PGRES_COMMAND_OK, "copy out result");
    PQclear(r);
    allocs.Stop();
  }
  PQfinish(conn);
  Report(state, allocs.total(), items);
}

BENCHMARK(BM_StoreApply)
    ->ArgName("over_existing")
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK(BM_RawCopyFrom)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(3);
BENCHMARK(BM_StoreScan)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);
BENCHMARK(BM_RawCopyTo)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->Iterations(5);

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
