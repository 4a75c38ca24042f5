// Randomized convergence against a server on its own PostgreSQL tables:
// 3 devices on mapped SQLite tables make random SQL operations on linked
// tables (create parent, create child, edit, delete child, delete parent
// with its children) and sync in random order, while the server's own code
// makes random plain-SQL writes on its tables. At the end every device
// equals the server, foreign keys hold everywhere, nothing acknowledged is
// lost. Run through scripts/with-postgres.sh.
//
// Replay a failure: SYNCSTACK_SEED=<printed seed> ctest -R MappedPostgresRandom
// More operations:  SYNCSTACK_MAPPED_OPS=<total> ...  (default 1000)
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "pg_world.h"

namespace syncstack::testing {
namespace {

const std::vector<std::string> kCollections = {"couples", "budget"};

uint64_t Seed() {
  if (const char* one = std::getenv("SYNCSTACK_SEED")) {
    return std::strtoull(one, nullptr, 10);
  }
  return 20261216;
}

int TotalOps() {
  if (const char* n = std::getenv("SYNCSTACK_MAPPED_OPS")) return std::atoi(n);
  return 1000;
}

std::string Q(const std::string& s) { return "'" + s + "'"; }

// Where the random operations run: a device's SQLite tables or the
// server's PostgreSQL tables (rows owned by "alice").
class Tables {
 public:
  virtual ~Tables() = default;
  virtual void Exec(const std::string& sql) = 0;
  virtual int64_t Count(const std::string& sql) = 0;
  virtual std::string One(const std::string& sql) = 0;
  virtual bool server() const = 0;
};

class DeviceTables final : public Tables {
 public:
  explicit DeviceTables(AppDb& app) : app_(app) {}
  void Exec(const std::string& sql) override { app_.Exec(sql); }
  int64_t Count(const std::string& sql) override { return app_.Count(sql); }
  std::string One(const std::string& sql) override {
    return app_.One(sql).value_or("");
  }
  bool server() const override { return false; }

 private:
  AppDb& app_;
};

class ServerTables final : public Tables {
 public:
  explicit ServerTables(PgConn& sql) : sql_(sql) {}
  void Exec(const std::string& sql) override { sql_.Exec(sql); }
  int64_t Count(const std::string& sql) override { return sql_.Count(sql); }
  std::string One(const std::string& sql) override {
    return sql_.One(sql).value_or("");
  }
  bool server() const override { return true; }

 private:
  PgConn& sql_;
};

// A random existing id of `table`, or "".
std::string AnyRow(Tables& t, const std::string& table, const std::string& id,
                   std::mt19937_64& rng) {
  const std::string owned = t.server() ? " WHERE owner = 'alice'" : "";
  int64_t n = t.Count("SELECT count(*) FROM " + table + owned);
  if (n <= 0) return "";
  return t.One("SELECT CAST(" + id + " AS text) FROM " + table + owned +
               " ORDER BY " + id + " LIMIT 1 OFFSET " +
               std::to_string(rng() % static_cast<uint64_t>(n)));
}

// One random SQL operation on the linked tables of `t`.
void RandomOp(Tables& t, std::mt19937_64& rng) {
  const int kind = static_cast<int>(rng() % 100);
  const std::string n = std::to_string(rng() % 1000);
  const std::string owner = t.server() ? "'alice', " : "";
  const std::string paid =
      t.server() ? (rng() % 2 ? "true" : "false") : (rng() % 2 ? "1" : "0");
  if (kind < 20) {  // create a parent
    t.Exec("INSERT INTO couples VALUES(" + Q(IdFrom(rng).ToString()) + ", " +
           owner + "'c" + n + "', " + n + ")");
  } else if (kind < 50) {  // create a child of an existing parent
    std::string parent = AnyRow(t, "couples", "id", rng);
    if (parent.empty()) return;
    t.Exec("INSERT INTO budget VALUES(" + Q(IdFrom(rng).ToString()) + ", " +
           owner + Q(parent) + ", 't" + n + "', " + n + ".5, " + paid +
           ", '{\"n\": " + n + "}')");
  } else if (kind < 65) {  // edit a parent
    std::string id = AnyRow(t, "couples", "id", rng);
    if (!id.empty()) {
      t.Exec("UPDATE couples SET name = 'e" + n + "', n = " + n +
             " WHERE id = " + Q(id));
    }
  } else if (kind < 80) {  // edit a child
    std::string id = AnyRow(t, "budget", "bid", rng);
    if (!id.empty()) {
      t.Exec("UPDATE budget SET title = 'e" + n + "', amount = " + n +
             ", paid = " + paid + " WHERE bid = " + Q(id));
    }
  } else if (kind < 92) {  // delete a child
    std::string id = AnyRow(t, "budget", "bid", rng);
    if (!id.empty()) t.Exec("DELETE FROM budget WHERE bid = " + Q(id));
  } else {  // delete a parent with its children, in one transaction
    std::string id = AnyRow(t, "couples", "id", rng);
    if (!id.empty()) {
      t.Exec("BEGIN; DELETE FROM budget WHERE couple_id = " + Q(id) +
             "; DELETE FROM couples WHERE id = " + Q(id) + "; COMMIT;");
    }
  }
}

// The versions a successful sync left acknowledged on `d`.
void NoteAcknowledged(PgDevice& d, std::map<std::string, Timestamp>& acked) {
  for (const std::string& collection : kCollections) {
    auto it = d.store->Scan(collection, ScanOptions());
    for (; it->Valid(); it->Next()) {
      const ManifestEntry& e = it->entry();
      if (e.state != SyncState::kSynced) continue;
      Timestamp& ts = acked[collection + "/" + e.id.ToString()];
      ts = std::max(ts, e.version.timestamp);
    }
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  }
}

TEST(MappedPostgresRandom, DevicesAndServerSqlConverge) {
  const uint64_t seed = Seed();
  const int ops = TotalOps();
  std::printf(
      "MappedPostgresRandom seed %llu, %d ops (replay with "
      "SYNCSTACK_SEED=%llu)\n",
      static_cast<unsigned long long>(seed), ops,
      static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start({"alice"}));
  std::mt19937_64 rng(seed);
  std::vector<PgDevice*> devices = {&w.Add("a"), &w.Add("b"), &w.Add("c")};
  std::vector<std::unique_ptr<Tables>> tables;
  for (PgDevice* d : devices) {
    tables.push_back(std::make_unique<DeviceTables>(*d->app));
  }
  ServerTables server_sql(w.sql());
  const SyncMode modes[] = {SyncMode::kAuto, SyncMode::kChanges,
                            SyncMode::kReconcile, SyncMode::kFull};
  std::map<std::string, Timestamp> acked;
  for (int step = 0; step < ops; ++step) {
    // One write in ten by the server's own code.
    if (rng() % 10 == 0) {
      RandomOp(server_sql, rng);
    } else {
      RandomOp(*tables[rng() % tables.size()], rng);
    }
    if (rng() % 25 == 0) {
      PgDevice& s = *devices[rng() % devices.size()];
      s.options.mode = modes[rng() % 4];
      auto report = s.Sync();
      ASSERT_TRUE(report.ok()) << s.name << ": " << report.status().ToString();
      NoteAcknowledged(s, acked);
    }
  }
  // Writes stop: a few rounds bring everyone to the server's state.
  for (int round = 0; round < 4; ++round) {
    for (PgDevice* d : devices) {
      d->options.mode = SyncMode::kAuto;
      auto report = d->Sync();
      ASSERT_TRUE(report.ok()) << d->name << ": " << report.status().ToString();
      NoteAcknowledged(*d, acked);
    }
  }
  Store& server = w.Server();
  const auto server_rows = LiveRecords(server, kCollections);
  for (PgDevice* d : devices) {
    ExpectSameRecords(w.sql(), LiveRecords(*d->store, kCollections),
                      server_rows, d->name);
    EXPECT_EQ(d->app->Count("SELECT count(*) FROM pragma_foreign_key_check"), 0)
        << d->name;
    EXPECT_EQ(d->app->Count("SELECT count(*) FROM _syncstack_parked"), 0)
        << d->name;
  }
  // Every live record is a row of the server's tables, and back.
  EXPECT_EQ(w.sql().Count("SELECT count(*) FROM couples") +
                w.sql().Count("SELECT count(*) FROM budget"),
            static_cast<int64_t>(server_rows.size()));
  EXPECT_EQ(w.sql().Count("SELECT count(*) FROM \"" + w.syncstack_schema() +
                          "\".parked"),
            0);
  for (const std::string& collection : kCollections) {
    ExpectFigureHolds(server, collection);
  }
  // Nothing acknowledged lost.
  std::map<std::string, Timestamp> server_ts;
  for (const std::string& collection : kCollections) {
    Status s =
        ScanRecords(server, collection, ScanOptions(), [&](const Record& r) {
          server_ts[collection + "/" + r.id.ToString()] = r.version.timestamp;
        });
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  for (const auto& [key, ts] : acked) {
    auto it = server_ts.find(key);
    ASSERT_NE(it, server_ts.end()) << key << " acknowledged, then lost";
    EXPECT_GE(it->second, ts) << key;
  }
  std::printf("MappedPostgresRandom: %zu live rows, %zu acknowledged checked\n",
              server_rows.size(), acked.size());
}

}  // namespace
}  // namespace syncstack::testing
