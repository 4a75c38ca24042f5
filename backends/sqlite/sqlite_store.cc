// The SQLite store (the connection, the schema and the statements:
// sqlite_connection.cc).
//
// Concurrency: one connection behind one mutex. Every statement is prepared
// once at open and reset after each use, so no read transaction stays open
// between calls; scans page by key (WHERE id >= ? ORDER BY id LIMIT n), so
// writes between pages are safe.
#include "syncstack/sqlite/sqlite_store.h"

#include <sqlite3.h>

#include <cassert>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sqlite_connection.h"
#include "syncstack/chunked_get.h"
#include "syncstack/index_scan.h"
#include "syncstack/paged_iterator.h"

namespace syncstack {
namespace {

using sqlite_internal::Connection;
using sqlite_internal::SqliteError;
using sqlite_internal::Use;

// Entries per scan page (one statement run under the lock).
constexpr size_t kScanPage = 1024;

Status OutOfMemory() { return Status::IOError("sqlite store: out of memory"); }

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
  Status ScanSince(std::string_view collection, Timestamp after, size_t limit,
                   FunctionRef<void(const Record&)> fn) noexcept override;
  Status ScanUnsynced(std::string_view collection,
                      FunctionRef<void(const Record&)> fn) noexcept override;
  Status ScanMeta(std::string_view prefix,
                  FunctionRef<void(std::string_view, std::string_view)>
                      fn) noexcept override;

 private:
  // Runs `q` (bound but for nothing else), a query of whole rows as
  // (id, ts, extra, deleted, state, base, payload) with a LIMIT of
  // chunk.limit(), and adds its rows to `chunk` while it has room.
  // REQUIRES: conn_.mu held.
  Status FillChunk(Use& q, std::string_view collection, RowChunk& chunk);
  // The scan's page source (see ManifestPageSource::Fill): one statement
  // run under the connection lock; nothing stays open between pages.
  Status ReadPage(std::string_view collection, const PageRequest& request,
                  EntryPage& page);
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
//
// Long on purpose: one op's read, check and write, in the order SQLite
// runs them inside the batch's transaction, sharing the probed row's
// state (exists, payload row id) from step to step; it is the store's hot
// path, and each statement reads best beside the one before it.
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
    return NewPagedManifestIterator(
        options, kScanPage,
        [this, name = std::string(collection)](const PageRequest& request,
                                               EntryPage& page) {
          return ReadPage(name, request, page);
        });
  } catch (const std::bad_alloc&) {
    return NewErrorIterator(OutOfMemory());
  }
}

Status SqliteStore::ReadPage(std::string_view collection,
                             const PageRequest& request, EntryPage& page) {
  // Keys compare as blobs (bytewise, then by length): 17 bytes of 0xff lie
  // above every id.
  static const std::string kAboveEveryId(17, '\xff');
  std::lock_guard lock(conn_.mu);
  int64_t cid = 0;
  SYNCSTACK_RETURN_IF_ERROR(FindCid(collection, nullptr, false, &cid));
  if (cid == 0) {
    page.SetEnd();
    return Status::Ok();
  }
  Use q(*conn_.scan);
  q.Int(1, cid)
      .Blob(2, request.range.begin.raw())
      .Blob(3, request.range.has_end ? request.range.end.raw()
                                     : std::string_view(kAboveEveryId))
      .Int(4, request.include_tombstones ? 1 : 0)
      .Int(5, static_cast<int64_t>(request.limit));
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    std::string_view id = q.ColumnBlob(0);
    if (id.size() != 16) return BadId(id.size());
    ManifestEntry& e = page.Add(RecordId::FromBytes(id));
    e.version.timestamp = q.ColumnInt(1);
    e.version.extra.assign(q.ColumnBlob(2));
    e.deleted = q.ColumnInt(3) != 0;
    SYNCSTACK_ASSIGN_OR_RETURN(e.state, ToSyncState(q.ColumnInt(4)));
    e.base = q.ColumnInt(5);
  }
  if (rc != SQLITE_DONE) return SqliteError(conn_.db, rc, "scan");
  if (page.size() < request.limit) page.SetEnd();
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
  auto read = [&](RecordChunk& chunk) -> Status {
    std::lock_guard lock(conn_.mu);
    int64_t cid = 0;
    SYNCSTACK_RETURN_IF_ERROR(FindCid(collection, nullptr, false, &cid));
    if (cid == 0) {
      chunk.NoneLeft();
      return Status::Ok();
    }
    while (chunk.HasRoom()) {
      const RecordId& id = chunk.next_id();
      Use q(*conn_.get);
      q.Int(1, cid).Blob(2, id.raw());
      int rc = q.Step();
      if (rc == SQLITE_DONE) {
        chunk.NotFound();
        continue;
      }
      if (rc != SQLITE_ROW) return SqliteError(conn_.db, rc, "get");
      SYNCSTACK_RETURN_IF_ERROR(ReadRecord(q, collection, id, chunk.Found()));
    }
    return Status::Ok();
  };
  try {
    return ChunkedGet(ids, read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status SqliteStore::FillChunk(Use& q, std::string_view collection,
                              RowChunk& chunk) {
  int rc = SQLITE_DONE;
  while (chunk.HasRoom() && (rc = q.Step()) == SQLITE_ROW) {
    std::string_view id = q.ColumnBlob(0);
    if (id.size() != 16) return BadId(id.size());
    Record& r = chunk.Add();
    r.collection.assign(collection);
    r.id = RecordId::FromBytes(id);
    r.version.timestamp = q.ColumnInt(1);
    r.version.extra.assign(q.ColumnBlob(2));
    r.deleted = q.ColumnInt(3) != 0;
    SYNCSTACK_ASSIGN_OR_RETURN(r.state, ToSyncState(q.ColumnInt(4)));
    r.base = q.ColumnInt(5);
    r.payload.assign(q.ColumnText(6));
  }
  if (rc == SQLITE_ROW) return Status::Ok();  // the chunk is full
  if (rc != SQLITE_DONE) return SqliteError(conn_.db, rc, "index scan");
  // The query ran dry: below its LIMIT, nothing follows.
  if (chunk.size() < chunk.limit()) chunk.SetEnd();
  return Status::Ok();
}

Status SqliteStore::ScanSince(std::string_view collection, Timestamp after,
                              size_t limit,
                              FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  auto read = [&](const SinceKey& from, RowChunk& chunk) -> Status {
    std::lock_guard lock(conn_.mu);
    int64_t cid = 0;
    SYNCSTACK_RETURN_IF_ERROR(FindCid(collection, nullptr, false, &cid));
    if (cid == 0) {
      chunk.SetEnd();
      return Status::Ok();
    }
    Use q(*conn_.scan_since);
    q.Int(1, cid)
        .Int(2, from.base)
        .Blob(3, from.id.raw())
        .Int(4, static_cast<int64_t>(chunk.limit()));
    return FillChunk(q, collection, chunk);
  };
  try {
    return ChunkedScanSince(after, limit, read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status SqliteStore::ScanUnsynced(std::string_view collection,
                                 FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  auto read = [&](const RecordId* from, RowChunk& chunk) -> Status {
    std::lock_guard lock(conn_.mu);
    int64_t cid = 0;
    SYNCSTACK_RETURN_IF_ERROR(FindCid(collection, nullptr, false, &cid));
    if (cid == 0) {
      chunk.SetEnd();
      return Status::Ok();
    }
    Use q(*conn_.scan_unsynced);
    // The empty blob lies below every id.
    q.Int(1, cid)
        .Blob(2, from != nullptr ? from->raw() : std::string_view())
        .Int(3, static_cast<int64_t>(chunk.limit()));
    return FillChunk(q, collection, chunk);
  };
  try {
    return ChunkedScanUnsynced(read, fn);
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

// Listing metadata is rare (administration), so its statement is prepared
// per call rather than kept on the connection.
Status SqliteStore::ScanMeta(
    std::string_view prefix,
    FunctionRef<void(std::string_view, std::string_view)> fn) noexcept {
  try {
    std::lock_guard lock(conn_.mu);
    sqlite_internal::Statement list;
    SYNCSTACK_RETURN_IF_ERROR(conn_.Prepare(
        list,
        "SELECT key, value FROM meta WHERE account=?1 AND key>=?2 ORDER BY "
        "key"));
    Use q(list);
    q.Text(1, account_).Text(2, prefix);
    for (;;) {
      int rc = q.Step();
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return SqliteError(conn_.db, rc, "scan meta");
      std::string_view key = q.ColumnText(0);
      if (!key.starts_with(prefix)) return Status::Ok();
      fn(key, q.ColumnBlob(1));
    }
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

// Removes an account's rows, payloads and metadata and sets the ledger's
// metadata, in one transaction. The account's `collections` rows stay: open
// stores cache their cids (see SqliteStore::cids_), and a later write of
// an account of the same name reuses them.
Status RemoveSqliteAccount(Connection& conn, std::string_view account,
                           std::string_view ledger,
                           const ChangeBatch& ledger_meta) {
  std::lock_guard lock(conn.mu);
  SYNCSTACK_RETURN_IF_ERROR(conn.SetSync(true));
  static constexpr const char* kRemove[] = {
      "DELETE FROM payloads WHERE pid IN (SELECT r.pid FROM records AS r"
      " JOIN collections AS c ON c.cid = r.cid"
      " WHERE c.account=?1 AND r.pid IS NOT NULL)",
      "DELETE FROM records WHERE cid IN"
      " (SELECT cid FROM collections WHERE account=?1)",
      "DELETE FROM meta WHERE account=?1",
  };
  {
    Use q(*conn.begin);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(conn.db, "begin"));
  }
  Status s;
  for (const char* sql : kRemove) {
    sqlite_internal::Statement remove;
    s = conn.Prepare(remove, sql);
    if (!s.ok()) break;
    Use q(remove);
    q.Text(1, account);
    s = q.Run(conn.db, "remove account");
    if (!s.ok()) break;
  }
  for (size_t i = 0; s.ok() && i < ledger_meta.meta().size(); ++i) {
    const auto& [key, value] = ledger_meta.meta()[i];
    Use q(*conn.set_meta);
    q.Text(1, ledger).Text(2, key).Blob(3, value);
    s = q.Run(conn.db, "set meta");
  }
  if (s.ok()) {
    Use q(*conn.commit);
    s = q.Run(conn.db, "commit");
  }
  if (!s.ok() && !sqlite3_get_autocommit(conn.db)) {
    Use q(*conn.rollback);
    (void)q.Step();
  }
  return s;
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

  Status RemoveAccount(std::string_view account, std::string_view ledger,
                       const ChangeBatch& ledger_meta) noexcept override {
    SYNCSTACK_RETURN_IF_ERROR(
        ValidateRemoveAccount(account, ledger, ledger_meta));
    try {
      return RemoveSqliteAccount(*conn_, account, ledger, ledger_meta);
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
