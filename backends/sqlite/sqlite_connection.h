// Internal to the SQLite backend: the connection and its prepared
// statements (sqlite_connection.cc: the schema, its migrations, the
// statements' SQL), shared by the store (sqlite_store.cc). Not installed.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "syncstack/sqlite/sqlite_store.h"
#include "syncstack/status.h"

namespace syncstack::sqlite_internal {

// The one place SQLite result codes become a Status: kCorruption (a corrupt
// or foreign file), kUnavailable (busy, locked), else kIOError.
Status SqliteError(sqlite3* db, int rc, std::string_view what);

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement() = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Status Prepare(sqlite3* db, std::string_view sql) {
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
    return Status::Ok();
  }
  sqlite3_stmt* get() const noexcept { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// One use of a prepared statement: binds, steps, reads columns, and resets
// it on scope exit (which also ends its implicit read transaction). Bound
// views must stay alive until then.
class Use {
 public:
  explicit Use(const Statement& s) noexcept : stmt_(s.get()) {}
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  ~Use() { sqlite3_reset(stmt_); }

  Use& Int(int i, int64_t v) noexcept {
    return Check(sqlite3_bind_int64(stmt_, i, v));
  }
  Use& Null(int i) noexcept { return Check(sqlite3_bind_null(stmt_, i)); }
  // A null data pointer would bind NULL, so empty views bind "".
  Use& Text(int i, std::string_view v) noexcept {
    return Check(sqlite3_bind_text64(stmt_, i, v.empty() ? "" : v.data(),
                                     v.size(), SQLITE_STATIC, SQLITE_UTF8));
  }
  Use& Blob(int i, std::string_view v) noexcept {
    return Check(sqlite3_bind_blob64(stmt_, i, v.empty() ? "" : v.data(),
                                     v.size(), SQLITE_STATIC));
  }

  // SQLITE_ROW, SQLITE_DONE, or an error code (also a failed bind: reset
  // keeps old bindings, so a statement with one must not run).
  int Step() noexcept {
    return bind_rc_ != SQLITE_OK ? bind_rc_ : sqlite3_step(stmt_);
  }
  // Steps a statement that returns no rows; maps errors to a Status.
  Status Run(sqlite3* db, std::string_view what) noexcept {
    int rc = Step();
    if (rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::Ok();
    return SqliteError(db, rc, what);
  }

  bool IsNull(int i) const noexcept {
    return sqlite3_column_type(stmt_, i) == SQLITE_NULL;
  }
  int64_t ColumnInt(int i) const noexcept {
    return sqlite3_column_int64(stmt_, i);
  }
  std::string_view ColumnBlob(int i) const noexcept {
    const void* p = sqlite3_column_blob(stmt_, i);
    int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string_view()
                        : std::string_view(static_cast<const char*>(p),
                                           static_cast<size_t>(n));
  }
  std::string_view ColumnText(int i) const noexcept {
    const unsigned char* p = sqlite3_column_text(stmt_, i);
    int n = sqlite3_column_bytes(stmt_, i);
    return p == nullptr ? std::string_view()
                        : std::string_view(reinterpret_cast<const char*>(p),
                                           static_cast<size_t>(n));
  }

 private:
  Use& Check(int rc) noexcept {
    if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    return *this;
  }

  sqlite3_stmt* stmt_;
  int bind_rc_ = SQLITE_OK;
};

// Runs SQL text that returns no rows we need (schema, pragmas).
Status Exec(sqlite3* db, const char* sql);

// The connection and its prepared statements, shared by the Database and
// every Store it opened. All members are used under `mu`.
struct Connection {
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    // Statements first: sqlite3_close refuses a connection with live ones.
    statements.clear();
    sqlite3_close(db);
  }

  Status Prepare(Statement& stmt, std::string_view sql) {
    return stmt.Prepare(db, sql);
  }
  Status Open(const SqliteDatabaseOptions& options);
  Status Migrate();
  Status PrepareAll();

  // Sets PRAGMA synchronous for the next transaction. The pragma acts when
  // it is compiled, so it is run as text, and only when the level changes.
  Status SetSync(bool sync) {
    int level = sync ? 2 : 1;  // FULL : NORMAL
    if (level == sync_level) return Status::Ok();
    SYNCSTACK_RETURN_IF_ERROR(Exec(
        db, sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
    sync_level = level;
    return Status::Ok();
  }

  std::mutex mu;
  sqlite3* db = nullptr;
  int sync_level = -1;
  std::atomic<int> live_stores{0};

  std::vector<std::unique_ptr<Statement>> statements;  // owns those below
  Statement* begin = nullptr;
  Statement* commit = nullptr;
  Statement* rollback = nullptr;
  Statement* find_cid = nullptr;
  Statement* insert_cid = nullptr;
  Statement* probe = nullptr;
  Statement* load_payload = nullptr;
  Statement* insert_payload = nullptr;
  Statement* update_payload = nullptr;
  Statement* delete_payload = nullptr;
  Statement* insert_record = nullptr;
  Statement* update_record = nullptr;
  Statement* delete_record = nullptr;
  Statement* get = nullptr;
  Statement* scan = nullptr;
  Statement* scan_since = nullptr;
  Statement* scan_unsynced = nullptr;
  Statement* collections = nullptr;
  Statement* get_meta = nullptr;
  Statement* set_meta = nullptr;
};

}  // namespace syncstack::sqlite_internal
