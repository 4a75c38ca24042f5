// Devices whose data lives in the app's own SQLite tables, syncing through
// the engine with a server: the app writes plain SQL offline, syncs move
// rows between the tables, foreign keys hold throughout. The randomized
// test runs 3 devices x N random SQL operations on linked tables with
// syncs in random order.
//
// Replay a failure: SYNCSTACK_SEED=<printed seed> ctest -R MappedSync
// More operations:  SYNCSTACK_MAPPED_OPS=<per device> ...
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "app_db.h"
#include "engine/figures.h"
#include "engine/policies.h"
#include "engine/world.h"
#include "syncstack/sqlite/mapped_store.h"

namespace syncstack::testing {
namespace {

constexpr const char* kTables = R"sql(
CREATE TABLE couples(id TEXT PRIMARY KEY, name TEXT NOT NULL, n INTEGER);
CREATE TABLE budget(bid TEXT PRIMARY KEY,
                    couple_id TEXT NOT NULL REFERENCES couples(id),
                    title TEXT, amount REAL);
)sql";

constexpr const char* kSchema = R"({"collections": {
  "couples": {"id": "id", "table": "couples"},
  "budget": {"id": "bid", "table": "budget",
             "references": {"couple_id": "couples"}}
}})";

Schema TheSchema() { return *Schema::Parse(kSchema); }

// One device: the app's database, its own connection, and syncstack.
struct MappedDevice {
  std::string name;
  std::unique_ptr<AppDb> app;
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
  std::unique_ptr<SyncEngine> engine;
  SyncOptions options;

  Result<SyncReport> Sync() { return engine->Run(options); }
};

class MappedWorld {
 public:
  explicit MappedWorld(std::unique_ptr<ConflictPolicy> policy = nullptr) {
    InProcessServerOptions options;
    options.database = std::move(OpenMemoryDatabase()).value();
    options.policy = policy ? std::move(policy) : NewLastWriteWinsPolicy();
    options.schema = TheSchema();
    server_ = std::make_unique<InProcessServer>(std::move(options));
  }

  MappedDevice& Add(const std::string& name) {
    auto d = std::make_unique<MappedDevice>();
    d->name = name;
    const std::string path = (dir_.path() / (name + ".db")).string();
    d->app = std::make_unique<AppDb>(path);
    d->app->Exec(kTables);
    MappedSqliteOptions options;
    options.path = path;
    options.schema = TheSchema();
    auto db = OpenMappedSqliteDatabase(options);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    d->database = std::move(db).value();
    d->store = *d->database->OpenAccount(kLocalAccount);
    d->engine = std::make_unique<SyncEngine>(*d->store, server_->transport(),
                                             server_->policy(), TheSchema());
    d->options.user = "alice";
    d->options.device = name;
    d->options.write.sync = false;  // a test need not outlive a power cut
    devices_.push_back(std::move(d));
    return *devices_.back();
  }

  Store& Server() {
    if (!server_store_) {
      server_store_ = *server_->database().OpenAccount("alice");
    }
    return *server_store_;
  }

  std::vector<std::unique_ptr<MappedDevice>>& devices() { return devices_; }

 private:
  TempDir dir_;
  std::unique_ptr<InProcessServer> server_;
  std::shared_ptr<Store> server_store_;
  std::vector<std::unique_ptr<MappedDevice>> devices_;
};

// The app's rows of a device, as "<collection>/<id>" -> payload.
std::map<std::string, std::string> AppRows(MappedDevice& d) {
  std::map<std::string, std::string> out;
  for (const char* collection : {"couples", "budget"}) {
    ScanOptions live;
    live.include_tombstones = false;
    Status s = ScanRecords(*d.store, collection, live, [&](const Record& r) {
      out[std::string(collection) + "/" + r.id.ToString()] = r.payload;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  // Every record the store holds is a row of the app's tables.
  EXPECT_EQ(d.app->Count("SELECT count(*) FROM couples") +
                d.app->Count("SELECT count(*) FROM budget"),
            static_cast<int64_t>(out.size()))
      << d.name;
  return out;
}

std::map<std::string, std::string> ServerRows(Store& server) {
  std::map<std::string, std::string> out;
  for (const char* collection : {"couples", "budget"}) {
    ScanOptions live;
    live.include_tombstones = false;
    Status s = ScanRecords(server, collection, live, [&](const Record& r) {
      out[std::string(collection) + "/" + r.id.ToString()] = r.payload;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return out;
}

TEST(MappedSync, TwoDevicesShareTheirTables) {
  MappedWorld world;
  MappedDevice& phone = world.Add("phone");
  MappedDevice& laptop = world.Add("laptop");
  const std::string c = "11111111-1111-4111-8111-111111111111";
  const std::string b = "22222222-2222-4222-8222-222222222222";
  phone.app->Exec("INSERT INTO couples VALUES('" + c + "', 'Ann & Bo', 1)");
  phone.app->Exec("INSERT INTO budget VALUES('" + b + "', '" + c +
                  "', 'flowers', 120.5)");
  ASSERT_OK_AND_ASSIGN(SyncReport first, phone.Sync());
  EXPECT_EQ(first.cases.pushed_adds, 2u);
  ASSERT_OK_AND_ASSIGN(SyncReport pulled, laptop.Sync());
  EXPECT_EQ(pulled.cases.fetched_new, 2u);
  EXPECT_EQ(laptop.app->One("SELECT title || ' ' || amount FROM budget"),
            "flowers 120.5");
  // No echo: the pulled rows are synced, and syncing again does nothing.
  ASSERT_OK_AND_ASSIGN(SyncReport again, laptop.Sync());
  EXPECT_EQ(again.cases.pushed_adds + again.cases.pushed_updates +
                again.cases.fetched_new + again.cases.pulled,
            0u);
  laptop.app->Exec("UPDATE budget SET amount = 99 WHERE bid = '" + b + "'");
  ASSERT_OK_AND_ASSIGN(SyncReport edit, laptop.Sync());
  EXPECT_EQ(edit.cases.pushed_updates, 1u);
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(phone.app->One("SELECT amount FROM budget"), "99.0");
  phone.app->Exec("DELETE FROM budget; DELETE FROM couples;");
  ASSERT_OK(phone.Sync().status());
  ASSERT_OK(laptop.Sync().status());
  EXPECT_EQ(laptop.app->Count("SELECT count(*) FROM couples"), 0);
  EXPECT_EQ(laptop.app->Count("SELECT count(*) FROM budget"), 0);
  EXPECT_EQ(AppRows(laptop), ServerRows(world.Server()));
}

// A child edited here after another device deleted it with its parent:
// the pulled parent delete takes the child with it (the store's cascade),
// so the planned push of the edit is skipped and the child's delete waits
// for the next run. That run's figures are not comparable (the child is
// still counted here at the version before the server's delete); the
// changes mode must not call it a mismatch, and the next run settles it.
TEST(MappedSync, ChildEditedHereWhileDeletedWithItsParentElsewhere) {
  MappedWorld world;
  MappedDevice& phone = world.Add("phone");
  MappedDevice& laptop = world.Add("laptop");
  const std::string c = "11111111-1111-4111-8111-111111111111";
  const std::string b = "22222222-2222-4222-8222-222222222222";
  phone.app->Exec("INSERT INTO couples VALUES('" + c + "', 'Ann & Bo', 1)");
  phone.app->Exec("INSERT INTO budget VALUES('" + b + "', '" + c +
                  "', 'flowers', 120.5)");
  ASSERT_OK(phone.Sync().status());
  ASSERT_OK(laptop.Sync().status());
  phone.app->Exec("BEGIN; DELETE FROM budget WHERE couple_id = '" + c +
                  "'; DELETE FROM couples WHERE id = '" + c + "'; COMMIT;");
  ASSERT_OK(phone.Sync().status());
  // The edit is the later write (last-write-wins would keep it).
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  laptop.app->Exec("UPDATE budget SET amount = 99 WHERE bid = '" + b + "'");

  ASSERT_OK_AND_ASSIGN(SyncReport cascaded, laptop.Sync());
  EXPECT_EQ(cascaded.mode, SyncMode::kChanges);
  EXPECT_EQ(cascaded.fingerprint_mismatch, "");
  EXPECT_EQ(laptop.app->Count("SELECT count(*) FROM budget"), 0);
  ASSERT_OK_AND_ASSIGN(SyncReport settled, laptop.Sync());
  EXPECT_EQ(settled.fingerprint_mismatch, "");
  ASSERT_OK_AND_ASSIGN(SyncReport quiet, laptop.Sync());
  EXPECT_NE(quiet.mode_reason.find("budget: changes"), std::string::npos)
      << quiet.mode_reason;
  EXPECT_EQ(quiet.fingerprint_mismatch, "");
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(AppRows(laptop), ServerRows(world.Server()));
  EXPECT_EQ(AppRows(phone), ServerRows(world.Server()));
  EXPECT_EQ(AppRows(laptop).size(), 0u);
}

// The same cascade under every policy: the laptop's edit of a synced
// child, then the child deleted with its parent pulled from the phone (the
// store's cascade, captured by the child's trigger). The laptop's figure
// of each collection is kept from run to run (never counted by a scan
// after the first sync), always equals the one a scan gives, and no verify
// finds a mismatch.
TEST(MappedSync, CascadesKeepTheFigureExactUnderEveryPolicy) {
  for (const std::string& policy : EveryPolicyName()) {
    SCOPED_TRACE(policy);
    MappedWorld world(std::move(NewPolicyByName(policy)).value());
    MappedDevice& phone = world.Add("phone");
    MappedDevice& laptop = world.Add("laptop");
    const std::string c = "11111111-1111-4111-8111-111111111111";
    const std::string b = "22222222-2222-4222-8222-222222222222";
    phone.app->Exec("INSERT INTO couples VALUES('" + c + "', 'Ann & Bo', 1)");
    phone.app->Exec("INSERT INTO budget VALUES('" + b + "', '" + c +
                    "', 'flowers', 120.5)");
    ASSERT_OK(phone.Sync().status());
    ASSERT_OK(laptop.Sync().status());
    auto expect_kept = [&](const std::string& when) {
      for (const char* collection : {"couples", "budget"}) {
        SCOPED_TRACE(when + ": " + collection);
        auto kept = engine::ReadFigure(*laptop.store, collection);
        auto scanned = engine::ScanFigure(*laptop.store, collection);
        ASSERT_TRUE(kept.ok() && scanned.ok());
        ASSERT_TRUE(kept->has_value()) << "no figure kept";
        EXPECT_EQ(**kept, *scanned)
            << (*kept)->Encode() << " " << scanned->Encode();
      }
    };
    auto sync_laptop = [&](const std::string& when) {
      SCOPED_TRACE(when);
      auto r = laptop.Sync();
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->mode_reason.find("counted by one scan"), std::string::npos)
          << r->mode_reason;
      EXPECT_EQ(r->fingerprint_mismatch, "");
      expect_kept(when);
    };
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    laptop.app->Exec("UPDATE budget SET amount = 99 WHERE bid = '" + b + "'");
    laptop.app->Exec("UPDATE couples SET n = 2 WHERE id = '" + c + "'");
    expect_kept("edited");
    sync_laptop("edits pushed");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    laptop.app->Exec("UPDATE budget SET amount = 98 WHERE bid = '" + b + "'");
    phone.app->Exec("BEGIN; DELETE FROM budget WHERE couple_id = '" + c +
                    "'; DELETE FROM couples WHERE id = '" + c + "'; COMMIT;");
    ASSERT_OK(phone.Sync().status());
    expect_kept("edited again");
    sync_laptop("the delete pulled");
    sync_laptop("settled");
    sync_laptop("quiet");
    ASSERT_OK(phone.Sync().status());
    EXPECT_EQ(ServerRows(*laptop.store), ServerRows(world.Server()));
    EXPECT_EQ(ServerRows(*phone.store), ServerRows(world.Server()));
  }
}

// The app adds a column while syncstack is attached and its store open:
// capture goes on, the new field flows both ways, a device without the
// column keeps the field until it adds the column too, and a NOT NULL
// column with a default takes its default for records that lack it.
TEST(MappedSync, AnAddedColumnFlowsBothWaysWhileAttached) {
  MappedWorld world;
  MappedDevice& phone = world.Add("phone");
  MappedDevice& laptop = world.Add("laptop");
  const std::string c1 = "11111111-1111-4111-8111-111111111111";
  const std::string c2 = "33333333-3333-4333-8333-333333333333";
  phone.app->Exec("INSERT INTO couples VALUES('" + c1 + "', 'Ann & Bo', 1)");
  ASSERT_OK(phone.Sync().status());
  ASSERT_OK(laptop.Sync().status());

  phone.app->Exec("ALTER TABLE couples ADD COLUMN city TEXT");
  phone.app->Exec("UPDATE couples SET city = 'Oslo'");
  ASSERT_OK_AND_ASSIGN(SyncReport pushed, phone.Sync());
  EXPECT_EQ(pushed.cases.pushed_updates, 1u);
  EXPECT_EQ(ServerRows(world.Server())["couples/" + c1],
            R"({"name":"Ann & Bo","n":1,"city":"Oslo"})");
  // The laptop has no such column yet: the field is kept, not dropped.
  ASSERT_OK(laptop.Sync().status());
  EXPECT_EQ(AppRows(laptop)["couples/" + c1],
            R"({"name":"Ann & Bo","n":1,"city":"Oslo"})");
  // It adds the column too: the kept value moves in, and its own edit of
  // the new field flows back.
  laptop.app->Exec("ALTER TABLE couples ADD COLUMN city TEXT");
  ASSERT_OK(laptop.Sync().status());
  EXPECT_EQ(laptop.app->One("SELECT city FROM couples"), "Oslo");
  laptop.app->Exec("UPDATE couples SET city = 'Bergen'");
  ASSERT_OK_AND_ASSIGN(SyncReport back, laptop.Sync());
  EXPECT_EQ(back.cases.pushed_updates, 1u);
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(phone.app->One("SELECT city FROM couples"), "Bergen");

  // A NOT NULL column with a default on the laptop only: a record that
  // lacks the field takes the default instead of failing the sync.
  laptop.app->Exec(
      "ALTER TABLE couples ADD COLUMN tier TEXT NOT NULL DEFAULT 'basic'");
  phone.app->Exec("INSERT INTO couples VALUES('" + c2 + "', 'Cy', 2, NULL)");
  ASSERT_OK(phone.Sync().status());
  // (The server's record has every column the phone has; a record that
  // lacks "tier" comes from a device without the column.)
  ASSERT_OK(laptop.Sync().status());
  EXPECT_EQ(laptop.app->One("SELECT tier FROM couples WHERE id = '" + c2 + "'"),
            "basic");
  EXPECT_EQ(laptop.app->One("SELECT count(*) FROM pragma_foreign_key_check"),
            "0");
  EXPECT_EQ(AppRows(phone), ServerRows(world.Server()));
}

// --- Randomized convergence ------------------------------------------------

uint64_t Seed() {
  if (const char* one = std::getenv("SYNCSTACK_SEED")) {
    return std::strtoull(one, nullptr, 10);
  }
  return 20261202;
}

int OpsPerDevice() {
  if (const char* n = std::getenv("SYNCSTACK_MAPPED_OPS")) return std::atoi(n);
  return 1000;
}

std::string UuidFrom(std::mt19937_64& rng) { return IdFrom(rng).ToString(); }

// A random existing id of `table` (column `id`), or "".
std::string AnyRow(AppDb& app, const std::string& table, const std::string& id,
                   std::mt19937_64& rng) {
  auto n = app.Count("SELECT count(*) FROM " + table);
  if (n <= 0) return "";
  auto v = app.One("SELECT " + id + " FROM " + table + " ORDER BY " + id +
                   " LIMIT 1 OFFSET " +
                   std::to_string(rng() % static_cast<uint64_t>(n)));
  return v.value_or("");
}

// One random SQL operation on the app's linked tables.
void RandomOp(AppDb& app, std::mt19937_64& rng) {
  const int kind = static_cast<int>(rng() % 100);
  const std::string n = std::to_string(rng() % 1000);
  if (kind < 20) {  // create a parent
    app.Exec("INSERT INTO couples VALUES('" + UuidFrom(rng) + "', 'c" + n +
             "', " + n + ")");
  } else if (kind < 50) {  // create a child of an existing parent
    std::string parent = AnyRow(app, "couples", "id", rng);
    if (parent.empty()) return;
    app.Exec("INSERT INTO budget VALUES('" + UuidFrom(rng) + "', '" + parent +
             "', 't" + n + "', " + n + ".5)");
  } else if (kind < 65) {  // edit a parent
    std::string id = AnyRow(app, "couples", "id", rng);
    if (!id.empty()) {
      app.Exec("UPDATE couples SET name = 'e" + n + "', n = " + n +
               " WHERE id = '" + id + "'");
    }
  } else if (kind < 80) {  // edit a child
    std::string id = AnyRow(app, "budget", "bid", rng);
    if (!id.empty()) {
      app.Exec("UPDATE budget SET title = 'e" + n + "', amount = " + n +
               " WHERE bid = '" + id + "'");
    }
  } else if (kind < 92) {  // delete a child
    std::string id = AnyRow(app, "budget", "bid", rng);
    if (!id.empty()) app.Exec("DELETE FROM budget WHERE bid = '" + id + "'");
  } else {  // delete a parent with its children, in one transaction
    std::string id = AnyRow(app, "couples", "id", rng);
    if (!id.empty()) {
      app.Exec("BEGIN; DELETE FROM budget WHERE couple_id = '" + id +
               "'; DELETE FROM couples WHERE id = '" + id + "'; COMMIT;");
    }
  }
}

// The versions a successful sync left acknowledged on `d`:
// "<collection>/<id>" -> timestamp.
void NoteAcknowledged(MappedDevice& d,
                      std::map<std::string, Timestamp>& acked) {
  for (const char* collection : {"couples", "budget"}) {
    auto it = d.store->Scan(collection, ScanOptions());
    for (; it->Valid(); it->Next()) {
      const ManifestEntry& e = it->entry();
      if (e.state != SyncState::kSynced) continue;
      Timestamp& ts = acked[std::string(collection) + "/" + e.id.ToString()];
      ts = std::max(ts, e.version.timestamp);
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  }
}

TEST(MappedSync, RandomSqlOnLinkedTablesConverges) {
  const uint64_t seed = Seed();
  const int ops = OpsPerDevice();
  std::printf(
      "MappedSync seed %llu, %d ops per device (replay with "
      "SYNCSTACK_SEED=%llu)\n",
      static_cast<unsigned long long>(seed), ops,
      static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  MappedWorld world;
  std::vector<MappedDevice*> devices = {&world.Add("a"), &world.Add("b"),
                                        &world.Add("c")};
  std::map<std::string, Timestamp> acked;
  for (int step = 0; step < ops * 3; ++step) {
    MappedDevice& d = *devices[rng() % devices.size()];
    RandomOp(*d.app, rng);
    if (rng() % 25 == 0) {
      MappedDevice& s = *devices[rng() % devices.size()];
      auto report = s.Sync();
      ASSERT_TRUE(report.ok()) << s.name << ": " << report.status().ToString();
      // The device's figure of its acknowledged records tracks the
      // server's through every kind of linked write (a changes-mode sync
      // that finds them apart reconciles, which converges but costs).
      EXPECT_EQ(report->fingerprint_mismatch, "")
          << s.name << " at step " << step;
      NoteAcknowledged(s, acked);
    }
  }
  // Faults stop: a few rounds bring everyone to the server's state
  // (a parent deleted on one device while another added a child to it
  // takes a round to delete the orphan everywhere).
  for (int round = 0; round < 4; ++round) {
    for (MappedDevice* d : devices) {
      auto report = d->Sync();
      ASSERT_TRUE(report.ok()) << d->name << ": " << report.status().ToString();
      EXPECT_EQ(report->fingerprint_mismatch, "")
          << d->name << " in round " << round;
      NoteAcknowledged(*d, acked);
    }
  }
  const auto server = ServerRows(world.Server());
  for (MappedDevice* d : devices) {
    EXPECT_EQ(AppRows(*d), server) << d->name;
    EXPECT_EQ(d->app->Count("SELECT count(*) FROM pragma_foreign_key_check"), 0)
        << d->name;
    EXPECT_EQ(d->app->Count("SELECT count(*) FROM _syncstack_parked"), 0)
        << d->name;
    EXPECT_EQ(d->app->One("PRAGMA integrity_check"), "ok");
  }
  // Nothing acknowledged lost: the server holds every acknowledged version
  // or a later one (a later write or delete ordered after it).
  std::map<std::string, Timestamp> server_ts;
  for (const char* collection : {"couples", "budget"}) {
    Status s = ScanRecords(
        world.Server(), collection, ScanOptions(), [&](const Record& r) {
          server_ts[std::string(collection) + "/" + r.id.ToString()] =
              r.version.timestamp;
        });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  for (const auto& [key, ts] : acked) {
    auto it = server_ts.find(key);
    ASSERT_NE(it, server_ts.end()) << key << " acknowledged, then lost";
    EXPECT_GE(it->second, ts) << key;
  }
  std::printf("MappedSync: %zu live rows, %zu acknowledged versions checked\n",
              server.size(), acked.size());
}

}  // namespace
}  // namespace syncstack::testing
