// SQLite store behaviour the conformance suite cannot express: opening
// foreign or newer files, locking by another connection, WAL mode, and the
// integrity of the file after a workload.
#include "syncstack/sqlite/sqlite_store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "syncstack/conformance/store_conformance.h"
#include "syncstack/store.h"

namespace syncstack {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "syncstack-sqlite-XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/store.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Result<std::unique_ptr<Database>> Open(bool create = true,
                                         int busy_ms = 5000) {
    SqliteDatabaseOptions options;
    options.path = path_;
    options.create_if_missing = create;
    options.busy_timeout = std::chrono::milliseconds(busy_ms);
    return OpenSqliteDatabase(options);
  }

  // Runs SQL on a separate, raw connection to the same file.
  void Raw(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
  }

  std::string RawText(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::string out;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text ? reinterpret_cast<const char*>(text) : "";
    } else {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  std::string dir_;
  std::string path_;
};

Record MakeRecord(std::string collection, uint8_t n, std::string payload) {
  Record r;
  r.collection = std::move(collection);
  std::array<uint8_t, 16> b{};
  b[0] = n;
  r.id = RecordId(b);
  r.version.timestamp = n;
  r.payload = std::move(payload);
  return r;
}

TEST_F(SqliteStoreTest, CreatesWalDatabaseWithSchemaVersion) {
  {
    auto db = Open();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto store = (*db)->OpenAccount("local");
    ASSERT_TRUE(store.ok());
    ChangeBatch b;
    b.Put(MakeRecord("todo", 1, "{}"));
    ASSERT_TRUE((*store)->Apply(WriteOptions(), b).ok());
    EXPECT_EQ(RawText("PRAGMA journal_mode"), "wal");
  }
  EXPECT_EQ(RawText("PRAGMA user_version"), "2");
  EXPECT_EQ(RawText("PRAGMA application_id"), std::to_string(0x53594e43));
  EXPECT_EQ(RawText("PRAGMA integrity_check"), "ok");
  // Reopening a current database works.
  EXPECT_TRUE(Open(false).ok());
}

// A version 1 file (no indexes for ScanSince / ScanUnsynced) gets them on
// open, built from its rows; opening again changes nothing.
TEST_F(SqliteStoreTest, MigratesVersionOneToTheIndexes) {
  {
    auto db = Open();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto store = (*db)->OpenAccount("local");
    ASSERT_TRUE(store.ok());
    ChangeBatch b;
    Record later = MakeRecord("todo", 1, "{}");
    later.base = 9;
    Record created = MakeRecord("todo", 2, "{}");
    created.base = 4;
    created.state = SyncState::kCreated;
    b.Put(later);
    b.Put(created);
    ASSERT_TRUE((*store)->Apply(WriteOptions(), b).ok());
  }
  Raw("DROP INDEX records_by_base; DROP INDEX records_unsynced; "
      "PRAGMA user_version=1");
  EXPECT_EQ(RawText("SELECT count(*) FROM sqlite_master WHERE type='index' "
                    "AND name LIKE 'records_%'"),
            "0");
  for (int open = 0; open < 2; ++open) {
    auto db = Open();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_EQ(RawText("PRAGMA user_version"), "2");
    EXPECT_EQ(RawText("SELECT count(*) FROM sqlite_master WHERE type='index' "
                      "AND name LIKE 'records_%'"),
              "2");
    auto store = (*db)->OpenAccount("local");
    ASSERT_TRUE(store.ok());
    std::vector<uint8_t> since, unsynced;
    ASSERT_TRUE((*store)
                    ->ScanSince("todo", 0, 10,
                                [&](const Record& r) {
                                  since.push_back(r.id.bytes()[0]);
                                })
                    .ok());
    ASSERT_TRUE((*store)
                    ->ScanUnsynced("todo",
                                   [&](const Record& r) {
                                     unsynced.push_back(r.id.bytes()[0]);
                                   })
                    .ok());
    EXPECT_EQ(since, (std::vector<uint8_t>{2, 1}));
    EXPECT_EQ(unsynced, (std::vector<uint8_t>{2}));
  }
  // The queries use the indexes, not a walk of the table.
  auto plan = [&](const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* stmt = nullptr;
    std::string detail;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 3);
      if (text != nullptr) detail += reinterpret_cast<const char*>(text);
      detail += "; ";
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return detail;
  };
  std::string since = plan(
      "EXPLAIN QUERY PLAN SELECT id FROM records WHERE cid=1 AND "
      "(base, id) > (0, x'00') ORDER BY base, id LIMIT 5");
  EXPECT_NE(since.find("records_by_base"), std::string::npos) << since;
  std::string unsynced = plan(
      "EXPLAIN QUERY PLAN SELECT id FROM records WHERE cid=1 AND "
      "state <> 0 AND id > x'' ORDER BY id LIMIT 5");
  EXPECT_NE(unsynced.find("records_unsynced"), std::string::npos) << unsynced;
}

TEST_F(SqliteStoreTest, RefusesNewerSchemaVersion) {
  ASSERT_TRUE(Open().ok());
  Raw("PRAGMA user_version=99");
  auto db = Open();
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kCorruption)
      << db.status().ToString();
  EXPECT_NE(db.status().message().find("99"), std::string::npos);
}

TEST_F(SqliteStoreTest, RefusesFileThatIsNotADatabase) {
  std::ofstream(path_) << "this is not an SQLite database, just some text "
                          "that is long enough to fill a header.............";
  auto db = Open();
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kCorruption)
      << db.status().ToString();
}

TEST_F(SqliteStoreTest, RefusesForeignSqliteDatabase) {
  Raw("CREATE TABLE people(name TEXT)");
  auto db = Open();
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kCorruption)
      << db.status().ToString();
  EXPECT_EQ(RawText("SELECT count(*) FROM sqlite_master"), "1");  // untouched
}

TEST_F(SqliteStoreTest, MissingFileWithoutCreate) {
  auto db = Open(/*create=*/false);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kIOError)
      << db.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(SqliteStoreTest, EmptyPathIsInvalid) {
  SqliteDatabaseOptions options;
  auto db = OpenSqliteDatabase(options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kInvalidArgument);
}

TEST_F(SqliteStoreTest, WriteLockHeldElsewhereIsUnavailable) {
  auto db = Open(true, /*busy_ms=*/50);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = std::move((*db)->OpenAccount("local")).value();
  ChangeBatch b;
  b.Put(MakeRecord("todo", 1, "{}"));
  b.SetMeta("checkpoint", "1");

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr),
            SQLITE_OK);
  Status s = store->Apply(WriteOptions(), b);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
  // Reads still work while another connection writes (WAL).
  auto meta = store->GetMeta("checkpoint");
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_FALSE(meta->has_value());
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(other);
  // And the same batch goes through once the lock is released.
  s = store->Apply(WriteOptions(), b);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(store->GetMeta("checkpoint")->value_or(""), "1");
}

TEST_F(SqliteStoreTest, NoOrphanPayloadsAfterRandomWorkload) {
  const uint64_t seed = 77;
  std::mt19937_64 rng(seed);
  {
    auto db = Open();
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    auto store = std::move((*db)->OpenAccount("local")).value();
    const std::string payloads[] = {"", "{}", std::string(5000, 'y')};
    for (int round = 0; round < 200; ++round) {
      ChangeBatch b;
      for (int i = 0; i < 10; ++i) {
        uint8_t n = static_cast<uint8_t>(rng() % 30);
        if (rng() % 3 == 0) {
          b.Erase("todo", MakeRecord("todo", n, "").id);
        } else {
          Record r = MakeRecord("todo", n, payloads[rng() % 3]);
          r.deleted = r.payload.empty();
          std::optional<Expect> expect;
          if (rng() % 10 == 0) expect = Expect{};  // often fails
          b.Put(std::move(r), expect);
        }
      }
      Status s = store->Apply(WriteOptions{false}, b);
      ASSERT_TRUE(s.ok() || s.code() == Status::Code::kConflict)
          << s.ToString();
    }
  }
  EXPECT_EQ(RawText("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(RawText("SELECT count(*) FROM payloads WHERE pid NOT IN "
                    "(SELECT pid FROM records WHERE pid IS NOT NULL)"),
            "0");
  EXPECT_EQ(RawText("SELECT count(*) FROM records AS r WHERE pid IS NOT NULL"
                    " AND NOT EXISTS (SELECT 1 FROM payloads AS p"
                    " WHERE p.pid = r.pid)"),
            "0");
}

TEST_F(SqliteStoreTest, TwoDatabaseObjectsOnOneFile) {
  // Two handles (as two processes would have) see each other's commits.
  auto a = Open();
  auto b = Open();
  ASSERT_TRUE(a.ok() && b.ok());
  auto sa = std::move((*a)->OpenAccount("local")).value();
  auto sb = std::move((*b)->OpenAccount("local")).value();
  ChangeBatch put;
  put.Put(MakeRecord("todo", 1, "{\"from\":\"a\"}"));
  ASSERT_TRUE(sa->Apply(WriteOptions(), put).ok());
  auto got = sb->GetOne("todo", MakeRecord("todo", 1, "").id);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->payload, "{\"from\":\"a\"}");
  // b creates a collection a has not seen; a then reads and writes it.
  ChangeBatch other;
  other.Put(MakeRecord("notes", 2, "{}"));
  ASSERT_TRUE(sb->Apply(WriteOptions(), other).ok());
  EXPECT_EQ(sa->Collections()->size(), 2u);
  ChangeBatch more;
  more.Put(MakeRecord("notes", 3, "{}"));
  ASSERT_TRUE(sa->Apply(WriteOptions(), more).ok());
  auto it = sb->Scan("notes", ScanOptions());
  int n = 0;
  for (; it->Valid(); it->Next()) ++n;
  EXPECT_EQ(n, 2);
}

// The Store conformance kit over a database file and over ":memory:".
using conformance::StoreConformance;
using conformance::StoreFactory;

Result<std::unique_ptr<Database>> OpenSqliteFile(const std::string& dir,
                                                 bool create) {
  SqliteDatabaseOptions options;
  options.path = dir + "/store.db";
  options.create_if_missing = create;
  return OpenSqliteDatabase(options);
}

Result<std::unique_ptr<Database>> OpenSqliteInMemory(const std::string&) {
  SqliteDatabaseOptions options;
  options.path = ":memory:";
  return OpenSqliteDatabase(options);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, StoreConformance,
    ::testing::Values(
        StoreFactory{
            "SqliteFile",
            [](const std::string& dir) { return OpenSqliteFile(dir, true); },
            true,
            [](const std::string& dir) { return OpenSqliteFile(dir, false); }},
        StoreFactory{"SqliteInMemory", OpenSqliteInMemory, false, nullptr}),
    conformance::StoreFactoryName);

}  // namespace
}  // namespace syncstack
