// A test app's own SQLite connection: what an app does with plain SQL,
// beside syncstack's mapped store on the same file.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <optional>
#include <string>

namespace syncstack::testing {

class AppDb {
 public:
  explicit AppDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 5000);
    Exec(
        "PRAGMA foreign_keys=ON; PRAGMA journal_mode=WAL; PRAGMA "
        "synchronous=NORMAL");
  }
  ~AppDb() { sqlite3_close(db_); }
  AppDb(const AppDb&) = delete;
  AppDb& operator=(const AppDb&) = delete;

  // Runs `sql`; returns the error message, "" on success.
  std::string TryExec(const std::string& sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    std::string msg = rc == SQLITE_OK ? "" : (err ? err : "error");
    sqlite3_free(err);
    return msg;
  }
  void Exec(const std::string& sql) {
    std::string err = TryExec(sql);
    EXPECT_EQ(err, "") << sql;
  }
  // The first column of the first row as text ("NULL" for NULL), or
  // nullopt without a row.
  std::optional<std::string> One(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr),
              SQLITE_OK)
        << sql << ": " << sqlite3_errmsg(db_);
    std::optional<std::string> out;
    if (stmt != nullptr && sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text ? reinterpret_cast<const char*>(text) : "NULL";
    }
    sqlite3_finalize(stmt);
    return out;
  }
  int64_t Count(const std::string& sql) {
    auto v = One(sql);
    return v ? std::stoll(*v) : -1;
  }
  sqlite3* get() { return db_; }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace syncstack::testing
