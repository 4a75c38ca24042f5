// The PostgreSQL store's own tests: concurrent schema migration, schema
// versions, connection failures. The Store contract itself is checked by
// store_conformance_test.
#include "syncstack/postgres/postgres_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "postgres_env.h"
#include "syncstack/conformance/store_conformance.h"

namespace syncstack {
namespace {

// A fresh schema name for this test.
std::string SchemaName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = std::string("syncstack_unit_") + info->name();
  testing_pg::SchemaJanitor::Get().Add(name);
  return name;
}

// Runs one SQL command on the server; returns libpq's error text or "".
std::string Exec(const std::string& conninfo, const std::string& sql) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  std::string error;
  if (PQstatus(conn) != CONNECTION_OK) {
    error = PQerrorMessage(conn);
  } else {
    PGresult* r = PQexec(conn, sql.c_str());
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
      error = PQerrorMessage(conn);
    }
    PQclear(r);
  }
  PQfinish(conn);
  return error;
}

TEST(PostgresStore, ConcurrentOpenersMigrateOnce) {
  auto conninfo = testing_pg::ConninfoOrSkip();
  if (!conninfo) return;
  PostgresDatabaseOptions options;
  options.conninfo = *conninfo;
  options.schema = SchemaName();
  Exec(*conninfo, "DROP SCHEMA IF EXISTS \"" + options.schema + "\" CASCADE");
  constexpr int kOpeners = 8;
  std::vector<Status> results(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([&, i] {
      auto db = OpenPostgresDatabase(options);
      results[i] = db.ok() ? Status::Ok() : db.status();
    });
  }
  for (std::thread& t : threads) t.join();
  for (const Status& s : results) EXPECT_TRUE(s.ok()) << s.ToString();

  auto db = OpenPostgresDatabase(options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = (*db)->OpenAccount("acct");
  ASSERT_TRUE(store.ok());
  ChangeBatch b;
  b.SetMeta("k", "v");
  ASSERT_TRUE((*store)->Apply(WriteOptions(), b).ok());
  EXPECT_EQ((*store)->GetMeta("k")->value_or(""), "v");
}

TEST(PostgresStore, RejectsANewerSchema) {
  auto conninfo = testing_pg::ConninfoOrSkip();
  if (!conninfo) return;
  PostgresDatabaseOptions options;
  options.conninfo = *conninfo;
  options.schema = SchemaName();
  ASSERT_TRUE(OpenPostgresDatabase(options).ok());
  ASSERT_EQ(Exec(*conninfo, "INSERT INTO \"" + options.schema +
                                "\".syncstack_schema(version) VALUES (999)"),
            "");
  auto db = OpenPostgresDatabase(options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kCorruption)
      << db.status().ToString();
}

TEST(PostgresStore, UnreachableServerIsUnavailable) {
  PostgresDatabaseOptions options;
  // Port 1 on localhost: nothing listens there.
  options.conninfo = "host=127.0.0.1 port=1 dbname=none connect_timeout=2";
  options.max_retries = 1;
  options.retry_backoff = std::chrono::milliseconds(1);
  auto db = OpenPostgresDatabase(options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Status::Code::kUnavailable)
      << db.status().ToString();
}

// A large batch into an empty collection takes the direct COPY path; the
// next one, overlapping it, the staging upsert. Both must store the same
// rows, also under an account name COPY has to escape.
TEST(PostgresStore, BulkLoadThenOverlappingBulkUpsert) {
  auto conninfo = testing_pg::ConninfoOrSkip();
  if (!conninfo) return;
  PostgresDatabaseOptions options;
  options.conninfo = *conninfo;
  options.schema = SchemaName();
  auto db = OpenPostgresDatabase(options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto store = (*db)->OpenAccount("odd\\name\twith\nescapes");
  auto other = (*db)->OpenAccount("odd");
  ASSERT_TRUE(store.ok() && other.ok());
  std::vector<RecordId> ids;
  for (int i = 0; i < 1500; ++i) ids.push_back(RecordId::Random());
  auto apply = [&](size_t from, size_t to, const std::string& tag) {
    ChangeBatch b;
    for (size_t i = from; i < to; ++i) {
      Record r;
      r.collection = "notes";
      r.id = ids[i];
      r.version.timestamp = static_cast<Timestamp>(i);
      r.payload = "{\"tag\":\"" + tag + "\",\"tab\":\"\t\\\\\"}";
      b.Put(std::move(r));
    }
    Status s = (*store)->Apply(WriteOptions(), b);
    ASSERT_TRUE(s.ok()) << s.ToString();
  };
  apply(0, 1000, "first");
  apply(500, 1500, "second");
  std::map<RecordId, std::string> seen;
  ASSERT_TRUE(
      (*store)
          ->Get("notes", ids, [&](const Record& r) { seen[r.id] = r.payload; })
          .ok());
  ASSERT_EQ(seen.size(), ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string tag = i < 500 ? "first" : "second";
    EXPECT_EQ(seen[ids[i]], "{\"tag\":\"" + tag + "\",\"tab\":\"\t\\\\\"}");
  }
  size_t other_rows = 0;
  ASSERT_TRUE(
      (*other)->Get("notes", ids, [&](const Record&) { ++other_rows; }).ok());
  EXPECT_EQ(other_rows, 0u);
}

TEST(PostgresStore, RejectsBadOptions) {
  PostgresDatabaseOptions options;
  options.pool_size = 0;
  EXPECT_EQ(OpenPostgresDatabase(options).status().code(),
            Status::Code::kInvalidArgument);
  options.pool_size = 1;
  options.schema = "";
  EXPECT_EQ(OpenPostgresDatabase(options).status().code(),
            Status::Code::kInvalidArgument);
}

// The Store conformance kit: a fresh schema per test on the server of
// scripts/with-postgres.sh; reopening finds the same schema.
using conformance::StoreConformance;
using conformance::StoreFactory;

INSTANTIATE_TEST_SUITE_P(Stores, StoreConformance,
                         ::testing::Values(StoreFactory{"Postgres",
                                                        testing_pg::Open, true,
                                                        testing_pg::Open}),
                         conformance::StoreFactoryName);

}  // namespace
}  // namespace syncstack
