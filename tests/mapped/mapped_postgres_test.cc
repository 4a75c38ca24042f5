// Mapped collections on the server's own PostgreSQL tables: devices on
// mapped SQLite tables sync with a server whose records are rows of its
// tables (column "owner" names the user), while other code writes those
// tables with plain SQL. Run through scripts/with-postgres.sh; skipped
// without PostgreSQL, failed under CI=true.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>

#include "pg_world.h"

namespace syncstack::testing {
namespace {

const std::vector<std::string> kCollections = {"couples", "budget"};
constexpr const char* kC1 = "11111111-1111-4111-8111-111111111111";
constexpr const char* kC2 = "33333333-3333-4333-8333-333333333333";
constexpr const char* kB1 = "22222222-2222-4222-8222-222222222222";
constexpr const char* kB2 = "44444444-4444-4444-8444-444444444444";

std::string Q(const std::string& s) { return "'" + s + "'"; }

// Ids for rows made in tests (a fixed seed: replayable).
std::mt19937_64& Rng() {
  static std::mt19937_64 rng(20261216);
  return rng;
}

// The account's write sequence on the server.
std::string Sequence(Store& server) {
  auto v = server.GetMeta("policy/seq");
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() && *v ? **v : "";
}

// A budget row's id made from n (rows other code writes in tests).
std::string NumberedId(int n) {
  const std::string digits = std::to_string(n);
  return "99999999-0000-4000-8000-" + std::string(12 - digits.size(), '0') +
         digits;
}

// A budget line of couple kC1 owned by alice, inserted by plain SQL.
std::string ServerBudgetRow(const std::string& id, int amount) {
  return "INSERT INTO budget VALUES(" + Q(id) + ", 'alice', " + Q(kC1) +
         ", 'server', " + std::to_string(amount) + ", false, NULL)";
}

void ExpectDeviceEqualsServer(PgWorld& w, PgDevice& d) {
  ExpectSameRecords(w.sql(), LiveRecords(*d.store, kCollections),
                    LiveRecords(w.Server(d.user), kCollections), d.name);
}

TEST(MappedPostgres, DevicePushesLandInTheServersTypedColumns) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  PgDevice& phone = w.Add("phone");
  phone.app->Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
                  ", 'Ann & Bo', 7)");
  phone.app->Exec(std::string("INSERT INTO budget VALUES(") + Q(kB1) + ", " +
                  Q(kC1) +
                  ", 'flowers', 120.5, 1, '{\"shop\": \"Rosa\", \"n\": 2}')");
  ASSERT_OK_AND_ASSIGN(SyncReport first, phone.Sync());
  EXPECT_EQ(first.cases.pushed_adds, 2u);
  // The rows are the server's own, typed, owned by the user.
  EXPECT_EQ(w.sql().One("SELECT owner || ' ' || name || ' ' || n FROM couples"),
            "alice Ann & Bo 7");
  EXPECT_EQ(w.sql().One("SELECT owner || ' ' || title || ' ' || amount || ' ' "
                        "|| paid || ' ' || (extra->>'shop') || ' ' || "
                        "(extra->'n')::int * 10 FROM budget WHERE bid = " +
                        Q(kB1)),
            "alice flowers 120.5 true Rosa 20");
  // Echo suppression: syncstack's own writes were not captured again, so
  // the two writes took two sequences.
  EXPECT_EQ(Sequence(w.Server()), "2");
  ExpectDeviceEqualsServer(w, phone);
  // Syncing again moves nothing.
  ASSERT_OK_AND_ASSIGN(SyncReport again, phone.Sync());
  EXPECT_EQ(again.cases.pushed_adds + again.cases.pushed_updates +
                again.cases.fetched_new + again.cases.pulled,
            0u);
  EXPECT_EQ(Sequence(w.Server()), "2");
}

TEST(MappedPostgres, PlainSqlWritesReachTheOwnersDevicesInEveryMode) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  PgDevice& phone = w.Add("phone");
  PgDevice& bobs = w.Add("bobs", "bob");
  ASSERT_OK(phone.Sync().status());
  ASSERT_OK(bobs.Sync().status());
  const SyncMode modes[] = {SyncMode::kChanges, SyncMode::kReconcile,
                            SyncMode::kFull, SyncMode::kAuto};
  int round = 0;
  for (SyncMode mode : modes) {
    SCOPED_TRACE(std::string(SyncModeName(mode)));
    phone.options.mode = mode;
    const std::string c =
        "5555555" + std::to_string(round) + "-1111-4111-8111-111111111111";
    const std::string b =
        "6666666" + std::to_string(round) + "-1111-4111-8111-111111111111";
    ++round;
    // Insert by the server's own code.
    w.sql().Exec("INSERT INTO couples VALUES(" + Q(c) +
                 ", 'alice', 'from the server', 1)");
    w.sql().Exec("INSERT INTO budget VALUES(" + Q(b) + ", 'alice', " + Q(c) +
                 ", 'cake', 80.25, false, NULL)");
    ExpectFigureHolds(w.Server(), "budget");
    ASSERT_OK_AND_ASSIGN(SyncReport pulled, phone.Sync());
    if (mode != SyncMode::kAuto) {
      EXPECT_EQ(pulled.mode, mode);
    }
    EXPECT_EQ(pulled.cases.fetched_new + pulled.changes_pulled > 0, true);
    // The figure the triggers kept agrees with the device's.
    EXPECT_EQ(pulled.fingerprint_mismatch, "");
    EXPECT_EQ(phone.app->One("SELECT title || ' ' || amount || ' ' || paid "
                             "FROM budget WHERE bid = " +
                             Q(b)),
              "cake 80.25 0");
    ExpectDeviceEqualsServer(w, phone);
    // Update.
    w.sql().Exec("UPDATE budget SET amount = 90, paid = true WHERE bid = " +
                 Q(b));
    ASSERT_OK(phone.Sync().status());
    EXPECT_EQ(phone.app->One("SELECT amount || ' ' || paid FROM budget WHERE "
                             "bid = " +
                             Q(b)),
              "90.0 1");
    // Delete, child then parent: a tombstone each, the device deletes.
    w.sql().Exec("DELETE FROM budget WHERE bid = " + Q(b) +
                 "; DELETE FROM couples WHERE id = " + Q(c));
    ExpectFigureHolds(w.Server(), "budget");
    ExpectFigureHolds(w.Server(), "couples");
    ASSERT_OK_AND_ASSIGN(SyncReport deleted, phone.Sync());
    EXPECT_EQ(deleted.fingerprint_mismatch, "");
    EXPECT_EQ(
        phone.app->Count("SELECT count(*) FROM budget WHERE bid = " + Q(b)), 0);
    EXPECT_EQ(
        phone.app->Count("SELECT count(*) FROM couples WHERE id = " + Q(c)), 0);
    ExpectDeviceEqualsServer(w, phone);
  }
  // Bob saw none of it; a row the server gives Bob reaches only Bob; a row
  // of an owner who is not a user is ignored.
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC2) +
               ", 'bob', 'bobs', 2)");
  w.sql().Exec(
      "INSERT INTO couples VALUES('77777777-1111-4111-8111-111111111111', "
      "'nobody', 'orphan', 3)");
  ASSERT_OK(phone.Sync().status());
  ASSERT_OK(bobs.Sync().status());
  EXPECT_EQ(phone.app->Count("SELECT count(*) FROM couples"), 0);
  EXPECT_EQ(bobs.app->One("SELECT name FROM couples"), "bobs");
  EXPECT_EQ(bobs.app->Count("SELECT count(*) FROM couples"), 1);
  ExpectDeviceEqualsServer(w, bobs);
  EXPECT_EQ(w.Server("nobody").GetMeta("policy/seq")->has_value(), false);
}

TEST(MappedPostgres, RowsPresentBeforeAttachingAreServedToTheirOwner) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.AddUsers({"alice", "bob"}));
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
               ", 'alice', 'old', 1), (" + Q(kC2) + ", 'bob', 'bobs', 2)");
  w.sql().Exec(std::string("INSERT INTO budget VALUES(") + Q(kB1) +
               ", 'alice', " + Q(kC1) + ", 'venue', 1500, true, '{\"a\": 1}')");
  ASSERT_OK(w.Start());
  PgDevice& phone = w.Add("phone");
  ASSERT_OK_AND_ASSIGN(SyncReport first, phone.Sync());
  EXPECT_EQ(first.cases.fetched_new, 2u);
  EXPECT_EQ(phone.app->One("SELECT title || ' ' || amount || ' ' || paid || "
                           "' ' || extra FROM budget"),
            "venue 1500.0 1 {\"a\":1}");
  EXPECT_EQ(phone.app->Count("SELECT count(*) FROM couples"), 1);
  ExpectDeviceEqualsServer(w, phone);
  // Opening again records nothing twice.
  const std::string seq = Sequence(w.Server());
  ASSERT_OK(OpenPostgresDatabase(w.Options()).status());
  EXPECT_EQ(Sequence(w.Server()), seq);
}

TEST(MappedPostgres, TypesRoundTrip) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  PgDevice& phone = w.Add("phone");
  PgDevice& laptop = w.Add("laptop");
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
               ", 'alice', 'Zoë \"quoted\" \\ back', -2147483648)");
  w.sql().Exec(std::string("INSERT INTO budget VALUES(") + Q(kB1) +
               ", 'alice', " + Q(kC1) +
               ", NULL, 0.1, NULL, '{\"nested\": {\"list\": [1, 2.5, "
               "\"x\"]}, \"t\": true}')");
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(phone.app->One("SELECT name || ' ' || n FROM couples"),
            "Zoë \"quoted\" \\ back -2147483648");
  EXPECT_EQ(phone.app->One("SELECT typeof(title) || ' ' || amount || ' ' || "
                           "typeof(paid) FROM budget"),
            "null 0.1 null");
  // The device edits every field; the server's columns take the types back.
  phone.app->Exec(
      "UPDATE budget SET title = 'é', amount = 1e-7, paid = 0, extra = "
      "'{\"k\": [null]}'");
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(w.sql().One("SELECT title || ' ' || (amount = 1e-7) || ' ' || "
                        "paid || ' ' || (extra = '{\"k\": [null]}'::jsonb) "
                        "FROM budget"),
            "é true false true");
  ASSERT_OK(laptop.Sync().status());
  ExpectDeviceEqualsServer(w, phone);
  ExpectDeviceEqualsServer(w, laptop);
}

TEST(MappedPostgres, ParentsFirstAndChildrenDeletedFirst) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  PgDevice& phone = w.Add("phone");
  PgDevice& laptop = w.Add("laptop");
  // Children inserted before their parent in the device's order of
  // writes still land (the server's foreign key holds on every write).
  phone.app->Exec("PRAGMA foreign_keys=OFF");
  phone.app->Exec(std::string("INSERT INTO budget VALUES(") + Q(kB1) + ", " +
                  Q(kC1) + ", 'a', 1, 0, NULL), (" + Q(kB2) + ", " + Q(kC1) +
                  ", 'b', 2, 0, NULL)");
  phone.app->Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
                  ", 'p', 1)");
  phone.app->Exec("PRAGMA foreign_keys=ON");
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(w.sql().Count("SELECT count(*) FROM budget"), 2);
  ASSERT_OK(laptop.Sync().status());
  // The laptop deletes the parent with its children: the server deletes
  // the children first.
  laptop.app->Exec(
      std::string("BEGIN; DELETE FROM budget; DELETE FROM "
                  "couples; COMMIT;"));
  ASSERT_OK(laptop.Sync().status());
  EXPECT_EQ(w.sql().Count("SELECT count(*) FROM budget"), 0);
  EXPECT_EQ(w.sql().Count("SELECT count(*) FROM couples"), 0);
  // Meanwhile the phone added a child to that parent: the server cannot
  // hold it in its table (the parent is gone); it waits in syncstack's
  // row, and the phone, learning the parent is gone, deletes it.
  phone.app->Exec(
      "INSERT INTO budget VALUES('88888888-1111-4111-8111-111111111111', " +
      Q(kC1) + ", 'late', 3, 0, NULL)");
  ASSERT_OK(phone.Sync().status());
  ASSERT_OK(phone.Sync().status());
  ASSERT_OK(laptop.Sync().status());
  EXPECT_EQ(phone.app->Count("SELECT count(*) FROM budget"), 0);
  EXPECT_EQ(w.sql().Count("SELECT count(*) FROM budget"), 0);
  EXPECT_EQ(phone.app->Count("SELECT count(*) FROM pragma_foreign_key_check"),
            0);
  ExpectDeviceEqualsServer(w, phone);
  ExpectDeviceEqualsServer(w, laptop);
}

TEST(MappedPostgres, ServerSideParentDeleteTakesItsChildren) {
  PgWorld w(
      "CREATE TABLE couples(id uuid PRIMARY KEY, owner text NOT NULL, "
      "name text NOT NULL, n integer);"
      "CREATE TABLE budget(bid text PRIMARY KEY, owner text NOT NULL, "
      "couple_id uuid NOT NULL REFERENCES couples(id) ON DELETE "
      "CASCADE, title text, amount double precision, paid boolean, "
      "extra jsonb);");
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  PgDevice& phone = w.Add("phone");
  phone.app->Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
                  ", 'p', 1)");
  phone.app->Exec(std::string("INSERT INTO budget VALUES(") + Q(kB1) + ", " +
                  Q(kC1) + ", 'a', 1, 0, NULL)");
  ASSERT_OK(phone.Sync().status());
  // The server's code deletes the parent; ON DELETE CASCADE takes the
  // child, and both deletes are captured.
  w.sql().Exec(std::string("DELETE FROM couples WHERE id = ") + Q(kC1));
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(phone.app->Count("SELECT count(*) FROM budget"), 0);
  EXPECT_EQ(phone.app->Count("SELECT count(*) FROM couples"), 0);
  ExpectDeviceEqualsServer(w, phone);
}

TEST(MappedPostgres, AddingANullableColumnKeepsSyncing) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  PgDevice& phone = w.Add("phone");
  phone.app->Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
                  ", 'p', 1)");
  phone.app->Exec(std::string("INSERT INTO budget VALUES(") + Q(kB1) + ", " +
                  Q(kC1) + ", 'a', 1, 0, NULL)");
  ASSERT_OK(phone.Sync().status());
  w.sql().Exec("ALTER TABLE budget ADD COLUMN note text");
  // Capture goes on, and the new field flows to the device (which keeps
  // it for lack of a column) and back.
  w.sql().Exec("UPDATE budget SET note = 'call the florist', amount = 5");
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(phone.app->One("SELECT amount FROM budget"), "5.0");
  phone.app->Exec("UPDATE budget SET title = 'edited'");
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(w.sql().One("SELECT title || ' / ' || note FROM budget"),
            "edited / call the florist");
  // A new row from the device without the field: the column stays NULL.
  phone.app->Exec(std::string("INSERT INTO budget VALUES(") + Q(kB2) + ", " +
                  Q(kC1) + ", 'b', 2, 0, NULL)");
  ASSERT_OK(phone.Sync().status());
  EXPECT_EQ(w.sql().One("SELECT coalesce(note, 'null') FROM budget WHERE "
                        "bid = " +
                        Q(kB2)),
            "null");
  ExpectDeviceEqualsServer(w, phone);
}

TEST(MappedPostgres, AnotherUsersIdIsRefusedAndNothingChanges) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
               ", 'bob', 'bobs', 2)");
  PgDevice& phone = w.Add("phone");
  phone.app->Exec(std::string("INSERT INTO couples VALUES(") + Q(kC2) +
                  ", 'mine', 1)");
  phone.app->Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
                  ", 'stolen', 9)");
  const std::string seq = Sequence(w.Server());
  auto report = phone.Sync();
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().ToString().find("another user"), std::string::npos)
      << report.status().ToString();
  EXPECT_EQ(w.sql().One("SELECT owner || ' ' || name || ' ' || n FROM couples "
                        "WHERE id = " +
                        Q(kC1)),
            "bob bobs 2");
  EXPECT_EQ(w.sql().Count("SELECT count(*) FROM couples"), 1);
  EXPECT_EQ(Sequence(w.Server()), seq);
  EXPECT_EQ(LiveRecords(w.Server(), kCollections).size(), 0u);
  // Bob's device still sees his row as it was.
  PgDevice& bobs = w.Add("bobs", "bob");
  ASSERT_OK(bobs.Sync().status());
  EXPECT_EQ(bobs.app->One("SELECT name FROM couples"), "bobs");
}

TEST(MappedPostgres, PlainSqlDuringSyncsTakesItsOwnSequences) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start({"alice"}));
  PgDevice& phone = w.Add("phone");
  PgDevice& laptop = w.Add("laptop");
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
               ", 'alice', 'p', 0)");
  ASSERT_OK(phone.Sync().status());
  ASSERT_OK(laptop.Sync().status());
  // The server's code keeps writing while the devices push and pull.
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    PgConn other(w.conninfo());
    for (int i = 0; !stop.load() && i < 400; ++i) {
      other.Exec(ServerBudgetRow(NumberedId(i), i));
      other.Exec("UPDATE couples SET n = n + 1 WHERE id = " + Q(kC1));
      written.fetch_add(1);
    }
  });
  for (int round = 0; round < 8; ++round) {
    for (PgDevice* d : {&phone, &laptop}) {
      d->app->Exec("INSERT INTO budget VALUES('" + IdFrom(Rng()).ToString() +
                   "', " + Q(kC1) + ", '" + d->name + "', " +
                   std::to_string(round) + ", 0, NULL)");
      auto report = d->Sync();
      ASSERT_TRUE(report.ok()) << d->name << ": " << report.status().ToString();
    }
  }
  stop = true;
  writer.join();
  EXPECT_GT(written.load(), 0);
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK(phone.Sync().status());
    ASSERT_OK(laptop.Sync().status());
  }
  ExpectDeviceEqualsServer(w, phone);
  ExpectDeviceEqualsServer(w, laptop);
  ExpectFigureHolds(w.Server(), "budget");
  ExpectFigureHolds(w.Server(), "couples");
  // Every write took a sequence of its own: no two rows share one, and
  // the account's sequence is the highest.
  const std::string s = "\"" + w.syncstack_schema() + "\"";
  EXPECT_EQ(w.sql().Count("SELECT count(*) - count(DISTINCT base) FROM " + s +
                          ".records WHERE account = 'alice'"),
            0);
  EXPECT_EQ(w.sql().One("SELECT max(base)::text FROM " + s +
                        ".records WHERE account = 'alice'"),
            Sequence(w.Server()));
  EXPECT_EQ(phone.app->One("SELECT n FROM couples"),
            std::to_string(written.load()));
}

// The changes endpoint stores a missing figure from a scan, in a batch of
// that figure alone (it touches no mapped collection); a capture that
// committed between that scan and the batch has kept the figure since,
// and the scan's must not replace it.
TEST(MappedPostgres, AScannedFigureNeverReplacesOneACaptureKept) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start({"alice"}));
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
               ", 'alice', 'p', 0)");
  Store& server = w.Server();
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> before,
                       server.GetMeta("figure/budget"));
  ASSERT_FALSE(before.has_value());
  const std::string scanned = SetFingerprint().Encode();  // no budget rows
  w.sql().Exec(ServerBudgetRow(NumberedId(1), 1));
  ChangeBatch batch;
  batch.SetMeta("figure/budget", scanned);
  ASSERT_OK(server.Apply(WriteOptions{}, batch));
  ExpectFigureHolds(server, "budget");
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> kept,
                       server.GetMeta("figure/budget"));
  EXPECT_EQ(kept.value_or("").substr(0, 2), "1:");
  // A device's pull is answered with the kept figure: no false mismatch.
  PgDevice& phone = w.Add("phone");
  ASSERT_OK_AND_ASSIGN(SyncReport report, phone.Sync());
  EXPECT_EQ(report.fingerprint_mismatch, "");
  ExpectDeviceEqualsServer(w, phone);
}

// Several connections insert budget rows by plain SQL while two devices
// sync; each round starts with the figure not kept (an account written
// before figures were), so the changes endpoint's first scan races the
// captures. Whichever stores the figure first, it ends up exact.
TEST(MappedPostgres, FiguresHoldUnderConcurrentWritersAndSyncs) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start({"alice"}));
  PgDevice& phone = w.Add("phone");
  PgDevice& laptop = w.Add("laptop");
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
               ", 'alice', 'p', 0)");
  const std::string s = "\"" + w.syncstack_schema() + "\"";
  constexpr int kRounds = 8, kWriters = 3, kRowsEach = 60;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    w.sql().Exec("DELETE FROM " + s +
                 ".meta WHERE account = 'alice' AND key = 'figure/budget'");
    std::atomic<bool> stop{false};
    std::vector<std::thread> writers;
    for (int k = 0; k < kWriters; ++k) {
      writers.emplace_back([&, k] {
        PgConn other(w.conninfo());
        for (int i = 0; !stop.load() && i < kRowsEach; ++i) {
          other.Exec(
              ServerBudgetRow(NumberedId(round * 10000 + k * 1000 + i), i));
        }
      });
    }
    bool synced = true;
    for (int i = 0; i < 3 && synced; ++i) {
      for (PgDevice* d : {&phone, &laptop}) {
        auto report = d->Sync();
        synced = synced && report.ok();
        EXPECT_TRUE(report.ok())
            << d->name << ": " << report.status().ToString();
      }
    }
    stop = true;
    for (std::thread& t : writers) t.join();
    ASSERT_TRUE(synced);
    ExpectFigureHolds(w.Server(), "budget");
  }
  for (PgDevice* d : {&phone, &laptop}) {
    ASSERT_OK_AND_ASSIGN(SyncReport report, d->Sync());
    EXPECT_EQ(report.fingerprint_mismatch, "") << d->name;
    ExpectDeviceEqualsServer(w, *d);
  }
}

// Checks, after one statement by other code, that every write of each
// user took a sequence of its own (the highest is the account's), that the
// figures agree with a scan, that each user's live records are its rows,
// and that the users' devices end up with them.
void ExpectBulkCaptured(PgWorld& w, const std::string& stage) {
  SCOPED_TRACE(stage);
  const std::string s = "\"" + w.syncstack_schema() + "\"";
  for (PgDevice* d : {w.devices()[0].get(), w.devices()[1].get()}) {
    const std::string user = Q(d->user);
    EXPECT_EQ(w.sql().Count("SELECT count(*) - count(DISTINCT base) FROM " + s +
                            ".records WHERE account = " + user),
              0);
    EXPECT_EQ(w.sql().One("SELECT max(base)::text FROM " + s +
                          ".records WHERE account = " + user),
              Sequence(w.Server(d->user)));
    ExpectFigureHolds(w.Server(d->user), "couples");
    const int64_t rows =
        w.sql().Count("SELECT count(*) FROM couples WHERE owner = " + user);
    EXPECT_EQ(w.sql().Count("SELECT count(*) FROM " + s +
                            ".records WHERE account = " + user +
                            " AND collection = 'couples' AND NOT deleted"),
              rows);
    ASSERT_OK_AND_ASSIGN(SyncReport report, d->Sync());
    EXPECT_EQ(report.fingerprint_mismatch, "");
    EXPECT_EQ(d->app->Count("SELECT count(*) FROM couples"), rows);
    ExpectDeviceEqualsServer(w, *d);
  }
  EXPECT_EQ(w.Server("nobody").GetMeta("policy/seq")->has_value(), false);
}

TEST(MappedPostgres, BulkStatementsByOtherCodeGiveEachRowItsOwnWrite) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  PgDevice& phone = w.Add("phone");
  w.Add("bobs", "bob");
  ASSERT_OK(phone.Sync().status());
  // 500 rows in one statement: alice's, bob's and those of an owner who is
  // not a user.
  w.sql().Exec(
      "INSERT INTO couples SELECT md5(g::text)::uuid, CASE g % 5 WHEN 0 "
      "THEN 'nobody' WHEN 1 THEN 'bob' WHEN 2 THEN 'bob' ELSE 'alice' END, "
      "'bulk ' || g, g FROM generate_series(1, 500) g");
  EXPECT_EQ(Sequence(w.Server("alice")), "200");
  EXPECT_EQ(Sequence(w.Server("bob")), "200");
  ExpectBulkCaptured(w, "insert");
  // One update of every row that moves some of alice's rows to bob (a
  // delete for alice, a write for bob): alice's 200 rows take 200
  // sequences, bob's 200 plus the 50 moved take 250.
  w.sql().Exec(
      "UPDATE couples SET name = name || ' again', owner = CASE WHEN "
      "owner = 'alice' AND n % 10 = 3 THEN 'bob' ELSE owner END");
  EXPECT_EQ(Sequence(w.Server("alice")), "400");
  EXPECT_EQ(Sequence(w.Server("bob")), "450");
  EXPECT_EQ(phone.app->Count("SELECT count(*) FROM couples"), 200);
  ExpectBulkCaptured(w, "update");
  EXPECT_EQ(phone.app->Count("SELECT count(*) FROM couples"), 150);
  // One delete across the owners: a tombstone each.
  const int64_t alices = w.sql().Count(
      "SELECT count(*) FROM couples WHERE n % 3 = 0 AND owner = 'alice'");
  w.sql().Exec("DELETE FROM couples WHERE n % 3 = 0");
  EXPECT_EQ(Sequence(w.Server("alice")), std::to_string(400 + alices));
  ExpectBulkCaptured(w, "delete");
}

TEST(MappedPostgres, RemovingAUserRemovesItsRowsOnly) {
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.Start());
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
               ", 'alice', 'a', 1), (" + Q(kC2) + ", 'bob', 'b', 2)");
  w.sql().Exec(std::string("INSERT INTO budget VALUES(") + Q(kB2) +
               ", 'bob', " + Q(kC2) + ", 't', 1, true, NULL)");
  ASSERT_OK(RemoveUser(w.server().database(), "bob"));
  EXPECT_EQ(w.sql().One("SELECT string_agg(owner, ',') FROM couples"), "alice");
  EXPECT_EQ(w.sql().Count("SELECT count(*) FROM budget"), 0);
  EXPECT_EQ(LiveRecords(w.Server("bob"), kCollections).size(), 0u);
  EXPECT_EQ(LiveRecords(w.Server("alice"), kCollections).size(), 1u);
}

// Opening with `tables` and the default schema fails with a message
// containing `want`, and creates nothing.
void ExpectRefused(const std::string& tables, const std::string& want,
                   const std::string& schema_json = kPgSchema) {
  PgWorld w(tables, schema_json);
  if (!w.ok()) return;
  auto db = OpenPostgresDatabase(w.Options());
  ASSERT_FALSE(db.ok()) << want;
  EXPECT_EQ(db.status().code(), Status::Code::kInvalidArgument)
      << db.status().ToString();
  EXPECT_NE(db.status().ToString().find(want), std::string::npos)
      << db.status().ToString();
  EXPECT_EQ(w.sql().One("SELECT count(*) FROM information_schema.schemata "
                        "WHERE schema_name = '" +
                        w.syncstack_schema() + "'"),
            "0");
  EXPECT_EQ(
      w.sql().Count("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON "
                    "c.oid = t.tgrelid WHERE NOT t.tgisinternal AND "
                    "c.relnamespace = current_schema()::regnamespace"),
      0);
}

TEST(MappedPostgres, BadSchemasAreRefusedAndChangeNothing) {
  const std::string couples =
      "CREATE TABLE couples(id uuid PRIMARY KEY, owner text NOT NULL, "
      "name text NOT NULL, n integer);";
  ExpectRefused(couples, "table \"budget\" does not exist");
  ExpectRefused(couples +
                    "CREATE TABLE budget(bid text, owner text, couple_id "
                    "uuid, title text, amount real, paid boolean, extra "
                    "jsonb);",
                "has no primary key");
  ExpectRefused(couples +
                    "CREATE TABLE budget(bid text PRIMARY KEY, couple_id "
                    "uuid, title text);",
                "has no column \"owner\" (the account column)");
  ExpectRefused(
      couples + "CREATE TABLE budget(bid text PRIMARY KEY, owner text);",
      "has no column \"couple_id\" (a reference)");
  ExpectRefused(couples +
                    "CREATE TABLE budget(bid text, owner text, couple_id "
                    "uuid, PRIMARY KEY (bid, owner));",
                "its primary key is not the id column");
  ExpectRefused(couples +
                    "CREATE TABLE budget(bid text PRIMARY KEY, owner text, "
                    "couple_id uuid, photo bytea);",
                "column \"photo\" is bytea");
  // An id that is not a UUID in a row already there.
  PgWorld w;
  if (!w.ok()) return;
  ASSERT_OK(w.AddUsers({"alice"}));
  w.sql().Exec(std::string("INSERT INTO couples VALUES(") + Q(kC1) +
               ", 'alice', 'p', 1)");
  w.sql().Exec(std::string("INSERT INTO budget VALUES('line-1', 'alice', ") +
               Q(kC1) + ", 't', 1, true, NULL)");
  auto db = OpenPostgresDatabase(w.Options());
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().ToString().find(
                "table \"budget\" row bid='line-1': the id is not a UUID"),
            std::string::npos)
      << db.status().ToString();
  EXPECT_EQ(
      w.sql().Count("SELECT count(*) FROM pg_trigger t JOIN pg_class c ON "
                    "c.oid = t.tgrelid WHERE NOT t.tgisinternal AND "
                    "c.relnamespace = current_schema()::regnamespace"),
      0);
}

}  // namespace
}  // namespace syncstack::testing
