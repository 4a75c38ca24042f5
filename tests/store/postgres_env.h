// The PostgreSQL server the tests run against: SYNCSTACK_PG_CONNINFO, set
// by scripts/with-postgres.sh (or by hand). Each opened test database lives
// in its own schema, dropped when the test program ends.
//
// Without a server a test is skipped with a message, except in CI
// (CI=true), where it fails: CI never skips the PostgreSQL tests silently.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "syncstack/postgres/postgres_store.h"

namespace syncstack::testing_pg {

// The server's conninfo, or nullopt after skipping (or failing, in CI) the
// current test.
inline std::optional<std::string> ConninfoOrSkip() {
  const char* conninfo = std::getenv("SYNCSTACK_PG_CONNINFO");
  if (conninfo != nullptr && *conninfo != '\0') return std::string(conninfo);
  const char* ci = std::getenv("CI");
  if (ci != nullptr && std::string(ci) == "true") {
    ADD_FAILURE() << "SYNCSTACK_PG_CONNINFO is unset: run the tests through "
                     "scripts/with-postgres.sh (CI=true: not skipping)";
  } else {
    [] {
      GTEST_SKIP() << "SYNCSTACK_PG_CONNINFO is unset: run the tests through "
                      "scripts/with-postgres.sh to include PostgreSQL";
    }();
  }
  return std::nullopt;
}

// Drops the schemas this process created, after the last test.
class SchemaJanitor : public ::testing::Environment {
 public:
  static SchemaJanitor& Get() {
    static SchemaJanitor* janitor = [] {
      auto* j = new SchemaJanitor;  // owned by GoogleTest
      ::testing::AddGlobalTestEnvironment(j);
      return j;
    }();
    return *janitor;
  }

  void Add(const std::string& schema) {
    std::lock_guard lock(mu_);
    schemas_.insert(schema);
  }

  void TearDown() override {
    const char* conninfo = std::getenv("SYNCSTACK_PG_CONNINFO");
    std::lock_guard lock(mu_);
    if (schemas_.empty() || conninfo == nullptr) return;
    PGconn* conn = PQconnectdb(conninfo);
    PQsetNoticeProcessor(
        conn, [](void*, const char*) {}, nullptr);
    if (PQstatus(conn) == CONNECTION_OK) {
      for (const std::string& schema : schemas_) {
        std::string sql = "DROP SCHEMA IF EXISTS \"" + schema + "\" CASCADE";
        PQclear(PQexec(conn, sql.c_str()));
      }
    }
    PQfinish(conn);
    schemas_.clear();
  }

 private:
  std::mutex mu_;
  std::set<std::string> schemas_;
};

// Opens the database in `schema` (created if missing, dropped when the
// test program ends). Opening the same schema twice gives two Database
// objects with their own connections, as two server processes have.
inline Result<std::unique_ptr<Database>> OpenSchema(const std::string& schema) {
  std::optional<std::string> conninfo = ConninfoOrSkip();
  if (!conninfo) return Status::Unavailable("no PostgreSQL server");
  PostgresDatabaseOptions options;
  options.conninfo = *conninfo;
  options.schema = schema;
  SchemaJanitor::Get().Add(options.schema);
  return OpenPostgresDatabase(options);
}

// A schema name no other test program running now uses:
// "syncstack_test_<prefix>_<pid>_<n>".
inline std::string UniqueSchema(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return "syncstack_test_" + prefix + "_" + std::to_string(getpid()) + "_" +
         std::to_string(counter++);
}

// One schema per test directory: "syncstack_test_" + the directory's
// unique name, so reopening `dir` finds the same data.
inline Result<std::unique_ptr<Database>> Open(const std::string& dir) {
  return OpenSchema("syncstack_test_" +
                    std::filesystem::path(dir).filename().string());
}

}  // namespace syncstack::testing_pg
