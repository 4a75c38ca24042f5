// A device killed with SIGKILL at random points of large syncs: the real
// `syncstack sync` process, against the real `syncstack serve` on
// 127.0.0.1. After every kill the device's SQLite file must pass SQLite's
// integrity check and still hold every write its app made; after the last
// one, a sync must complete and leave the device equal to the server.
//
// Replay: SYNCSTACK_SEED=<printed seed>; more kills: SYNCSTACK_KILLS=<n>.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "kits/serve_process.h"
#include "syncstack/clock.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/replica.h"
#include "syncstack/sqlite/sqlite_store.h"

namespace syncstack {
namespace {

namespace fs = std::filesystem;
using Live = std::map<RecordId, std::string>;  // id -> payload

// Starts `syncstack args...` with stdout to `out_path` (or /dev/null).
pid_t Spawn(const std::vector<std::string>& args,
            const std::string& out_path = "/dev/null") {
  pid_t pid = fork();
  if (pid == 0) {
    FILE* out = freopen(out_path.c_str(), "w", stdout);
    FILE* err = freopen("/dev/null", "w", stderr);
    (void)out;
    (void)err;
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(SYNCSTACK_BIN));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(SYNCSTACK_BIN, argv.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int RunBinary(const std::vector<std::string>& args) {
  return Wait(Spawn(args));
}

// SQLite's own verdict on the file.
std::string IntegrityCheck(const std::string& path) {
  sqlite3* db = nullptr;
  std::string verdict = "cannot open";
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) ==
      SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    verdict = "cannot prepare";
    if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr) ==
        SQLITE_OK) {
      verdict.clear();
      while (sqlite3_step(st) == SQLITE_ROW) {
        verdict += reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return verdict;
}

// The app's side of a device: writes through a Replica, as an app would.
class App {
 public:
  explicit App(const std::string& path) {
    auto db = OpenSqliteDatabase({.path = path});
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return;
    db_ = std::move(db).value();
    store_ = *db_->OpenAccount(kLocalAccount);
    // Without fsync per write: the app's writes happen while no sync runs
    // and the file is closed cleanly before the next one.
    WriteOptions write;
    write.sync = false;
    replica_ =
        std::make_unique<Replica>(*store_, *policy_, SystemClock(), write);
  }
  bool ok() const { return replica_ != nullptr; }
  Replica& replica() { return *replica_; }
  Live Records() {
    Live live;
    ScanOptions options;
    options.include_tombstones = false;
    Status s = ScanRecords(*store_, "notes", options,
                           [&](const Record& r) { live[r.id] = r.payload; });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return live;
  }
  size_t Pending() {
    size_t n = 0;
    for (auto it = store_->Scan("notes", ScanOptions()); it->Valid();
         it->Next()) {
      n += it->entry().state != SyncState::kSynced;
    }
    return n;
  }

 private:
  std::unique_ptr<ConflictPolicy> policy_ = NewLastWriteWinsPolicy();
  std::unique_ptr<Database> db_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<Replica> replica_;
};

std::string Payload(std::mt19937_64& rng, int n) {
  return "{\"n\":" + std::to_string(n) + ",\"text\":\"" +
         std::string(40 + rng() % 200, static_cast<char>('a' + n % 26)) + "\"}";
}

TEST(CrashTest, SigkillAtRandomPointsLosesAndCorruptsNothing) {
  uint64_t seed = 20261126;
  if (const char* s = std::getenv("SYNCSTACK_SEED")) seed = std::stoull(s);
  int kills = 50;
  if (const char* k = std::getenv("SYNCSTACK_KILLS")) kills = std::atoi(k);
  std::cout << "[ seed     ] " << seed << " (replay: SYNCSTACK_SEED=" << seed
            << ")" << std::endl;
  std::mt19937_64 rng(seed);

  std::string dir = (fs::temp_directory_path() / "syncstack-crash-XXXXXX");
  ASSERT_NE(mkdtemp(dir.data()), nullptr);
  const std::string server = "sqlite:" + dir + "/server.db";
  const std::string phone_path = dir + "/phone.db";
  const std::string phone = "sqlite:" + phone_path;
  ASSERT_EQ(RunBinary({"user", "add", "--store", server, "--user", "alice",
                       "--password", "pw"}),
            0);
  auto serve = testing::ServeProcess::Start(
      {SYNCSTACK_BIN,
       {"--store", server, "--listen", "127.0.0.1:0", "--lease-seconds", "5"}});
  ASSERT_TRUE(serve.ok()) << serve.status().ToString();
  const std::string url = (*serve)->url();
  ASSERT_FALSE(url.empty()) << (*serve)->first_line();
  auto sync = [&](const std::string& store, const std::string& device) {
    return Spawn({"sync", "--store", store, "--remote", url, "--user", "alice",
                  "--password", "pw", "--device", device, "--lock-wait", "30"});
  };

  // The server starts with 10,000 records from another device: the phone's
  // first syncs are a large cold pull.
  std::set<RecordId> seeded;
  {
    App seeder(dir + "/seeder.db");
    ASSERT_TRUE(seeder.ok());
    for (int i = 0; i < 10'000; ++i) {
      RecordId id = RecordId::Random();
      ASSERT_TRUE(seeder.replica().Put("notes", id, Payload(rng, i)).ok());
      seeded.insert(id);
    }
  }
  ASSERT_EQ(Wait(sync("sqlite:" + dir + "/seeder.db", "seeder")), 0);

  // The phone's app writes; the sync is killed at a random moment; the app
  // checks its data. Kill delays are spread over a typical sync's length.
  Live truth;  // what the phone's app wrote, as the phone must hold it
  std::set<RecordId> removed;  // what it deleted, never to come back
  int killed_mid_sync = 0, counter = 0;
  auto last_full = std::chrono::milliseconds(800);
  for (int kill = 0; kill < kills; ++kill) {
    {
      App app(phone_path);
      ASSERT_TRUE(app.ok());
      Live now = app.Records();
      if (kill > 0) {
        // The pulls so far are the phone's too; its own writes must hold.
        for (const auto& [id, payload] : truth) {
          auto it = now.find(id);
          ASSERT_TRUE(it != now.end() && it->second == payload)
              << "kill " << kill << ": lost the app's write to "
              << id.ToString();
        }
        for (const RecordId& id : removed) {
          ASSERT_FALSE(now.count(id))
              << "kill " << kill << ": resurrected " << id.ToString();
        }
      }
      // 1,000 app writes per round: adds, edits, deletes.
      std::vector<RecordId> ids;
      for (const auto& [id, payload] : now) ids.push_back(id);
      for (int w = 0; w < 1000; ++w) {
        unsigned dice = rng() % 10;
        if (ids.empty() || dice < 5) {
          RecordId id = RecordId::Random();
          std::string p = Payload(rng, ++counter);
          ASSERT_TRUE(app.replica().Put("notes", id, p).ok());
          truth[id] = p;
          ids.push_back(id);
        } else if (dice < 8) {
          RecordId id = ids[rng() % ids.size()];
          std::string p = Payload(rng, ++counter);
          ASSERT_TRUE(app.replica().Put("notes", id, p).ok());
          truth[id] = p;
        } else {
          size_t at = rng() % ids.size();
          RecordId id = ids[at];
          Status s = app.replica().Remove("notes", id);
          ASSERT_TRUE(s.ok() || s.code() == Status::Code::kNotFound)
              << s.ToString();
          truth.erase(id);
          removed.insert(id);
          ids.erase(ids.begin() + static_cast<ptrdiff_t>(at));
        }
      }
    }
    auto started = std::chrono::steady_clock::now();
    pid_t pid = sync(phone, "phone");
    auto delay = std::chrono::milliseconds(
        rng() % static_cast<uint64_t>(last_full.count() + 1));
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int code = Wait(pid);
    if (code == 128 + SIGKILL) {
      ++killed_mid_sync;
    } else {
      ASSERT_EQ(code, 0) << "sync failed on its own after kill " << kill;
      // The next delays are drawn over the length of this sync, the
      // latest that completed: not the longest so far, since one slow
      // sync on a loaded machine would then put most later kills after
      // the end of shorter syncs (21 of 50 mid-sync in one run).
      last_full = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - started);
    }
    ASSERT_EQ(IntegrityCheck(phone_path), "ok") << "after kill " << kill;
  }
  std::cout << "[ kills    ] " << kills << " SIGKILLs, " << killed_mid_sync
            << " of them mid-sync" << std::endl;
  EXPECT_GE(killed_mid_sync, kills / 2);

  // Restarted for good: the phone completes a sync and equals the server
  // (seen through a fresh device), and holds every write of its app.
  ASSERT_EQ(Wait(sync(phone, "phone")), 0);
  ASSERT_EQ(Wait(sync("sqlite:" + dir + "/check.db", "check")), 0);
  App phone_app(phone_path), check(dir + "/check.db");
  Live held = phone_app.Records();
  EXPECT_EQ(phone_app.Pending(), 0u);
  EXPECT_EQ(held, check.Records());
  for (const auto& [id, payload] : truth) {
    auto it = held.find(id);
    ASSERT_TRUE(it != held.end() && it->second == payload) << id.ToString();
  }
  for (const RecordId& id : removed) EXPECT_FALSE(held.count(id));
  // Exactly the seeder's records the phone did not delete, and the app's.
  std::set<RecordId> want;
  for (const RecordId& id : seeded) {
    if (!removed.count(id)) want.insert(id);
  }
  for (const auto& [id, payload] : truth) want.insert(id);
  std::set<RecordId> got;
  for (const auto& [id, payload] : held) got.insert(id);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_TRUE(got == want) << "records the phone should not hold, or lacks";
  EXPECT_EQ((*serve)->Stop(), 0) << (*serve)->Stderr();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace syncstack
