// The mapped SQLite store on its own: capture of each kind of app write,
// echo suppression, backfill, types, parents-first order and parking,
// schema changes, and bad input (each a clear error, nothing changed).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "app_db.h"
#include "engine/world.h"
#include "syncstack/sqlite/mapped_store.h"

namespace syncstack::testing {
namespace {

constexpr const char* kTables = R"sql(
CREATE TABLE couples(id TEXT PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE budget(bid TEXT PRIMARY KEY,
                    couple_id TEXT REFERENCES couples(id),
                    title TEXT, amount REAL, paid BOOLEAN, n INTEGER,
                    tags JSON);
)sql";

constexpr const char* kSchema = R"({"collections": {
  "couples": {"id": "id", "table": "couples"},
  "budget": {"id": "bid", "table": "budget",
             "references": {"couple_id": "couples"}},
  "notes": {"id": "id"}
}})";

const std::string kC1 = "00000000-0000-4000-8000-000000000001";
const std::string kC2 = "00000000-0000-4000-8000-000000000002";
const std::string kB1 = "00000000-0000-4000-8000-0000000000b1";
const std::string kB2 = "00000000-0000-4000-8000-0000000000b2";

RecordId Id(const std::string& text) { return *RecordId::Parse(text); }

class MappedSqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_.path() / "app.db").string();
    app_ = std::make_unique<AppDb>(path_);
    app_->Exec(kTables);
  }

  Result<std::unique_ptr<Database>> Open(const char* schema = kSchema) {
    MappedSqliteOptions options;
    options.path = path_;
    if (schema != nullptr) {
      auto parsed = Schema::Parse(schema);
      EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
      options.schema = *parsed;
    }
    return OpenMappedSqliteDatabase(options);
  }

  void Attach() {
    auto db = Open();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto store = db_->OpenAccount(kLocalAccount);
    ASSERT_TRUE(store.ok());
    store_ = *store;
  }

  std::optional<Record> Get(const std::string& collection,
                            const std::string& id) {
    auto r = store_->GetOne(collection, Id(id));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : std::nullopt;
  }

  // A record as the engine applies one pulled from the server.
  static Record Pulled(const std::string& collection, const std::string& id,
                       const std::string& payload, Timestamp ts = 1000) {
    Record r;
    r.collection = collection;
    r.id = Id(id);
    r.version.timestamp = ts;
    r.state = SyncState::kSynced;
    r.base = ts;
    r.payload = payload;
    return r;
  }
  static Record Tombstone(const std::string& collection, const std::string& id,
                          Timestamp ts = 2000) {
    Record r = Pulled(collection, id, "", ts);
    r.deleted = true;
    return r;
  }

  Status Apply(ChangeBatch& batch) {
    return store_->Apply(WriteOptions(), batch);
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<AppDb> app_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Store> store_;
};

TEST_F(MappedSqliteTest, CapturesEachKindOfAppWrite) {
  Attach();
  app_->Exec("INSERT INTO couples VALUES('" + kC1 + "', 'Ann & Bo')");
  auto r = Get("couples", kC1);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kCreated);
  EXPECT_FALSE(r->deleted);
  EXPECT_EQ(r->payload, R"({"name":"Ann & Bo"})");
  const Timestamp created = r->version.timestamp;
  EXPECT_GT(created, 1'600'000'000'000);

  // Edits before the first sync keep it created.
  app_->Exec("UPDATE couples SET name = 'Ann and Bo' WHERE id = '" + kC1 + "'");
  r = Get("couples", kC1);
  EXPECT_EQ(r->state, SyncState::kCreated);
  EXPECT_EQ(r->payload, R"({"name":"Ann and Bo"})");
  EXPECT_GT(r->version.timestamp, created);

  // Once synced, an edit is a change on top of its base...
  ChangeBatch ack;
  ack.Put(Pulled("couples", kC1, R"({"name":"Ann and Bo"})", 5000));
  ASSERT_OK(Apply(ack));
  EXPECT_EQ(Get("couples", kC1)->state, SyncState::kSynced);
  app_->Exec("UPDATE couples SET name = 'A & B' WHERE id = '" + kC1 + "'");
  r = Get("couples", kC1);
  EXPECT_EQ(r->state, SyncState::kChanged);
  EXPECT_EQ(r->base, 5000);
  EXPECT_GT(r->version.timestamp, 5000);

  // ...and a delete a tombstone to push.
  app_->Exec("DELETE FROM couples WHERE id = '" + kC1 + "'");
  r = Get("couples", kC1);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->deleted);
  EXPECT_EQ(r->state, SyncState::kDeleted);
  EXPECT_EQ(r->payload, "");

  // Changing a row's id deletes the old id and creates the new one.
  app_->Exec("INSERT INTO couples VALUES('" + kC2 + "', 'Cy')");
  app_->Exec("UPDATE couples SET id = '" + kC1 + "' WHERE id = '" + kC2 + "'");
  EXPECT_EQ(Get("couples", kC2)->state, SyncState::kDeleted);
  EXPECT_FALSE(Get("couples", kC1)->deleted);
  EXPECT_EQ(Get("couples", kC1)->payload, R"({"name":"Cy"})");
}

TEST_F(MappedSqliteTest, PulledRowsAreNotCapturedAgain) {
  Attach();
  ChangeBatch pull;
  pull.Put(Pulled("couples", kC1, R"({"name":"Ann"})", 7000));
  ASSERT_OK(Apply(pull));
  EXPECT_EQ(app_->One("SELECT name FROM couples"), "Ann");
  auto r = Get("couples", kC1);
  EXPECT_EQ(r->state, SyncState::kSynced);
  EXPECT_EQ(r->version.timestamp, 7000);
  ChangeBatch drop;
  drop.Put(Tombstone("couples", kC1, 8000));
  ASSERT_OK(Apply(drop));
  EXPECT_EQ(app_->Count("SELECT count(*) FROM couples"), 0);
  r = Get("couples", kC1);
  EXPECT_TRUE(r->deleted);
  EXPECT_EQ(r->state, SyncState::kSynced);
  // Nothing is left flagged as being applied.
  EXPECT_EQ(app_->One("SELECT collection FROM _syncstack_applying"), "NULL");
}

TEST_F(MappedSqliteTest, RowsBeforeTheFirstAttachAreCreatedOffline) {
  app_->Exec("INSERT INTO couples VALUES('" + kC1 + "', 'Ann')");
  app_->Exec("INSERT INTO budget(bid, couple_id, title) VALUES('" + kB1 +
             "', '" + kC1 + "', 'flowers')");
  Attach();
  EXPECT_EQ(Get("couples", kC1)->state, SyncState::kCreated);
  auto b = Get("budget", kB1);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->state, SyncState::kCreated);
  EXPECT_EQ(
      b->payload,
      R"({"couple_id":")" + kC1 +
          R"(","title":"flowers","amount":null,"paid":null,"n":null,"tags":null})");
  // A second attach does not create them again.
  ChangeBatch ack;
  ack.Put(Pulled("couples", kC1, R"({"name":"Ann"})"));
  ASSERT_OK(Apply(ack));
  store_.reset();
  db_.reset();
  Attach();
  EXPECT_EQ(Get("couples", kC1)->state, SyncState::kSynced);
}

TEST_F(MappedSqliteTest, TypesRoundTrip) {
  Attach();
  ChangeBatch pull;
  pull.Put(Pulled("couples", kC1, R"({"name":"Ann"})"));
  const std::string payload =
      R"({"couple_id":")" + kC1 +
      R"(","title":"caf\u00e9 \"quoted\"","amount":12.75,"paid":true,"n":-9007199254740993,"tags":{"a":[1,2]}})";
  pull.Put(Pulled("budget", kB1, payload));
  ASSERT_OK(Apply(pull));
  EXPECT_EQ(app_->One("SELECT typeof(amount) || typeof(paid) || typeof(n) || "
                      "typeof(title) FROM budget"),
            "realintegerintegertext");
  EXPECT_EQ(app_->One("SELECT n FROM budget"), "-9007199254740993");
  EXPECT_EQ(app_->One("SELECT title FROM budget"), "café \"quoted\"");
  EXPECT_EQ(
      Get("budget", kB1)->payload,
      R"({"couple_id":")" + kC1 +
          R"(","title":"café \"quoted\"","amount":12.75,"paid":true,"n":-9007199254740993,"tags":{"a":[1,2]}})");
  // Values the app writes come back by their type.
  app_->Exec(
      "UPDATE budget SET amount = 0.1, paid = 0, n = NULL, tags = "
      "NULL, title = NULL");
  EXPECT_EQ(
      Get("budget", kB1)->payload,
      R"({"couple_id":")" + kC1 +
          R"(","title":null,"amount":0.1,"paid":false,"n":null,"tags":null})");
}

TEST_F(MappedSqliteTest, FieldsWithoutAColumnAreKept) {
  Attach();
  ChangeBatch pull;
  pull.Put(Pulled("couples", kC1, R"({"name":"Ann","city":"Oslo","k":[1]})"));
  ASSERT_OK(Apply(pull));
  EXPECT_EQ(Get("couples", kC1)->payload,
            R"({"name":"Ann","city":"Oslo","k":[1]})");
  // An app edit keeps them in what is pushed.
  app_->Exec("UPDATE couples SET name = 'Ann B'");
  EXPECT_EQ(Get("couples", kC1)->payload,
            R"({"name":"Ann B","city":"Oslo","k":[1]})");
}

TEST_F(MappedSqliteTest, UnmappedCollectionsLiveBeside) {
  Attach();
  ChangeBatch batch;
  batch.Put(Pulled("notes", kB1, R"({"text":"hi"})"));
  batch.SetMeta("sync/mark", "12");
  ASSERT_OK(Apply(batch));
  EXPECT_EQ(Get("notes", kB1)->payload, R"({"text":"hi"})");
  EXPECT_EQ(**store_->GetMeta("sync/mark"), "12");
  EXPECT_EQ(*store_->Collections(), (std::vector<std::string>{"notes"}));
}

TEST_F(MappedSqliteTest, ParentsFirstAndChildrenFirst) {
  Attach();
  // Child listed before its parent in the batch: written after it.
  ChangeBatch pull;
  pull.Put(Pulled("budget", kB1, R"({"couple_id":")" + kC1 + R"("})"));
  pull.Put(Pulled("couples", kC1, R"({"name":"Ann"})"));
  ASSERT_OK(Apply(pull));
  EXPECT_EQ(app_->Count("SELECT count(*) FROM budget"), 1);
  // Parent deleted before its child in the batch: the child goes first.
  ChangeBatch drop;
  drop.Put(Tombstone("couples", kC1));
  drop.Put(Tombstone("budget", kB1));
  ASSERT_OK(Apply(drop));
  EXPECT_EQ(app_->Count("SELECT count(*) FROM budget"), 0);
  EXPECT_EQ(app_->Count("SELECT count(*) FROM couples"), 0);
  EXPECT_EQ(app_->Count("SELECT count(*) FROM pragma_foreign_key_check"), 0);
}

TEST_F(MappedSqliteTest, AChildWaitsForItsParent) {
  Attach();
  ChangeBatch child;
  child.Put(Pulled("budget", kB1,
                   R"({"couple_id":")" + kC1 + R"(","title":"cake"})"));
  ASSERT_OK(Apply(child));  // the sync does not fail
  EXPECT_EQ(app_->Count("SELECT count(*) FROM budget"), 0);
  auto r = Get("budget", kB1);  // but the store holds the record
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, SyncState::kSynced);
  EXPECT_EQ(r->payload, R"({"couple_id":")" + kC1 + R"(","title":"cake"})");
  ChangeBatch parent;
  parent.Put(Pulled("couples", kC1, R"({"name":"Ann"})"));
  ASSERT_OK(Apply(parent));
  EXPECT_EQ(app_->One("SELECT title FROM budget"), "cake");
  EXPECT_EQ(app_->Count("SELECT count(*) FROM _syncstack_parked"), 0);
  EXPECT_EQ(Get("budget", kB1)->state, SyncState::kSynced);  // no echo
}

TEST_F(MappedSqliteTest, APulledParentDeleteTakesLocalChildrenAlong) {
  Attach();
  ChangeBatch pull;
  pull.Put(Pulled("couples", kC1, R"({"name":"Ann"})"));
  ASSERT_OK(Apply(pull));
  app_->Exec("INSERT INTO budget(bid, couple_id) VALUES('" + kB1 + "', '" +
             kC1 + "')");
  ChangeBatch drop;
  drop.Put(Tombstone("couples", kC1));
  ASSERT_OK(Apply(drop));
  EXPECT_EQ(app_->Count("SELECT count(*) FROM budget"), 0);
  // The child's delete is the device's own, pushed next sync.
  auto r = Get("budget", kB1);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->deleted);
  EXPECT_EQ(r->state, SyncState::kDeleted);
}

TEST_F(MappedSqliteTest, AnAddedColumnKeepsCaptureAndAdoptsKeptFields) {
  Attach();
  ChangeBatch pull;
  pull.Put(Pulled("couples", kC1, R"({"name":"Ann","city":"Oslo"})"));
  ASSERT_OK(Apply(pull));
  store_.reset();
  db_.reset();
  app_->Exec("ALTER TABLE couples ADD COLUMN city TEXT");
  Attach();
  EXPECT_EQ(app_->One("SELECT city FROM couples"), "Oslo");
  EXPECT_EQ(Get("couples", kC1)->payload, R"({"name":"Ann","city":"Oslo"})");
  EXPECT_EQ(Get("couples", kC1)->state, SyncState::kSynced);
  // Capture goes on, with the new field.
  app_->Exec("UPDATE couples SET city = 'Bergen'");
  auto r = Get("couples", kC1);
  EXPECT_EQ(r->state, SyncState::kChanged);
  EXPECT_EQ(r->payload, R"({"name":"Ann","city":"Bergen"})");
  app_->Exec("INSERT INTO couples VALUES('" + kC2 + "', 'Cy', 'Rome')");
  EXPECT_EQ(Get("couples", kC2)->payload, R"({"name":"Cy","city":"Rome"})");
}

TEST_F(MappedSqliteTest, ScanUnsyncedYieldsTheAppsWritesOnly) {
  Attach();
  ChangeBatch pull;
  pull.Put(Pulled("couples", kC1, R"({"name":"Ann"})"));
  ASSERT_OK(Apply(pull));
  app_->Exec("INSERT INTO couples VALUES('" + kC2 + "', 'Cy')");
  app_->Exec("INSERT INTO budget(bid, couple_id, title) VALUES('" + kB2 +
             "', '" + kC1 + "', 'cake'), ('" + kB1 + "', '" + kC1 +
             "', 'rings')");
  app_->Exec("DELETE FROM budget WHERE bid = '" + kB2 + "'");
  std::vector<std::string> seen;
  for (const char* collection : {"couples", "budget"}) {
    ASSERT_OK(store_->ScanUnsynced(collection, [&](const Record& r) {
      seen.push_back(r.id.ToString() + (r.deleted ? " deleted" : " ") +
                     r.payload);
    }));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      kC2 + R"( {"name":"Cy"})",
                      kB1 + R"( {"couple_id":")" + kC1 +
                          R"(","title":"rings","amount":null,"paid":null,)"
                          R"("n":null,"tags":null})",
                      kB2 + " deleted"}));
}

TEST_F(MappedSqliteTest, SchemaChangesWhileOpen) {
  Attach();
  app_->Exec("INSERT INTO couples VALUES('" + kC1 + "', 'Ann')");
  // Supported while the store is open: an index, a column with a default
  // (rows keep what the app's migration gave them; not pushed), a new
  // column the next write fills.
  app_->Exec("CREATE INDEX couples_by_name ON couples(name)");
  app_->Exec("ALTER TABLE couples ADD COLUMN size INTEGER NOT NULL DEFAULT 2");
  EXPECT_EQ(Get("couples", kC1)->payload, R"({"name":"Ann","size":2})");
  app_->Exec("UPDATE couples SET size = 3");
  EXPECT_EQ(Get("couples", kC1)->payload, R"({"name":"Ann","size":3})");
  ChangeBatch pull;
  pull.Put(Pulled("couples", kC2, R"({"name":"Cy"})"));
  ASSERT_OK(Apply(pull));
  EXPECT_EQ(app_->One("SELECT size FROM couples WHERE id = '" + kC2 + "'"),
            "2");
  // Refused at the next call into the store, with a clear error: a
  // renamed column (SQLite renames it in the triggers too), then a
  // renamed id column.
  app_->Exec("ALTER TABLE couples RENAME COLUMN size TO seats");
  auto r = store_->GetOne("couples", Id(kC1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(
                "column \"size\" was dropped or renamed since syncstack "
                "attached"),
            std::string::npos)
      << r.status().ToString();
  app_->Exec("ALTER TABLE couples RENAME COLUMN seats TO size");
  ASSERT_TRUE(store_->GetOne("couples", Id(kC1)).ok());
  app_->Exec("ALTER TABLE couples RENAME COLUMN id TO cid");
  r = store_->GetOne("couples", Id(kC1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("table \"couples\" has no column "
                                      "\"id\" (the id key)"),
            std::string::npos)
      << r.status().ToString();
}

TEST_F(MappedSqliteTest, ADroppedColumnIsRefused) {
  Attach();
  app_->Exec("INSERT INTO couples VALUES('" + kC1 + "', 'Ann')");
  // While attached, SQLite itself refuses: the capture triggers read every
  // synced column.
  const std::string err = app_->TryExec("ALTER TABLE budget DROP COLUMN tags");
  EXPECT_NE(err.find("_syncstack_budget_upd"), std::string::npos) << err;
  EXPECT_NE(err.find("no such column"), std::string::npos) << err;
  EXPECT_EQ(app_->Count("SELECT count(*) FROM pragma_table_info('budget') "
                        "WHERE name = 'tags'"),
            1);
  store_.reset();
  db_.reset();
  // Dropped by a rebuild of the table (its triggers go with it): the next
  // open refuses, and changes nothing.
  app_->Exec(
      "CREATE TABLE budget2(bid TEXT PRIMARY KEY, couple_id TEXT REFERENCES "
      "couples(id), title TEXT, amount REAL, paid BOOLEAN, n INTEGER);"
      "DROP TABLE budget; ALTER TABLE budget2 RENAME TO budget;");
  const auto before = app_->One(
      "SELECT group_concat(name) FROM sqlite_master WHERE type = 'trigger'");
  auto db = Open();
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(db.status().message().find("column \"tags\" was dropped"),
            std::string::npos)
      << db.status().ToString();
  EXPECT_EQ(app_->One("SELECT group_concat(name) FROM sqlite_master WHERE "
                      "type = 'trigger'"),
            before);
}

TEST_F(MappedSqliteTest, TriggersRebuiltAfterATableRebuild) {
  app_->Exec("INSERT INTO couples VALUES('" + kC1 + "', 'Ann')");
  Attach();
  store_.reset();
  db_.reset();
  // The 12-step ALTER: the triggers go with the old table.
  app_->Exec(
      "CREATE TABLE couples2(id TEXT PRIMARY KEY, name TEXT NOT NULL);"
      "INSERT INTO couples2 SELECT * FROM couples WHERE id <> '" +
      kC1 + "'; INSERT INTO couples2 VALUES('" + kC2 +
      "', 'Cy'); DROP TABLE couples; ALTER TABLE couples2 RENAME TO couples;");
  Attach();
  EXPECT_EQ(Get("couples", kC1)->state, SyncState::kDeleted);
  EXPECT_EQ(Get("couples", kC2)->state, SyncState::kCreated);
  app_->Exec("UPDATE couples SET name = 'Cyd'");
  EXPECT_EQ(Get("couples", kC2)->payload, R"({"name":"Cyd"})");
}

// Bad input: a clear error, and the database is as it was.
class MappedSqliteBadInput : public MappedSqliteTest {
 protected:
  void ExpectRefused(const char* schema, const std::string& want) {
    auto db = Open(schema);
    ASSERT_FALSE(db.ok()) << want;
    EXPECT_EQ(db.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(db.status().message().find(want), std::string::npos)
        << db.status().ToString();
    EXPECT_EQ(app_->Count("SELECT count(*) FROM sqlite_master WHERE name "
                          "LIKE '\\_syncstack%' ESCAPE '\\'"),
              0);
  }
};

TEST_F(MappedSqliteBadInput, MissingTable) {
  ExpectRefused(R"({"collections": {"gifts": {"id": "id", "table": "gifts"}}})",
                "collection \"gifts\": no table \"gifts\" in the database");
}

TEST_F(MappedSqliteBadInput, MissingIdColumn) {
  ExpectRefused(
      R"({"collections": {"couples": {"id": "cid", "table": "couples"}}})",
      "table \"couples\" has no column \"cid\"");
}

TEST_F(MappedSqliteBadInput, MissingReferenceColumn) {
  ExpectRefused(R"({"collections": {
      "couples": {"id": "id", "table": "couples"},
      "budget": {"id": "bid", "table": "budget",
                 "references": {"pair_id": "couples"}}}})",
                "table \"budget\" has no column \"pair_id\"");
}

TEST_F(MappedSqliteBadInput, NoPrimaryKey) {
  app_->Exec("CREATE TABLE loose(id TEXT, x TEXT)");
  ExpectRefused(R"({"collections": {"loose": {"id": "id", "table": "loose"}}})",
                "table \"loose\" has no primary key");
  app_->Exec("CREATE TABLE other(id TEXT, k TEXT PRIMARY KEY)");
  ExpectRefused(R"({"collections": {"other": {"id": "id", "table": "other"}}})",
                "its primary key is (k), not the id column \"id\"");
}

TEST_F(MappedSqliteBadInput, NonUuidIdBeforeAttach) {
  app_->Exec("INSERT INTO couples VALUES('couple-1', 'Ann')");
  ExpectRefused(kSchema,
                "table \"couples\" row id='couple-1': the id is not a UUID");
}

TEST_F(MappedSqliteBadInput, NoSchemaAndNothingAttached) {
  ExpectRefused(nullptr, "no mapped tables");
}

TEST_F(MappedSqliteTest, NonUuidIdWrittenByTheAppIsRefusedAtCapture) {
  Attach();
  app_->Exec("INSERT INTO couples VALUES('" + kC1 + "', 'Ann')");
  const auto before =
      app_->One("SELECT group_concat(id || ':' || state) FROM _syncstack_rows");
  // The app's own statement fails, naming the table and the id column;
  // nothing of it is written.
  const std::vector<std::string> writes = {
      "INSERT INTO couples VALUES('couple-1', 'Bad')",
      "INSERT INTO couples VALUES('ABCDEF00-0000-4000-8000-000000000001', "
      "'Upper')",
      "UPDATE couples SET id = 'couple-1' WHERE id = '" + kC1 + "'",
      "INSERT INTO couples VALUES(NULL, 'Null')"};
  for (const std::string& sql : writes) {
    const std::string err = app_->TryExec(sql);
    EXPECT_NE(err.find("table \"couples\": the id column \"id\" takes "
                       "lower-case UUIDs"),
              std::string::npos)
        << sql << ": " << err;
  }
  EXPECT_EQ(app_->Count("SELECT count(*) FROM couples"), 1);
  EXPECT_EQ(app_->One("SELECT id FROM couples"), kC1);
  EXPECT_EQ(app_->One("SELECT group_concat(id || ':' || state) FROM "
                      "_syncstack_rows"),
            before);
  // The other rows go on as before.
  EXPECT_EQ(Get("couples", kC1)->state, SyncState::kCreated);
}

TEST_F(MappedSqliteTest, NonUuidIdWrittenWithoutTriggersFailsTheNextOpen) {
  Attach();
  app_->Exec("INSERT INTO couples VALUES('" + kC1 + "', 'Ann')");
  store_.reset();
  db_.reset();
  // A table rebuilt by the app (the triggers go with the old one), and a
  // bad id written meanwhile.
  app_->Exec(
      "CREATE TABLE couples2(id TEXT PRIMARY KEY, name TEXT NOT NULL);"
      "INSERT INTO couples2 SELECT * FROM couples;"
      "INSERT INTO couples2 VALUES('ABC', 'Bad');"
      "PRAGMA foreign_keys=OFF; DROP TABLE couples;"
      "ALTER TABLE couples2 RENAME TO couples; PRAGMA foreign_keys=ON;");
  auto before = app_->One(
      "SELECT group_concat(id || state) FROM "
      "_syncstack_rows");
  auto db = Open();
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.status().message().find(
                "table \"couples\" row id='ABC': the id is not a UUID"),
            std::string::npos)
      << db.status().ToString();
  EXPECT_EQ(app_->One("SELECT group_concat(id || state) FROM "
                      "_syncstack_rows"),
            before);
  // Fixed by the app: it opens again, and the row is created offline.
  app_->Exec("UPDATE couples SET id = '" + kC2 + "' WHERE id = 'ABC'");
  Attach();
  EXPECT_EQ(Get("couples", kC2)->state, SyncState::kCreated);
  EXPECT_EQ(Get("couples", kC1)->state, SyncState::kCreated);
}

TEST_F(MappedSqliteTest, ReopensWithTheAttachedSchema) {
  Attach();
  app_->Exec("INSERT INTO couples VALUES('" + kC1 + "', 'Ann')");
  store_.reset();
  db_.reset();
  EXPECT_TRUE(*IsMappedSqliteDatabase(path_));
  auto db = Open(nullptr);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = (*db)->OpenAccount(kLocalAccount);
  ASSERT_TRUE(store.ok());
  EXPECT_TRUE((*store)->GetOne("couples", Id(kC1))->has_value());
  EXPECT_FALSE((*db)->OpenAccount("bob").ok());
}

}  // namespace
}  // namespace syncstack::testing
