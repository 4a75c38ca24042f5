// Syncing into the app's own tables (the mapped SQLite store) beside the
// same sync into syncstack's own SQLite store and beside raw inserts of the
// same rows, all measured in the same run; and what the capture triggers
// cost an app's own inserts, and stamping those inserts at the next sync.
//
//   build/release/bench/mapped/mapped_bench [records]   (default 100000)
//
// Prints one line per case: wall time and rows/s.
#include <sqlite3.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>

#include "syncstack/engine.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/replica.h"
#include "syncstack/sqlite/mapped_store.h"
#include "syncstack/sqlite/sqlite_store.h"

namespace syncstack {
namespace {

namespace fs = std::filesystem;

constexpr char kPayload[] =
    R"({"title":"a todo item of typical size","done":false,"n":12345,)"
    R"("note":null})";
constexpr char kTable[] =
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
    "CREATE TABLE todo(id TEXT PRIMARY KEY, title TEXT, done BOOLEAN, "
    "n INTEGER, note TEXT);";
constexpr char kSchema[] =
    R"({"collections": {"todo": {"id": "id", "table": "todo"}}})";

class Dir {
 public:
  Dir() {
    std::string p = (fs::temp_directory_path() / "syncstack-mapped-XXXXXX");
    if (mkdtemp(p.data()) == nullptr) std::abort();
    path_ = p;
  }
  ~Dir() { fs::remove_all(path_); }
  std::string File(const char* name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    std::exit(1);
  }
}

std::vector<RecordId> Ids(int64_t n) {
  std::mt19937_64 rng(1);
  std::vector<RecordId> ids;
  for (int64_t i = 0; i < n; ++i) {
    std::array<uint8_t, 16> b{};
    uint64_t x = rng(), y = rng();
    std::memcpy(b.data(), &x, 8);
    std::memcpy(b.data() + 8, &y, 8);
    ids.emplace_back(b);
  }
  return ids;
}

double Seconds(const std::function<void()>& fn) {
  auto start = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

void Print(const char* what, double seconds, int64_t rows, double base) {
  std::printf("%-52s %8.3f s %10.0f rows/s %6.2fx raw\n", what, seconds,
              static_cast<double>(rows) / seconds, base / seconds);
}

sqlite3* OpenApp(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) std::abort();
  sqlite3_exec(db,
               "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
               "PRAGMA cache_size=-65536;",
               nullptr, nullptr, nullptr);
  return db;
}

// The app's own inserts of n rows in one transaction (prepared once).
void AppInserts(sqlite3* db, const std::vector<RecordId>& ids) {
  sqlite3_stmt* insert = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO todo VALUES(?, 'a todo item of typical "
                     "size', 0, 12345, NULL)",
                     -1, &insert, nullptr);
  sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
  for (const RecordId& id : ids) {
    const std::string text = id.ToString();
    sqlite3_bind_text(insert, 1, text.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(insert) != SQLITE_DONE) std::abort();
    sqlite3_reset(insert);
  }
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_finalize(insert);
}

Result<std::unique_ptr<Database>> OpenMapped(const std::string& path) {
  MappedSqliteOptions options;
  options.path = path;
  options.schema = *Schema::Parse(kSchema);
  return OpenMappedSqliteDatabase(options);
}

struct Server {
  std::unique_ptr<InProcessServer> server;
  explicit Server(const std::vector<RecordId>& ids) {
    InProcessServerOptions options;
    options.database = std::move(OpenMemoryDatabase()).value();
    options.policy = NewLastWriteWinsPolicy();
    options.schema = *Schema::Parse(kSchema);
    server = std::make_unique<InProcessServer>(std::move(options));
    auto store = server->database().OpenAccount("alice").value();
    const Timestamp now = SystemClock().Now() - 3'600'000;
    ChangeBatch batch;
    for (size_t i = 0; i < ids.size(); ++i) {
      Record r;
      r.collection = "todo";
      r.id = ids[i];
      r.version.timestamp = now + static_cast<Timestamp>(i % 1000);
      r.payload = kPayload;
      batch.Put(std::move(r));
      if (batch.size() == 10'000 || i + 1 == ids.size()) {
        Check(store->Apply(WriteOptions{}, batch), "fill");
        batch.Clear();
      }
    }
  }
  // 1% of the rows changed on the server.
  void ChangeOnePercent(const std::vector<RecordId>& ids, int round) {
    auto store = server->database().OpenAccount("alice").value();
    ChangeBatch batch;
    for (size_t i = static_cast<size_t>(round); i < ids.size(); i += 100) {
      Record r;
      r.collection = "todo";
      r.id = ids[i];
      r.version.timestamp = SystemClock().Now() - 10'000;
      r.payload = R"({"title":"edited there","done":true,"n":1,"note":null})";
      batch.Put(std::move(r));
    }
    Check(store->Apply(WriteOptions{}, batch), "server change");
  }
};

SyncOptions Options() {
  SyncOptions o;
  o.user = "alice";
  o.device = "bench";
  return o;
}

void Run(int64_t n) {
  const std::vector<RecordId> ids = Ids(n);
  std::printf("%lld rows, SQLite %s, WAL, synchronous=FULL\n",
              static_cast<long long>(n), sqlite3_libversion());
  double raw = 0;
  {
    Dir dir;
    sqlite3* db = OpenApp(dir.File("raw.db"));
    sqlite3_exec(db, kTable, nullptr, nullptr, nullptr);
    raw = Seconds([&] { AppInserts(db, ids); });
    sqlite3_close(db);
    Print("app insert, no triggers (the raw baseline)", raw, n, raw);
  }
  {
    Dir dir;
    sqlite3* db = OpenApp(dir.File("app.db"));
    sqlite3_exec(db, kTable, nullptr, nullptr, nullptr);
    { auto attached = OpenMapped(dir.File("app.db")).value(); }
    double t = Seconds([&] { AppInserts(db, ids); });
    sqlite3_close(db);
    Print("app insert, with capture triggers", t, n, raw);
    // What the next sync adds before it plans: each captured insert
    // stamped by the policy (Store::StampCaptured).
    auto mapped = OpenMapped(dir.File("app.db")).value();
    auto store = mapped->OpenAccount(kLocalAccount).value();
    auto policy = NewLastWriteWinsPolicy();
    double stamp = Seconds([&] {
      Check(store->StampCaptured(
                WriteOptions{},
                [&](const LocalWrite& w) { return policy->StampLocal(w); }),
            "stamp");
    });
    Print("stamping those captured inserts (next sync, lww)", stamp, n, raw);
  }
  {
    Dir dir;
    Server server(ids);
    auto db = OpenSqliteDatabase({.path = dir.File("own.db")}).value();
    auto store = db->OpenAccount(kLocalAccount).value();
    SyncEngine engine(*store, server.server->transport(),
                      server.server->policy(), *Schema::Parse(kSchema));
    double cold =
        Seconds([&] { Check(engine.Run(Options()).status(), "sync"); });
    Print("cold sync into syncstack's own SQLite store", cold, n, raw);
    server.ChangeOnePercent(ids, 0);
    Replica app(*store, server.server->policy(), SystemClock());
    for (size_t i = 50; i < ids.size(); i += 100) {
      Check(
          app.Put("todo", ids[i],
                  R"({"title":"edited here","done":false,"n":2,"note":null})"),
          "put");
    }
    double inc =
        Seconds([&] { Check(engine.Run(Options()).status(), "sync"); });
    Print("incremental sync, 1% changed on each side (own)", inc, n / 50, raw);
  }
  {
    Dir dir;
    Server server(ids);
    sqlite3* app = OpenApp(dir.File("app.db"));
    sqlite3_exec(app, kTable, nullptr, nullptr, nullptr);
    auto db = OpenMapped(dir.File("app.db")).value();
    auto store = db->OpenAccount(kLocalAccount).value();
    SyncEngine engine(*store, server.server->transport(),
                      server.server->policy(), *Schema::Parse(kSchema));
    double cold =
        Seconds([&] { Check(engine.Run(Options()).status(), "sync"); });
    Print("cold sync into the app's own table (mapped)", cold, n, raw);
    server.ChangeOnePercent(ids, 0);
    sqlite3_exec(app,
                 "UPDATE todo SET title = 'edited here', n = 2 WHERE "
                 "rowid % 100 = 50",
                 nullptr, nullptr, nullptr);
    double inc =
        Seconds([&] { Check(engine.Run(Options()).status(), "sync"); });
    Print("incremental sync, 1% changed on each side (mapped)", inc, n / 50,
          raw);
    sqlite3_close(app);
  }
}

}  // namespace
}  // namespace syncstack

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 100'000;
  syncstack::Run(n);
  return 0;
}
