// The SQLite store.
//
// Layout (schema version 1, in PRAGMA user_version; PRAGMA application_id
// marks the file as a syncstack database):
//
//   collections(cid INTEGER PRIMARY KEY, account, name, UNIQUE(account, name))
//   records(cid, id BLOB(16), ts, extra, deleted, state, base, pid,
//           PRIMARY KEY(cid, id)) WITHOUT ROWID
//   payloads(pid INTEGER PRIMARY KEY, payload TEXT)
//   meta(account, key, value, PRIMARY KEY(account, key)) WITHOUT ROWID
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
// Concurrency: one connection behind one mutex. Every statement is prepared
// once at open and reset after each use, so no read transaction stays open
// between calls; scans page by key (WHERE id >= ? ORDER BY id LIMIT n), so
// writes between pages are safe.
#include "syncstack/sqlite/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <climits>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace syncstack {
namespace {

constexpr int kSchemaVersion = 1;
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
};
static_assert(std::size(kMigrations) == kSchemaVersion);

// Entries per scan page (one statement run under the lock).
constexpr int kScanPage = 1024;
// Get copies records out under the lock in chunks bounded by count and by
// payload bytes, then calls back without holding the lock.
constexpr size_t kGetChunkRecords = 256;
constexpr size_t kGetChunkBytes = size_t{4} << 20;

// The one place SQLite result codes become a Status.
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

Status OutOfMemory() { return Status::IOError("sqlite store: out of memory"); }

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
Status Exec(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
  return Status::Ok();
}

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

Result<SyncState> ToSyncState(int64_t v) {
  if (v < 0 || v > static_cast<int64_t>(SyncState::kDeleted)) {
    return Status::Corruption("sqlite store: bad sync state " +
                              std::to_string(v));
  }
  return static_cast<SyncState>(v);
}

Status BadId(size_t size) {
  return Status::Corruption("sqlite store: record id of " +
                            std::to_string(size) + " bytes");
}

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
  Statement* collections = nullptr;
  Statement* get_meta = nullptr;
  Statement* set_meta = nullptr;
};

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

class SqliteStore;

// Pages through the manifest by key, one statement run per page under the
// connection lock; nothing stays open between pages.
class SqliteIterator final : public ManifestIterator {
 public:
  SqliteIterator(SqliteStore& store, std::string collection,
                 const ScanOptions& options);

  bool Valid() const noexcept override { return pos_ < page_.size(); }
  const ManifestEntry& entry() const noexcept override { return page_[pos_]; }
  void Next() noexcept override {
    if (++pos_ >= page_.size()) Fill();
  }
  Status status() const noexcept override { return status_; }

 private:
  void Fill() noexcept;

  SqliteStore& store_;
  const std::string collection_;
  const bool include_tombstones_;
  // Keys compare as blobs (bytewise, then by length), so `from_` + '\0' is
  // the least key after `from_`, and 17 bytes of 0xff lie above every id.
  std::string from_;  // the least key not yet examined
  std::string end_;   // the exclusive upper bound
  std::vector<ManifestEntry> page_;
  size_t pos_ = 0;
  bool exhausted_ = false;
  Status status_;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(Connection& conn, std::string account)
      : conn_(conn), account_(std::move(account)) {
    conn_.live_stores.fetch_add(1, std::memory_order_relaxed);
  }
  ~SqliteStore() override {
    conn_.live_stores.fetch_sub(1, std::memory_order_relaxed);
  }

  Status Apply(const WriteOptions& options,
               const ChangeBatch& batch) noexcept override;
  std::unique_ptr<ManifestIterator> Scan(
      std::string_view collection,
      const ScanOptions& options) noexcept override;
  Status Get(std::string_view collection, std::span<const RecordId> ids,
             FunctionRef<void(const Record&)> fn) noexcept override;
  Result<std::vector<std::string>> Collections() noexcept override;
  Result<std::optional<std::string>> GetMeta(
      std::string_view key) noexcept override;

  // Reads up to kScanPage entries with keys in [from, end) into `out`.
  Status ReadPage(std::string_view collection, std::string_view from,
                  std::string_view end, bool include_tombstones,
                  std::vector<ManifestEntry>& out);

 private:
  // Collections created by the running transaction, not yet in cids_.
  using Pending = std::vector<std::pair<std::string, int64_t>>;

  // Sets *cid to the collection's id, or 0 if it has none (ids assigned by
  // SQLite start at 1). Inside a transaction pass its `pending` list; then
  // `create` creates a missing collection. REQUIRES: conn_.mu held.
  Status FindCid(std::string_view collection, Pending* pending, bool create,
                 int64_t* cid);
  // REQUIRES: conn_.mu held, inside a transaction.
  Status ApplyOps(const ChangeBatch& batch, Pending& pending);
  Status ApplyOp(const ChangeBatch::Op& op, int64_t cid);
  Status ReadRecord(const Use& q, std::string_view collection,
                    const RecordId& id, Record& out);

  Connection& conn_;
  const std::string account_;
  // Committed collection ids; rows of `collections` are never deleted, so
  // entries stay valid. GUARDED_BY(conn_.mu)
  std::map<std::string, int64_t, std::less<>> cids_;
  Record current_;  // scratch for Expect checks. GUARDED_BY(conn_.mu)
};

SqliteIterator::SqliteIterator(SqliteStore& store, std::string collection,
                               const ScanOptions& options)
    : store_(store),
      collection_(std::move(collection)),
      include_tombstones_(options.include_tombstones),
      from_(options.range.begin.raw()),
      end_(options.range.has_end ? std::string(options.range.end.raw())
                                 : std::string(17, '\xff')) {
  if (options.range.has_end && options.range.end <= options.range.begin) {
    exhausted_ = true;
  }
  Fill();
}

void SqliteIterator::Fill() noexcept {
  page_.clear();
  pos_ = 0;
  if (exhausted_) return;
  try {
    status_ =
        store_.ReadPage(collection_, from_, end_, include_tombstones_, page_);
    if (!status_.ok()) page_.clear();
    if (!status_.ok() || page_.size() < static_cast<size_t>(kScanPage)) {
      exhausted_ = true;
      return;
    }
    from_.assign(page_.back().id.raw());
    from_.push_back('\0');
  } catch (const std::bad_alloc&) {
    page_.clear();
    exhausted_ = true;
    status_ = OutOfMemory();
  }
}

Status SqliteStore::FindCid(std::string_view collection, Pending* pending,
                            bool create, int64_t* cid) {
  if (auto it = cids_.find(collection); it != cids_.end()) {
    *cid = it->second;
    return Status::Ok();
  }
  if (pending != nullptr) {
    for (const auto& [name, id] : *pending) {
      if (name == collection) {
        *cid = id;
        return Status::Ok();
      }
    }
  }
  {
    Use q(*conn_.find_cid);
    q.Text(1, account_).Text(2, collection);
    int rc = q.Step();
    if (rc == SQLITE_ROW) {
      // Not created by the running transaction (that would be pending), so
      // committed.
      *cid = q.ColumnInt(0);
      cids_.emplace(std::string(collection), *cid);
      return Status::Ok();
    }
    if (rc != SQLITE_DONE) return SqliteError(conn_.db, rc, "find collection");
  }
  *cid = 0;
  if (!create) return Status::Ok();
  assert(pending != nullptr);
  Use q(*conn_.insert_cid);
  q.Text(1, account_).Text(2, collection);
  SYNCSTACK_RETURN_IF_ERROR(q.Run(conn_.db, "create collection"));
  *cid = sqlite3_last_insert_rowid(conn_.db);
  pending->emplace_back(std::string(collection), *cid);
  return Status::Ok();
}

Status SqliteStore::Apply(const WriteOptions& options,
                          const ChangeBatch& batch) noexcept {
  for (const ChangeBatch::Op& op : batch.ops()) {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(op.record.collection));
  }
  if (batch.empty()) return Status::Ok();
  std::lock_guard lock(conn_.mu);
  SYNCSTACK_RETURN_IF_ERROR(conn_.SetSync(options.sync));
  {
    Use q(*conn_.begin);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(conn_.db, "begin"));
  }
  Pending pending;
  Status s;
  try {
    s = ApplyOps(batch, pending);
    if (s.ok()) {
      Use q(*conn_.commit);
      s = q.Run(conn_.db, "commit");
    }
    if (s.ok()) {
      for (auto& [name, cid] : pending) cids_.emplace(std::move(name), cid);
    }
  } catch (const std::bad_alloc&) {
    s = OutOfMemory();
  }
  // Some errors (e.g. SQLITE_FULL) roll back by themselves.
  if (!s.ok() && !sqlite3_get_autocommit(conn_.db)) {
    Use q(*conn_.rollback);
    (void)q.Step();
  }
  return s;
}

Status SqliteStore::ApplyOps(const ChangeBatch& batch, Pending& pending) {
  std::string_view last_collection;
  int64_t last_cid = 0;
  bool have_last = false;
  for (const ChangeBatch::Op& op : batch.ops()) {
    const bool put = op.kind == ChangeBatch::Op::Kind::kPut;
    // Batches mostly touch one collection: skip the lookup when it repeats.
    // An erase's absent collection (cid 0) may be created by a later put,
    // so a 0 is not remembered.
    int64_t cid = 0;
    if (have_last && op.record.collection == last_collection) {
      cid = last_cid;
    } else {
      SYNCSTACK_RETURN_IF_ERROR(
          FindCid(op.record.collection, &pending, put, &cid));
      if (cid != 0) {
        last_collection = op.record.collection;
        last_cid = cid;
        have_last = true;
      }
    }
    SYNCSTACK_RETURN_IF_ERROR(ApplyOp(op, cid));
  }
  for (const auto& [key, value] : batch.meta()) {
    Use q(*conn_.set_meta);
    q.Text(1, account_).Text(2, key).Blob(3, value);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(conn_.db, "set meta"));
  }
  return Status::Ok();
}

// Applies one op to collection `cid` (0: the collection does not exist, so
// neither does the row), after checking its Expect against the row as the
// transaction sees it, i.e. after the batch's earlier ops.
Status SqliteStore::ApplyOp(const ChangeBatch::Op& op, int64_t cid) {
  const Record& rec = op.record;
  if (op.kind == ChangeBatch::Op::Kind::kPut && op.expect.has_value() &&
      !op.expect->exists && cid != 0) {
    // A put that expects no row (a first sync's records): the insert's
    // primary key checks that, so the probe read is skipped. On a
    // duplicate the statement fails and Apply rolls the batch back.
    std::optional<int64_t> pid;
    if (!rec.payload.empty()) {
      Use q(*conn_.insert_payload);
      q.Text(1, rec.payload);
      SYNCSTACK_RETURN_IF_ERROR(q.Run(conn_.db, "insert payload"));
      pid = sqlite3_last_insert_rowid(conn_.db);
    }
    Use q(*conn_.insert_record);
    q.Int(1, cid)
        .Blob(2, rec.id.raw())
        .Int(3, rec.version.timestamp)
        .Blob(4, rec.version.extra)
        .Int(5, rec.deleted ? 1 : 0)
        .Int(6, static_cast<int64_t>(rec.state))
        .Int(7, rec.base);
    if (pid) {
      q.Int(8, *pid);
    } else {
      q.Null(8);
    }
    int rc = q.Step();
    if (rc == SQLITE_DONE) return Status::Ok();
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
      return Status::Conflict("expectation failed for " + rec.collection + "/" +
                              rec.id.ToString() + ": the row exists");
    }
    return SqliteError(conn_.db, rc, "insert record");
  }
  bool exists = false;
  bool has_pid = false;
  int64_t pid = 0;
  if (cid != 0) {
    Use q(*conn_.probe);
    q.Int(1, cid).Blob(2, rec.id.raw());
    int rc = q.Step();
    if (rc == SQLITE_ROW) {
      exists = true;
      has_pid = !q.IsNull(5);
      pid = q.ColumnInt(5);
      if (op.expect.has_value()) {
        current_.collection = rec.collection;
        current_.id = rec.id;
        current_.version.timestamp = q.ColumnInt(0);
        current_.version.extra.assign(q.ColumnBlob(1));
        current_.deleted = q.ColumnInt(2) != 0;
        SYNCSTACK_ASSIGN_OR_RETURN(current_.state, ToSyncState(q.ColumnInt(3)));
        current_.base = q.ColumnInt(4);
        current_.payload.clear();
      }
    } else if (rc != SQLITE_DONE) {
      return SqliteError(conn_.db, rc, "read row");
    }
  }
  if (op.expect.has_value()) {
    if (exists && has_pid && op.expect->payload.has_value()) {
      Use q(*conn_.load_payload);
      q.Int(1, pid);
      int rc = q.Step();
      if (rc == SQLITE_ROW) {
        current_.payload.assign(q.ColumnText(0));
      } else if (rc != SQLITE_DONE) {
        return SqliteError(conn_.db, rc, "read payload");
      }
    }
    if (!Satisfies(exists ? &current_ : nullptr, *op.expect)) {
      return Status::Conflict("expectation failed for " + rec.collection + "/" +
                              rec.id.ToString());
    }
  }

  if (op.kind == ChangeBatch::Op::Kind::kErase) {
    if (!exists) return Status::Ok();
    if (has_pid) {
      Use q(*conn_.delete_payload);
      q.Int(1, pid);
      SYNCSTACK_RETURN_IF_ERROR(q.Run(conn_.db, "delete payload"));
    }
    Use q(*conn_.delete_record);
    q.Int(1, cid).Blob(2, rec.id.raw());
    return q.Run(conn_.db, "delete record");
  }

  // A put: an empty payload (tombstones) has no payloads row.
  if (rec.payload.empty()) {
    if (has_pid) {
      Use q(*conn_.delete_payload);
      q.Int(1, pid);
      SYNCSTACK_RETURN_IF_ERROR(q.Run(conn_.db, "delete payload"));
      has_pid = false;
    }
  } else if (has_pid) {
    Use q(*conn_.update_payload);
    q.Int(1, pid).Text(2, rec.payload);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(conn_.db, "update payload"));
  } else {
    Use q(*conn_.insert_payload);
    q.Text(1, rec.payload);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(conn_.db, "insert payload"));
    pid = sqlite3_last_insert_rowid(conn_.db);
    has_pid = true;
  }
  Use q(exists ? *conn_.update_record : *conn_.insert_record);
  q.Int(1, cid)
      .Blob(2, rec.id.raw())
      .Int(3, rec.version.timestamp)
      .Blob(4, rec.version.extra)
      .Int(5, rec.deleted ? 1 : 0)
      .Int(6, static_cast<int64_t>(rec.state))
      .Int(7, rec.base);
  if (has_pid) {
    q.Int(8, pid);
  } else {
    q.Null(8);
  }
  return q.Run(conn_.db, exists ? "update record" : "insert record");
}

std::unique_ptr<ManifestIterator> SqliteStore::Scan(
    std::string_view collection, const ScanOptions& options) noexcept {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return NewErrorIterator(std::move(valid));
  try {
    return std::make_unique<SqliteIterator>(*this, std::string(collection),
                                            options);
  } catch (const std::bad_alloc&) {
    return NewErrorIterator(OutOfMemory());
  }
}

Status SqliteStore::ReadPage(std::string_view collection, std::string_view from,
                             std::string_view end, bool include_tombstones,
                             std::vector<ManifestEntry>& out) {
  std::lock_guard lock(conn_.mu);
  int64_t cid = 0;
  SYNCSTACK_RETURN_IF_ERROR(FindCid(collection, nullptr, false, &cid));
  if (cid == 0) return Status::Ok();
  out.reserve(kScanPage);
  Use q(*conn_.scan);
  q.Int(1, cid)
      .Blob(2, from)
      .Blob(3, end)
      .Int(4, include_tombstones ? 1 : 0)
      .Int(5, kScanPage);
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    std::string_view id = q.ColumnBlob(0);
    if (id.size() != 16) return BadId(id.size());
    ManifestEntry& e = out.emplace_back();
    e.id = RecordId::FromBytes(id);
    e.version.timestamp = q.ColumnInt(1);
    e.version.extra.assign(q.ColumnBlob(2));
    e.deleted = q.ColumnInt(3) != 0;
    SYNCSTACK_ASSIGN_OR_RETURN(e.state, ToSyncState(q.ColumnInt(4)));
    e.base = q.ColumnInt(5);
  }
  if (rc != SQLITE_DONE) return SqliteError(conn_.db, rc, "scan");
  return Status::Ok();
}

Status SqliteStore::ReadRecord(const Use& q, std::string_view collection,
                               const RecordId& id, Record& out) {
  out.collection.assign(collection);
  out.id = id;
  out.version.timestamp = q.ColumnInt(0);
  out.version.extra.assign(q.ColumnBlob(1));
  out.deleted = q.ColumnInt(2) != 0;
  SYNCSTACK_ASSIGN_OR_RETURN(out.state, ToSyncState(q.ColumnInt(3)));
  out.base = q.ColumnInt(4);
  out.payload.assign(q.ColumnText(5));
  return Status::Ok();
}

Status SqliteStore::Get(std::string_view collection,
                        std::span<const RecordId> ids,
                        FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    std::vector<Record> chunk;
    size_t next = 0;
    while (next < ids.size()) {
      size_t count = 0;
      size_t bytes = 0;
      {
        std::lock_guard lock(conn_.mu);
        int64_t cid = 0;
        SYNCSTACK_RETURN_IF_ERROR(FindCid(collection, nullptr, false, &cid));
        if (cid == 0) return Status::Ok();
        for (; next < ids.size() && count < kGetChunkRecords &&
               bytes < kGetChunkBytes;
             ++next) {
          Use q(*conn_.get);
          q.Int(1, cid).Blob(2, ids[next].raw());
          int rc = q.Step();
          if (rc == SQLITE_DONE) continue;
          if (rc != SQLITE_ROW) return SqliteError(conn_.db, rc, "get");
          if (count == chunk.size()) chunk.emplace_back();
          Record& r = chunk[count++];
          SYNCSTACK_RETURN_IF_ERROR(ReadRecord(q, collection, ids[next], r));
          bytes += r.payload.size();
        }
      }
      // Call back without the lock, so `fn` may use the store.
      for (size_t i = 0; i < count; ++i) fn(chunk[i]);
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<std::vector<std::string>> SqliteStore::Collections() noexcept {
  try {
    std::vector<std::string> names;
    std::lock_guard lock(conn_.mu);
    Use q(*conn_.collections);
    q.Text(1, account_);
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      names.emplace_back(q.ColumnText(0));
    }
    if (rc != SQLITE_DONE) return SqliteError(conn_.db, rc, "collections");
    return names;
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<std::optional<std::string>> SqliteStore::GetMeta(
    std::string_view key) noexcept {
  try {
    std::lock_guard lock(conn_.mu);
    Use q(*conn_.get_meta);
    q.Text(1, account_).Text(2, key);
    int rc = q.Step();
    if (rc == SQLITE_ROW) {
      return std::optional<std::string>(std::string(q.ColumnBlob(0)));
    }
    if (rc != SQLITE_DONE) return SqliteError(conn_.db, rc, "get meta");
    return std::optional<std::string>();
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(std::unique_ptr<Connection> conn)
      : conn_(std::move(conn)) {}
  ~SqliteDatabase() override {
    assert(conn_->live_stores.load() == 0 && "a Store outlived its Database");
  }

  Result<std::shared_ptr<Store>> OpenAccount(
      std::string_view account) noexcept override {
    if (account.empty()) {
      return Status::InvalidArgument("empty account name");
    }
    try {
      return std::shared_ptr<Store>(
          std::make_shared<SqliteStore>(*conn_, std::string(account)));
    } catch (const std::bad_alloc&) {
      return OutOfMemory();
    }
  }

 private:
  std::unique_ptr<Connection> conn_;
};

}  // namespace

Result<std::unique_ptr<Database>> OpenSqliteDatabase(
    const SqliteDatabaseOptions& options) {
  if (options.path.empty()) {
    return Status::InvalidArgument("sqlite: empty database path");
  }
  auto conn = std::make_unique<Connection>();
  Status s = conn->Open(options);
  if (!s.ok()) return s;
  return std::unique_ptr<Database>(
      std::make_unique<SqliteDatabase>(std::move(conn)));
}

}  // namespace syncstack
