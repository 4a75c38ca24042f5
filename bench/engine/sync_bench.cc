// End-to-end sync through the real engine, service, codec and SQLite
// stores over the loopback transport, beside raw SQLite inserts of the same
// rows measured in the same run (the baseline for the ratio).
//
//   build/release/bench/engine/sync_bench --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <random>

#include "syncstack/engine.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/replica.h"
#include "syncstack/service.h"
#include "syncstack/sqlite/sqlite_store.h"

namespace syncstack {
namespace {

namespace fs = std::filesystem;

constexpr char kPayload[] =
    R"({"title":"a todo item of typical size","done":false,"n":12345,)"
    R"("tags":["home","errands"],"note":null})";

class Dir {
 public:
  Dir() {
    std::string p = (fs::temp_directory_path() / "syncstack-bench-XXXXXX");
    if (mkdtemp(p.data()) == nullptr) std::abort();
    path_ = p;
  }
  ~Dir() { fs::remove_all(path_); }
  std::string File(const char* name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

RecordId NthId(std::mt19937_64& rng) {
  std::array<uint8_t, 16> b{};
  uint64_t x = rng(), y = rng();
  std::memcpy(b.data(), &x, 8);
  std::memcpy(b.data() + 8, &y, 8);
  return RecordId(b);
}

// The baseline: the same n rows (16-byte key, payload, a few integers) into
// a WITHOUT ROWID table with one prepared statement in one transaction.
void BM_RawSqliteInsert(benchmark::State& state) {
  const int64_t n = state.range(0);
  for (auto _ : state) {
    Dir dir;
    sqlite3* db = nullptr;
    sqlite3_open(dir.File("raw.db").c_str(), &db);
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                 "CREATE TABLE r(id BLOB PRIMARY KEY, ts INTEGER, state "
                 "INTEGER, base INTEGER, payload TEXT) WITHOUT ROWID;",
                 nullptr, nullptr, nullptr);
    sqlite3_stmt* insert = nullptr;
    sqlite3_prepare_v2(db, "INSERT INTO r VALUES(?,?,?,?,?)", -1, &insert,
                       nullptr);
    std::mt19937_64 rng(1);
    sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    for (int64_t i = 0; i < n; ++i) {
      RecordId id = NthId(rng);
      sqlite3_bind_blob(insert, 1, id.bytes().data(), 16, SQLITE_STATIC);
      sqlite3_bind_int64(insert, 2, 1'700'000'000'000 + i);
      sqlite3_bind_int(insert, 3, 0);
      sqlite3_bind_int64(insert, 4, 1'700'000'000'000 + i);
      sqlite3_bind_text(insert, 5, kPayload, -1, SQLITE_STATIC);
      sqlite3_step(insert);
      sqlite3_reset(insert);
    }
    sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(n * state.iterations()), benchmark::Counter::kIsRate);
}

struct Setup {
  Dir dir;
  ManualClock clock{1'700'000'000'000};
  std::unique_ptr<InProcessServer> server;
  std::unique_ptr<Database> device_db;

  Setup() {
    InProcessServerOptions options;
    options.database =
        OpenSqliteDatabase({.path = dir.File("server.db")}).value();
    options.policy = NewLastWriteWinsPolicy();
    options.clock = &clock;
    server = std::make_unique<InProcessServer>(std::move(options));
    device_db = OpenSqliteDatabase({.path = dir.File("device.db")}).value();
  }

  const ConflictPolicy& policy() const { return server->policy(); }
  Transport& transport() { return server->transport(); }

  // Fills the server's account with n records through a store batch.
  void Fill(int64_t n) {
    auto store = server->database().OpenAccount("alice").value();
    std::mt19937_64 rng(1);
    ChangeBatch batch;
    for (int64_t i = 0; i < n; ++i) {
      Record r;
      r.collection = "todo";
      r.id = NthId(rng);
      r.version.timestamp = 1'700'000'000'000 + i;
      r.payload = kPayload;
      batch.Put(std::move(r));
      if (batch.size() == 10'000 || i + 1 == n) {
        if (!store->Apply(WriteOptions{}, batch).ok()) std::abort();
        batch.Clear();
      }
    }
  }
};

SyncOptions Options(size_t batch) {
  SyncOptions o;
  o.user = "alice";
  o.device = "bench";
  o.batch_records = batch;
  return o;
}

// A device's first sync of n records: every record is fetched (case 1).
void BM_ColdSync(benchmark::State& state) {
  const int64_t n = state.range(0);
  uint64_t bytes = 0, calls = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto s = std::make_unique<Setup>();
    s->Fill(n);
    auto store = s->device_db->OpenAccount(kLocalAccount).value();
    SyncEngine engine(*store, s->transport(), s->policy());
    state.ResumeTiming();
    auto report = engine.Run(Options(static_cast<size_t>(state.range(1))));
    if (!report.ok()) state.SkipWithError(report.status().ToString().c_str());
    state.PauseTiming();
    bytes += report->traffic.bytes_received + report->traffic.bytes_sent;
    calls += report->traffic.calls;
    s.reset();
    state.ResumeTiming();
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(n * state.iterations()), benchmark::Counter::kIsRate);
  state.counters["bytes/record"] =
      static_cast<double>(bytes) / static_cast<double>(n * state.iterations());
  state.counters["calls"] = static_cast<double>(calls / state.iterations());
}

// An incremental sync of n records where 1% changed on the device and 1% on
// the server: the full manifest is still fetched and merge-joined.
void BM_IncrementalSync1Percent(benchmark::State& state) {
  const int64_t n = state.range(0);
  Setup s;
  s.Fill(n);
  auto store = s.device_db->OpenAccount(kLocalAccount).value();
  SyncEngine engine(*store, s.transport(), s.policy());
  if (!engine.Run(Options(1000)).ok()) std::abort();  // cold sync first
  Replica app(*store, s.policy(), s.clock);
  std::mt19937_64 rng(1);
  std::vector<RecordId> ids;
  for (int64_t i = 0; i < n; ++i) ids.push_back(NthId(rng));
  auto server = s.server->database().OpenAccount("alice").value();
  for (auto _ : state) {
    state.PauseTiming();
    s.clock.Advance(1000);
    ChangeBatch server_changes;
    for (int64_t i = 0; i < n / 100; ++i) {
      if (!app.Put("todo", ids[rng() % ids.size()], R"({"edited":"here"})")
               .ok()) {
        std::abort();
      }
      Record r;
      r.collection = "todo";
      r.id = ids[rng() % ids.size()];
      r.version.timestamp = s.clock.Now() - 500;
      r.payload = R"({"edited":"there"})";
      server_changes.Put(std::move(r));
    }
    if (!server->Apply(WriteOptions{}, server_changes).ok()) std::abort();
    state.ResumeTiming();
    auto report = engine.Run(Options(1000));
    if (!report.ok()) state.SkipWithError(report.status().ToString().c_str());
  }
  state.counters["records/s"] = benchmark::Counter(
      static_cast<double>(n * state.iterations()), benchmark::Counter::kIsRate);
}

BENCHMARK(BM_RawSqliteInsert)->Arg(100'000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ColdSync)
    ->Args({100'000, 500})
    ->Args({100'000, 5000})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IncrementalSync1Percent)
    ->Arg(100'000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace syncstack

BENCHMARK_MAIN();
