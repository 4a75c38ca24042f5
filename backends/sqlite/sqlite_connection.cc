// The SQLite backend's connection: opening the file, the schema and its
// migrations, and the statements every store uses, prepared once.
//
// Layout (schema version 2, in PRAGMA user_version; PRAGMA application_id
// marks the file as a syncstack database):
//
//   collections(cid INTEGER PRIMARY KEY, account, name, UNIQUE(account, name))
//   records(cid, id BLOB(16), ts, extra, deleted, state, base, pid,
//           PRIMARY KEY(cid, id)) WITHOUT ROWID
//   payloads(pid INTEGER PRIMARY KEY, payload TEXT)
//   meta(account, key, value, PRIMARY KEY(account, key)) WITHOUT ROWID
//   index records_by_base ON records(cid, base, id)      (version 2)
//   index records_unsynced ON records(cid, id) WHERE state <> 0  (version 2)
//
// Why: a manifest scan walks `records` in (cid, id) order, so `records` is
// a clustered WITHOUT ROWID b-tree holding only the small, fixed-size
// manifest columns (a rowid table plus a secondary index costs a lookup per
// row, ~10x slower). Payloads live in a rowid table referenced by `pid`
// (NULL for an empty payload, e.g. a tombstone): kept inline, every payload
// byte would be read by each manifest scan, and rows over ~1 KB overflow
// badly in a WITHOUT ROWID b-tree (which keeps at most ~1/4 page locally).
// Measured on 200k records: inline scans drop from ~3.4M rows/s to 2.2M
// at 300-byte payloads and to 0.4M at 1 KB, where the file also grows to
// 4.4x the size of this layout. The cost is one extra b-tree write per put
// and one rowid lookup per get.
//
// The two indexes of version 2 answer Store::ScanSince (rows by write
// sequence, `base` on a server) and Store::ScanUnsynced (a device's rows
// not yet acknowledged; the partial index holds only those, so it stays
// as small as the device's pending work). See docs/decisions/changes-feed.md.
#include "sqlite_connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <iterator>
#include <string>

namespace syncstack::sqlite_internal {
namespace {

constexpr int kSchemaVersion = 2;
constexpr int kApplicationId = 0x53594e43;  // "SYNC"

// Schema migrations; kMigrations[i] brings version i to version i + 1.
constexpr const char* kMigrations[] = {
    R"sql(
CREATE TABLE collections(
  cid INTEGER PRIMARY KEY,
  account TEXT NOT NULL,
  name TEXT NOT NULL,
  UNIQUE(account, name));
CREATE TABLE records(
  cid INTEGER NOT NULL,
  id BLOB NOT NULL,
  ts INTEGER NOT NULL,
  extra BLOB NOT NULL,
  deleted INTEGER NOT NULL,
  state INTEGER NOT NULL,
  base INTEGER NOT NULL,
  pid INTEGER,
  PRIMARY KEY(cid, id)) WITHOUT ROWID;
CREATE TABLE payloads(
  pid INTEGER PRIMARY KEY,
  payload TEXT NOT NULL);
CREATE TABLE meta(
  account TEXT NOT NULL,
  key TEXT NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY(account, key)) WITHOUT ROWID;
)sql",
    R"sql(
CREATE INDEX IF NOT EXISTS records_by_base ON records(cid, base, id);
CREATE INDEX IF NOT EXISTS records_unsynced ON records(cid, id)
  WHERE state <> 0;
)sql",
};
static_assert(std::size(kMigrations) == kSchemaVersion);

// Returns the single integer a query (a pragma) yields.
Result<int64_t> QueryInt(sqlite3* db, const char* sql) {
  Statement stmt;
  SYNCSTACK_RETURN_IF_ERROR(stmt.Prepare(db, sql));
  Use q(stmt);
  int rc = q.Step();
  if (rc == SQLITE_ROW) return q.ColumnInt(0);
  if (rc == SQLITE_DONE) return int64_t{0};
  return SqliteError(db, rc, sql);
}

}  // namespace

Status SqliteError(sqlite3* db, int rc, std::string_view what) {
  std::string msg = "sqlite: ";
  msg += what;
  msg += ": ";
  msg += db != nullptr && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db)
                                                    : sqlite3_errstr(rc);
  msg += " (" + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(std::move(msg));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Unavailable(std::move(msg));
    default:
      return Status::IOError(std::move(msg));
  }
}

Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
  return Status::Ok();
}

Status Connection::Open(const SqliteDatabaseOptions& options) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (options.create_if_missing) flags |= SQLITE_OPEN_CREATE;
  // A new database file is its owner's alone (0600); SQLite gives the
  // -wal, -shm and journal files the same mode.
  if (options.create_if_missing && !options.path.empty() &&
      options.path != ":memory:") {
    int fd = ::open(options.path.c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  }
  int rc = sqlite3_open_v2(options.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "open " + options.path);
  sqlite3_extended_result_codes(db, 1);
  auto timeout = options.busy_timeout.count();
  sqlite3_busy_timeout(
      db, static_cast<int>(std::clamp<decltype(timeout)>(timeout, 0, INT_MAX)));

  // Reading the header first reports a file that is not a database as
  // kCorruption before anything is written.
  SYNCSTACK_RETURN_IF_ERROR(QueryInt(db, "PRAGMA application_id").status());
  {
    Statement wal;
    SYNCSTACK_RETURN_IF_ERROR(wal.Prepare(db, "PRAGMA journal_mode=WAL"));
    Use q(wal);
    rc = q.Step();
    if (rc != SQLITE_ROW) return SqliteError(db, rc, "PRAGMA journal_mode");
    std::string_view mode = q.ColumnText(0);
    if (mode != "wal" && mode != "memory") {
      return Status::IOError("sqlite: cannot use WAL mode (journal_mode is " +
                             std::string(mode) + ")");
    }
  }
  SYNCSTACK_RETURN_IF_ERROR(Migrate());
  // 16 MiB of page cache instead of SQLite's 2 MiB: manifest scans and
  // batched writes with random ids then read far fewer pages from the OS
  // (measured: scans +5-10%, random-order batched puts +15%, gets +30% on
  // 100k records).
  SYNCSTACK_RETURN_IF_ERROR(Exec(db, "PRAGMA cache_size=-16384"));
  SYNCSTACK_RETURN_IF_ERROR(SetSync(WriteOptions().sync));
  return PrepareAll();
}

Status Connection::Migrate() {
  // Sets *current when the file holds this build's schema version.
  auto check = [&](bool* current) -> Status {
    SYNCSTACK_ASSIGN_OR_RETURN(int64_t app_id,
                               QueryInt(db, "PRAGMA application_id"));
    SYNCSTACK_ASSIGN_OR_RETURN(int64_t version,
                               QueryInt(db, "PRAGMA user_version"));
    SYNCSTACK_ASSIGN_OR_RETURN(
        int64_t tables, QueryInt(db, "SELECT count(*) FROM sqlite_master"));
    bool fresh = app_id == 0 && version == 0 && tables == 0;
    if (!fresh && app_id != kApplicationId) {
      return Status::Corruption("sqlite: not a syncstack database");
    }
    if (version < 0) return Status::Corruption("sqlite: bad schema version");
    if (version > kSchemaVersion) {
      return Status::Corruption("sqlite: schema version " +
                                std::to_string(version) +
                                " is newer than this build supports (" +
                                std::to_string(kSchemaVersion) + ")");
    }
    *current = version == kSchemaVersion;
    return Status::Ok();
  };
  bool current = false;
  SYNCSTACK_RETURN_IF_ERROR(check(&current));
  if (current) return Status::Ok();

  SYNCSTACK_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  auto migrate = [&]() -> Status {
    // Check again under the write lock: another process may have migrated.
    SYNCSTACK_RETURN_IF_ERROR(check(&current));
    if (current) return Status::Ok();
    SYNCSTACK_ASSIGN_OR_RETURN(int64_t version,
                               QueryInt(db, "PRAGMA user_version"));
    for (int64_t v = version; v < kSchemaVersion; ++v) {
      SYNCSTACK_RETURN_IF_ERROR(Exec(db, kMigrations[v]));
    }
    std::string set =
        "PRAGMA application_id=" + std::to_string(kApplicationId) +
        "; PRAGMA user_version=" + std::to_string(kSchemaVersion);
    return Exec(db, set.c_str());
  };
  Status s = migrate();
  if (s.ok()) s = Exec(db, "COMMIT");
  if (!s.ok() && !sqlite3_get_autocommit(db)) {
    (void)Exec(db, "ROLLBACK");
  }
  return s;
}

Status Connection::PrepareAll() {
  struct {
    Statement** slot;
    const char* sql;
  } const kStatements[] = {
      {&begin, "BEGIN IMMEDIATE"},
      {&commit, "COMMIT"},
      {&rollback, "ROLLBACK"},
      {&find_cid, "SELECT cid FROM collections WHERE account=?1 AND name=?2"},
      {&insert_cid, "INSERT INTO collections(account, name) VALUES(?1, ?2)"},
      {&probe,
       "SELECT ts, extra, deleted, state, base, pid FROM records"
       " WHERE cid=?1 AND id=?2"},
      {&load_payload, "SELECT payload FROM payloads WHERE pid=?1"},
      {&insert_payload, "INSERT INTO payloads(payload) VALUES(?1)"},
      {&update_payload, "UPDATE payloads SET payload=?2 WHERE pid=?1"},
      {&delete_payload, "DELETE FROM payloads WHERE pid=?1"},
      {&insert_record,
       "INSERT INTO records(cid, id, ts, extra, deleted, state, base, pid)"
       " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"},
      {&update_record,
       "UPDATE records SET ts=?3, extra=?4, deleted=?5, state=?6, base=?7,"
       " pid=?8 WHERE cid=?1 AND id=?2"},
      {&delete_record, "DELETE FROM records WHERE cid=?1 AND id=?2"},
      {&get,
       "SELECT r.ts, r.extra, r.deleted, r.state, r.base, p.payload"
       " FROM records AS r LEFT JOIN payloads AS p ON p.pid = r.pid"
       " WHERE r.cid=?1 AND r.id=?2"},
      {&scan,
       "SELECT id, ts, extra, deleted, state, base FROM records"
       " WHERE cid=?1 AND id>=?2 AND id<?3 AND (?4 OR deleted=0)"
       " ORDER BY id LIMIT ?5"},
      {&scan_since,
       "SELECT r.id, r.ts, r.extra, r.deleted, r.state, r.base, p.payload"
       " FROM records AS r LEFT JOIN payloads AS p ON p.pid = r.pid"
       " WHERE r.cid=?1 AND (r.base, r.id) > (?2, ?3)"
       " ORDER BY r.base, r.id LIMIT ?4"},
      {&scan_unsynced,
       "SELECT r.id, r.ts, r.extra, r.deleted, r.state, r.base, p.payload"
       " FROM records AS r LEFT JOIN payloads AS p ON p.pid = r.pid"
       " WHERE r.cid=?1 AND r.state <> 0 AND r.id > ?2"
       " ORDER BY r.id LIMIT ?3"},
      {&collections,
       "SELECT c.name FROM collections AS c WHERE c.account=?1 AND"
       " EXISTS(SELECT 1 FROM records AS r WHERE r.cid=c.cid)"
       " ORDER BY c.name"},
      {&get_meta, "SELECT value FROM meta WHERE account=?1 AND key=?2"},
      {&set_meta,
       "INSERT INTO meta(account, key, value) VALUES(?1, ?2, ?3)"
       " ON CONFLICT(account, key) DO UPDATE SET value=excluded.value"},
  };
  for (const auto& [slot, sql] : kStatements) {
    statements.push_back(std::make_unique<Statement>());
    SYNCSTACK_RETURN_IF_ERROR(Prepare(*statements.back(), sql));
    *slot = statements.back().get();
  }
  return Status::Ok();
}

}  // namespace syncstack::sqlite_internal
