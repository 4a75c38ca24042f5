// The mapped SQLite store (mapped_store.h): records of mapped collections
// are rows of the app's tables plus their sync state in _syncstack_rows;
// unmapped records live wholly in _syncstack_rows. Attaching (validation,
// triggers, backfill): mapped_attach.cc. docs/decisions/mapped-tables.md.
//
// Concurrency: one connection behind one mutex; the app writes through
// its own connections, and SQLite's write lock (BEGIN IMMEDIATE, the busy
// timeout) orders its transactions with ours.
#include "syncstack/sqlite/mapped_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "mapped_internal.h"
#include "syncstack/chunked_get.h"
#include "syncstack/codec.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/paged_iterator.h"
#include "syncstack/replica.h"

namespace syncstack {
namespace {

using mapped_internal::Column;
using mapped_internal::ColumnKind;
using mapped_internal::Ident;
using mapped_internal::MappedTable;
using sqlite_internal::Exec;
using sqlite_internal::SqliteError;
using sqlite_internal::Statement;
using sqlite_internal::Use;

constexpr size_t kScanPage = 1024;

Status OutOfMemory() { return Status::IOError("mapped store: out of memory"); }

// One field of a record's JSON, copied out of json_each.
struct Field {
  // kAbsent: the record lacks the field (the column takes its default).
  enum class Type : unsigned char { kAbsent, kNull, kInt, kReal, kText };
  Type type = Type::kAbsent;
  int64_t i = 0;
  double d = 0;
  std::string text;
};

// A child table's column that references a parent collection.
struct ChildLink {
  MappedTable* child;
  size_t column;
  std::unique_ptr<Statement> select;  // ids of the children of ?1
};

// The connection, the mapped tables and the statements, shared by the
// Database and its Store. All members are used under `mu`.
struct State {
  ~State() {
    tables.clear();
    children.clear();
    statements.clear();
    sqlite3_close(db);
  }

  std::mutex mu;
  sqlite3* db = nullptr;
  Schema schema;
  std::vector<std::unique_ptr<MappedTable>> tables;  // parents first
  std::map<std::string, MappedTable*, std::less<>> by_collection;
  std::map<std::string, std::vector<ChildLink>, std::less<>> children;

  std::vector<std::unique_ptr<Statement>> statements;
  Statement* begin = nullptr;
  Statement* commit = nullptr;
  Statement* rollback = nullptr;
  Statement* set_applying = nullptr;
  Statement* get_row = nullptr;
  Statement* put_row = nullptr;
  Statement* delete_row = nullptr;
  Statement* scan = nullptr;
  Statement* collections = nullptr;
  Statement* get_meta = nullptr;
  Statement* set_meta = nullptr;
  Statement* get_parked = nullptr;
  Statement* put_parked = nullptr;
  Statement* delete_parked = nullptr;
  Statement* list_parked = nullptr;
  Statement* fields = nullptr;
  Statement* any_captured = nullptr;
  Statement* list_captured = nullptr;
  Statement* clear_captured = nullptr;
  Statement* note_captured = nullptr;
  Statement* set_version = nullptr;
  Statement* prior_fields = nullptr;
  Statement* get_schema_version = nullptr;
  Statement* unsynced = nullptr;

  Status PrepareAll();
  // by_collection and children, from tables.
  Status LinkTables();
  // Follows a change the app made to its schema while the store is open
  // (PRAGMA schema_version moved since the last attach): attaches again,
  // so an added column is synced from now on and its triggers are
  // current. REQUIRES: mu held, no transaction open.
  Status Refresh();
  Result<int64_t> SchemaVersion();
  int64_t schema_version = -1;
  // PRAGMA synchronous for the next transaction: FULL for a durable
  // write, NORMAL otherwise; run only when it changes.
  Status SetSync(bool sync) {
    const int level = sync ? 2 : 1;
    if (level == sync_level) return Status::Ok();
    SYNCSTACK_RETURN_IF_ERROR(Exec(
        db, sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
    sync_level = level;
    return Status::Ok();
  }
  int sync_level = -1;
  MappedTable* Find(std::string_view collection) const {
    auto it = by_collection.find(collection);
    return it == by_collection.end() ? nullptr : it->second;
  }
};

Status State::PrepareAll() {
  struct {
    Statement** slot;
    const char* sql;
  } const kStatements[] = {
      {&begin, "BEGIN IMMEDIATE"},
      {&commit, "COMMIT"},
      {&rollback, "ROLLBACK"},
      {&set_applying,
       "UPDATE _syncstack_applying SET collection = ?1, id = ?2 WHERE k = 0"},
      {&get_row,
       "SELECT ts, extra, deleted, state, base, payload FROM _syncstack_rows"
       " WHERE collection = ?1 AND id = ?2"},
      {&put_row,
       "INSERT INTO _syncstack_rows(collection, id, ts, extra, deleted, state,"
       " base, payload) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
       " ON CONFLICT(collection, id) DO UPDATE SET ts = excluded.ts,"
       " extra = excluded.extra, deleted = excluded.deleted,"
       " state = excluded.state, base = excluded.base,"
       " payload = excluded.payload"},
      {&delete_row,
       "DELETE FROM _syncstack_rows WHERE collection = ?1 AND id = ?2"},
      {&scan,
       "SELECT id, ts, extra, deleted, state, base FROM _syncstack_rows"
       " WHERE collection = ?1 AND id >= ?2 AND (?3 IS NULL OR id < ?3)"
       " AND (?4 OR deleted = 0) ORDER BY id LIMIT ?5"},
      {&collections,
       "SELECT DISTINCT collection FROM _syncstack_rows ORDER BY collection"},
      {&get_meta, "SELECT value FROM _syncstack_meta WHERE key = ?1"},
      {&set_meta,
       "INSERT INTO _syncstack_meta(key, value) VALUES(?1, ?2)"
       " ON CONFLICT(key) DO UPDATE SET value = excluded.value"},
      {&get_parked,
       "SELECT payload FROM _syncstack_parked WHERE collection = ?1 AND"
       " id = ?2"},
      {&put_parked,
       "INSERT INTO _syncstack_parked(collection, id, payload) VALUES(?1, ?2,"
       " ?3) ON CONFLICT(collection, id) DO UPDATE SET"
       " payload = excluded.payload"},
      {&delete_parked,
       "DELETE FROM _syncstack_parked WHERE collection = ?1 AND id = ?2"},
      {&list_parked, "SELECT collection, id, payload FROM _syncstack_parked"},
      {&fields,
       "SELECT key, type, value, json_quote(value) FROM json_each(?1)"
       " WHERE json_type(?1) = 'object'"},
      {&any_captured, "SELECT 1 FROM _syncstack_captured LIMIT 1"},
      {&get_schema_version, "PRAGMA schema_version"},
      // A range scan of the collection's sync state, without the rows:
      // no index, so a captured write costs no third b-tree insert.
      {&unsynced,
       "SELECT id FROM _syncstack_rows WHERE collection = ?1 AND state <> 0"
       " ORDER BY id"},
      {&list_captured,
       "SELECT collection, id, at, new_ts, prev_ts, prev_extra, prior"
       " FROM _syncstack_captured ORDER BY collection, id, seq"},
      {&clear_captured, "DELETE FROM _syncstack_captured"},
      {&note_captured,
       "INSERT INTO _syncstack_captured(collection, id, at, new_ts, prev_ts,"
       " prev_extra) SELECT ?1, ?2, ?3, max(?3, ts + 1), ts, extra"
       " FROM _syncstack_rows WHERE collection = ?1 AND id = ?2"},
      {&set_version,
       "UPDATE _syncstack_rows SET ts = ?3, extra = ?4"
       " WHERE collection = ?1 AND id = ?2"},
      {&prior_fields,
       "SELECT key, type, value,"
       " CASE WHEN type = 'object' THEN json_extract(value, '$.r') END"
       " FROM json_each(?1) WHERE json_type(?1) = 'object'"},
  };
  for (const auto& [slot, sql] : kStatements) {
    statements.push_back(std::make_unique<Statement>());
    SYNCSTACK_RETURN_IF_ERROR(statements.back()->Prepare(db, sql));
    *slot = statements.back().get();
  }
  SYNCSTACK_RETURN_IF_ERROR(LinkTables());
  SYNCSTACK_ASSIGN_OR_RETURN(schema_version, SchemaVersion());
  return Status::Ok();
}

Result<int64_t> State::SchemaVersion() {
  Use q(*get_schema_version);
  int rc = q.Step();
  if (rc != SQLITE_ROW) return SqliteError(db, rc, "schema_version");
  return q.ColumnInt(0);
}

Status State::Refresh() {
  SYNCSTACK_ASSIGN_OR_RETURN(int64_t now, SchemaVersion());
  if (now == schema_version) return Status::Ok();
  std::vector<std::unique_ptr<MappedTable>> fresh;
  Schema attached;
  SYNCSTACK_RETURN_IF_ERROR(
      mapped_internal::Attach(db, schema, fresh, attached)
          .WithContext("following the app's schema change"));
  children.clear();
  by_collection.clear();
  tables = std::move(fresh);
  SYNCSTACK_RETURN_IF_ERROR(LinkTables());
  SYNCSTACK_ASSIGN_OR_RETURN(schema_version, SchemaVersion());
  return Status::Ok();
}

Status State::LinkTables() {
  for (const auto& t : tables) {
    by_collection.emplace(t->collection, t.get());
    for (const auto& [column, parent] : t->references) {
      ChildLink link{t.get(), column, std::make_unique<Statement>()};
      SYNCSTACK_RETURN_IF_ERROR(link.select->Prepare(
          db, "SELECT " + Ident(t->id_column) + " FROM " + Ident(t->table) +
                  " WHERE " + Ident(t->columns[column].name) + " = ?1"));
      children[parent].push_back(std::move(link));
    }
  }
  return Status::Ok();
}

void AppendDouble(double d, std::string& out) {
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, end);
}

Status BlobError(const MappedTable& t, std::string_view id, const Column& c) {
  return Status::InvalidArgument(
      "table \"" + t.table + "\" row " + t.id_column + "='" + std::string(id) +
      "' column \"" + c.name + "\": a BLOB value cannot be synced");
}

// One column value of a record's JSON ("name":value), by its SQLite type
// (SQLITE_NULL, _INTEGER, _FLOAT or _TEXT; the matching one of i, d, text
// holds it) and the column's kind.
void AppendColumn(const Column& c, int type, int64_t i, double d,
                  std::string_view text, std::string& out) {
  if (out.size() > 1) out += ',';
  AppendJsonString(c.name, out);
  out += ':';
  switch (type) {
    case SQLITE_INTEGER:
      if (c.kind == ColumnKind::kBool) {
        out += i != 0 ? "true" : "false";
      } else {
        out += std::to_string(i);
      }
      break;
    case SQLITE_FLOAT:
      AppendDouble(d, out);
      break;
    case SQLITE_TEXT:
      if (c.kind == ColumnKind::kJson && ValidateJsonObject(text).ok()) {
        out += text;
      } else {
        AppendJsonString(text, out);
      }
      break;
    default:
      out += "null";
  }
}

// Closes a record's JSON: the kept fields `kept` (a JSON object, or
// empty) after the columns.
void AppendKept(std::string_view kept, std::string& out) {
  if (kept.size() > 2) {  // "{...}" with at least one member
    if (out.size() > 1) out += ',';
    out.append(kept.substr(1, kept.size() - 2));
  }
  out += '}';
}

// The record JSON of the row `q` (a MappedTable::select) read, with the
// kept fields `kept` (a JSON object, or empty) after the columns.
Status RowJson(const MappedTable& t, std::string_view id, const Use& q,
               std::string_view kept, std::string& out) {
  out = "{";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const int col = static_cast<int>(i) + 1;
    const int type = sqlite3_column_type(t.select.get(), col);
    if (type == SQLITE_BLOB) return BlobError(t, id, t.columns[i]);
    AppendColumn(
        t.columns[i], type, type == SQLITE_INTEGER ? q.ColumnInt(col) : 0,
        type == SQLITE_FLOAT ? sqlite3_column_double(t.select.get(), col) : 0,
        type == SQLITE_TEXT ? q.ColumnText(col) : std::string_view(), out);
  }
  AppendKept(kept, out);
  return Status::Ok();
}

class MappedStore final : public Store {
 public:
  explicit MappedStore(std::shared_ptr<State> state)
      : state_(std::move(state)) {}

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
  Status StampCaptured(
      const WriteOptions& options,
      FunctionRef<Version(const LocalWrite&)> stamp) noexcept override;
  // Reads the sync state only, then the unsynced rows: time in the
  // collection's sync-state rows plus the unsynced records, not in every
  // record (the default reads them all).
  Status ScanUnsynced(std::string_view collection,
                      FunctionRef<void(const Record&)> fn) noexcept override;

 private:
  // Stamps every captured write (inside the transaction).
  Status StampAll(FunctionRef<Version(const LocalWrite&)> stamp);
  // This device's replica id, made and kept on first use.
  Result<std::string> ReplicaId();
  // The record JSON of `prior` (a capture's columns before the write, as
  // the triggers wrote them) with the kept fields `kept`.
  Status PriorJson(const MappedTable& t, std::string_view prior,
                   std::string_view kept, std::string& out);
  // The notes of one row's captures since it was last stamped, folded:
  // the first note's version and columns before, the last note's time and
  // provisional timestamp.
  struct Captured {
    std::string collection, id;
    Timestamp at = kNoTimestamp, new_ts = kNoTimestamp;
    bool has_previous = false;
    Version previous;
    std::optional<std::string> prior;
  };
  // Stamps the row `c` names, unless syncstack wrote it since.
  Status StampOne(const Captured& c, LocalWrite& w,
                  FunctionRef<Version(const LocalWrite&)> stamp);
  // Reads the record (collection, id) into `out`; *found false if absent.
  // `kept`, if given: the mapped row's kept fields. REQUIRES: mu held.
  Status ReadRow(std::string_view collection, std::string_view id, Record& out,
                 bool* found, std::string* kept = nullptr);
  // The payload of live mapped row `id` of `t` (parked, or its columns).
  Status ReadPayload(MappedTable& t, std::string_view id, std::string_view kept,
                     std::string& out);
  Status ReadPage(std::string_view collection, const PageRequest& request,
                  EntryPage& page);

  // REQUIRES: mu held, inside the transaction.
  Status ApplyOps(const ChangeBatch& batch);
  Status ApplyOp(const ChangeBatch::Op& op);
  Status PutMapped(MappedTable& t, const Record& r, const std::string& id);
  Status RemoveMapped(MappedTable& t, const std::string& id);
  // Deletes the children of row `id` of `parent` as this device's own
  // deletes (to push): rows of the app's tables through their triggers,
  // parked rows directly; rows the running batch writes are left to it.
  Status CascadeDelete(const MappedTable& parent, const std::string& id);
  // Records a local delete of row `id` of `t` (as the delete trigger does)
  // and forgets its parked payload.
  Status DeleteHere(const MappedTable& t, const std::string& id);
  Status WriteSide(const Record& r, const std::string& id,
                   std::optional<std::string_view> payload);
  Status SetApplying(std::string_view collection, std::string_view id);
  // Splits `payload` into the column values of `t` and the kept fields.
  Status ParseFields(const MappedTable& t, std::string_view payload,
                     std::vector<Field>& values, std::string& kept);
  enum class Parents { kPresent, kPending, kGone };
  // Whether the parents `values` reference are rows of the app's tables,
  // yet to arrive, or deleted (tombstones here).
  Result<Parents> CheckParents(const MappedTable& t,
                               const std::vector<Field>& values);
  // Writes the row from parsed fields. REQUIRES: parents present.
  Status UpsertRow(MappedTable& t, const std::string& id,
                   const std::vector<Field>& values);
  // Writes parked rows whose parents arrived, until none does.
  Status Unpark();

  std::shared_ptr<State> state_;
  // The rows the running batch writes ("collection/id").
  std::set<std::string> in_batch_;
  // Payloads of rows of the batch that a cascade took out of the app's
  // table before their own op ran (that op's Expect still sees them).
  std::map<std::string, std::string> stashed_;
  Record current_;             // scratch for Expect checks
  std::vector<Field> values_;  // scratch for ParseFields
};

Status MappedStore::SetApplying(std::string_view collection,
                                std::string_view id) {
  Use q(*state_->set_applying);
  if (collection.empty()) {
    q.Null(1).Null(2);
  } else {
    q.Text(1, collection).Text(2, id);
  }
  return q.Run(state_->db, "set the applying row");
}

Status MappedStore::ReadPayload(MappedTable& t, std::string_view id,
                                std::string_view kept, std::string& out) {
  {
    Use p(*state_->get_parked);
    p.Text(1, t.collection).Text(2, id);
    int rc = p.Step();
    if (rc == SQLITE_ROW) {
      out.assign(p.ColumnText(0));
      return Status::Ok();
    }
    if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "parked");
  }
  Use q(t.select);
  q.Text(1, id);
  int rc = q.Step();
  if (rc == SQLITE_DONE) {
    auto stash = stashed_.find(t.collection + "/" + std::string(id));
    if (stash != stashed_.end()) {
      out = stash->second;
      return Status::Ok();
    }
    return Status::Corruption("table \"" + t.table + "\" row " + t.id_column +
                              "='" + std::string(id) +
                              "' has sync state but no row (was the table "
                              "changed while syncstack's triggers were "
                              "missing?)");
  }
  if (rc != SQLITE_ROW) return SqliteError(state_->db, rc, t.table);
  return RowJson(t, id, q, kept, out);
}

Status MappedStore::ReadRow(std::string_view collection, std::string_view id,
                            Record& out, bool* found, std::string* kept) {
  Use q(*state_->get_row);
  q.Text(1, collection).Text(2, id);
  int rc = q.Step();
  *found = rc == SQLITE_ROW;
  if (rc == SQLITE_DONE) return Status::Ok();
  if (rc != SQLITE_ROW) return SqliteError(state_->db, rc, "read row");
  out.collection.assign(collection);
  out.version.timestamp = q.ColumnInt(0);
  out.version.extra.assign(q.ColumnBlob(1));
  out.deleted = q.ColumnInt(2) != 0;
  const int64_t st = q.ColumnInt(3);
  if (st < 0 || st > static_cast<int64_t>(SyncState::kDeleted)) {
    return Status::Corruption("mapped store: bad sync state");
  }
  out.state = static_cast<SyncState>(st);
  out.base = q.ColumnInt(4);
  out.payload.clear();
  if (out.deleted) return Status::Ok();
  MappedTable* t = state_->Find(collection);
  if (t == nullptr) {
    out.payload.assign(q.ColumnText(5));
    return Status::Ok();
  }
  if (kept != nullptr) kept->assign(q.ColumnText(5));
  return ReadPayload(*t, id, q.ColumnText(5), out.payload);
}

Status MappedStore::Apply(const WriteOptions& options,
                          const ChangeBatch& batch) noexcept {
  for (const ChangeBatch::Op& op : batch.ops()) {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(op.record.collection));
  }
  if (batch.empty()) return Status::Ok();
  std::lock_guard lock(state_->mu);
  SYNCSTACK_RETURN_IF_ERROR(state_->Refresh());
  SYNCSTACK_RETURN_IF_ERROR(state_->SetSync(options.sync));
  {
    Use q(*state_->begin);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "begin"));
  }
  Status s;
  try {
    s = ApplyOps(batch);
    if (s.ok()) s = SetApplying({}, {});
    if (s.ok()) {
      Use q(*state_->commit);
      s = q.Run(state_->db, "commit");
    }
  } catch (const std::bad_alloc&) {
    s = OutOfMemory();
  }
  if (!s.ok() && !sqlite3_get_autocommit(state_->db)) {
    Use q(*state_->rollback);
    (void)q.Step();
  }
  return s;
}

Status MappedStore::ApplyOps(const ChangeBatch& batch) {
  // Parents first: the ops of one row stay together, in their order, in
  // the phase of the row's last op: removals (children first), then
  // writes (parents first). Unmapped collections have depth 0.
  const auto& ops = batch.ops();
  std::map<std::pair<std::string_view, RecordId>, bool> removes;
  for (const auto& op : ops) {
    removes[{op.record.collection, op.record.id}] =
        op.kind == ChangeBatch::Op::Kind::kErase || op.record.deleted;
  }
  in_batch_.clear();
  stashed_.clear();
  for (const auto& op : ops) {
    in_batch_.insert(op.record.collection + "/" + op.record.id.ToString());
  }
  std::vector<size_t> order(ops.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](size_t i) {
    const Record& r = ops[i].record;
    const int depth = state_->schema.Depth(r.collection);
    return removes[{r.collection, r.id}] ? -1000000 - depth : depth;
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return key(a) < key(b); });
  for (size_t i : order) SYNCSTACK_RETURN_IF_ERROR(ApplyOp(ops[i]));
  SYNCSTACK_RETURN_IF_ERROR(Unpark());
  for (const auto& [k, value] : batch.meta()) {
    Use q(*state_->set_meta);
    q.Text(1, k).Blob(2, value);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "set meta"));
  }
  return Status::Ok();
}

Status MappedStore::ApplyOp(const ChangeBatch::Op& op) {
  const Record& r = op.record;
  const std::string id = r.id.ToString();
  if (op.expect) {
    bool found = false;
    SYNCSTACK_RETURN_IF_ERROR(ReadRow(r.collection, id, current_, &found));
    if (!Satisfies(found ? &current_ : nullptr, *op.expect)) {
      return Status::Conflict("row " + r.collection + "/" + id +
                              " changed since it was read");
    }
  }
  MappedTable* t = state_->Find(r.collection);
  const bool erase = op.kind == ChangeBatch::Op::Kind::kErase;
  if (t == nullptr) {
    if (erase) {
      Use q(*state_->delete_row);
      q.Text(1, r.collection).Text(2, id);
      return q.Run(state_->db, "erase");
    }
    return WriteSide(
        r, id,
        r.deleted ? std::nullopt : std::optional<std::string_view>(r.payload));
  }
  SYNCSTACK_RETURN_IF_ERROR(SetApplying(r.collection, id));
  if (erase || r.deleted) {
    SYNCSTACK_RETURN_IF_ERROR(RemoveMapped(*t, id));
    if (!erase) return WriteSide(r, id, std::nullopt);
    Use q(*state_->delete_row);
    q.Text(1, r.collection).Text(2, id);
    return q.Run(state_->db, "erase");
  }
  return PutMapped(*t, r, id);
}

Status MappedStore::WriteSide(const Record& r, const std::string& id,
                              std::optional<std::string_view> payload) {
  Use q(*state_->put_row);
  q.Text(1, r.collection)
      .Text(2, id)
      .Int(3, r.version.timestamp)
      .Blob(4, r.version.extra)
      .Int(5, r.deleted ? 1 : 0)
      .Int(6, static_cast<int64_t>(r.state))
      .Int(7, r.base);
  if (payload && !payload->empty()) {
    q.Text(8, *payload);
  } else {
    q.Null(8);
  }
  return q.Run(state_->db, "write sync state");
}

Status MappedStore::ParseFields(const MappedTable& t, std::string_view payload,
                                std::vector<Field>& values, std::string& kept) {
  values.assign(t.columns.size(), Field{});
  kept.clear();
  Use q(*state_->fields);
  q.Text(1, payload);
  int rc;
  size_t n = 0;
  while ((rc = q.Step()) == SQLITE_ROW) {
    ++n;
    const std::string_view name = q.ColumnText(0);
    auto it = t.index.find(name);
    if (it == t.index.end()) {
      // A field the table has no column for is kept, never dropped.
      kept += kept.empty() ? "{" : ",";
      AppendJsonString(name, kept);
      kept += ':';
      kept += q.ColumnText(3);
      continue;
    }
    Field& f = values[it->second];
    const std::string_view type = q.ColumnText(1);
    if (type == "integer" || type == "true" || type == "false") {
      f.type = Field::Type::kInt;
      f.i = type == "integer" ? q.ColumnInt(2) : (type == "true" ? 1 : 0);
    } else if (type == "real") {
      f.type = Field::Type::kReal;
      f.d = sqlite3_column_double(state_->fields->get(), 2);
    } else if (type == "null") {
      f.type = Field::Type::kNull;
    } else {  // text, or an object or array as its JSON text
      f.type = Field::Type::kText;
      f.text.assign(q.ColumnText(2));
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "json_each");
  if (n == 0 && payload.find_first_not_of(" \t\r\n{}") != std::string::npos) {
    return Status::InvalidArgument("collection \"" + t.collection +
                                   "\": a payload that is not a JSON object");
  }
  if (!kept.empty()) kept += '}';
  return Status::Ok();
}

Result<MappedStore::Parents> MappedStore::CheckParents(
    const MappedTable& t, const std::vector<Field>& values) {
  Parents out = Parents::kPresent;
  for (const auto& [column, parent] : t.references) {
    const Field& f = values[column];
    if (f.type == Field::Type::kNull || f.type == Field::Type::kAbsent) {
      continue;
    }
    if (f.type != Field::Type::kText) return Parents::kGone;  // never an id
    MappedTable* p = state_->Find(parent);
    {
      Use q(p->exists);
      q.Text(1, f.text);
      int rc = q.Step();
      if (rc == SQLITE_ROW) continue;
      if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "parent");
    }
    Use q(*state_->get_row);
    q.Text(1, parent).Text(2, f.text);
    int rc = q.Step();
    if (rc == SQLITE_ROW && q.ColumnInt(2) != 0) return Parents::kGone;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return SqliteError(state_->db, rc, "parent");
    }
    out = Parents::kPending;  // not here yet, or itself parked
  }
  return out;
}

Status MappedStore::UpsertRow(MappedTable& t, const std::string& id,
                              const std::vector<Field>& values) {
  Use q(t.upsert);
  q.Text(1, id);
  for (size_t i = 0; i < values.size(); ++i) {
    const int at = static_cast<int>(i) + 2;
    const Field& f = values[i];
    if (!t.columns[i].default_sql.empty()) {
      q.Int(static_cast<int>(values.size() + 2 + i),
            f.type == Field::Type::kAbsent ? 1 : 0);
    }
    switch (f.type) {
      case Field::Type::kAbsent:
      case Field::Type::kNull:
        q.Null(at);
        break;
      case Field::Type::kInt:
        q.Int(at, f.i);
        break;
      case Field::Type::kReal:
        if (sqlite3_bind_double(t.upsert.get(), at, f.d) != SQLITE_OK) {
          return SqliteError(state_->db, SQLITE_ERROR, "bind");
        }
        break;
      case Field::Type::kText:
        q.Text(at, f.text);
        break;
    }
  }
  return q.Run(state_->db, "write table \"" + t.table + "\" row '" + id + "'");
}

Status MappedStore::PutMapped(MappedTable& t, const Record& r,
                              const std::string& id) {
  std::string kept;
  SYNCSTACK_RETURN_IF_ERROR(ParseFields(t, r.payload, values_, kept));
  SYNCSTACK_ASSIGN_OR_RETURN(Parents parents, CheckParents(t, values_));
  if (parents == Parents::kGone) {
    // Its parent was deleted: the child goes with it, as this device's
    // delete of the version it was sent (pushed at the next sync).
    SYNCSTACK_RETURN_IF_ERROR(WriteSide(r, id, std::nullopt));
    SYNCSTACK_RETURN_IF_ERROR(RemoveMapped(t, id));
    return DeleteHere(t, id);
  }
  if (parents == Parents::kPending) {
    // Parked until its parent arrives: the sync goes on, the row is
    // written by Unpark.
    Use q(*state_->put_parked);
    q.Text(1, t.collection).Text(2, id).Text(3, r.payload);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "park"));
    return WriteSide(r, id, std::nullopt);
  }
  SYNCSTACK_RETURN_IF_ERROR(UpsertRow(t, id, values_));
  {
    Use q(*state_->delete_parked);
    q.Text(1, t.collection).Text(2, id);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "unpark"));
  }
  return WriteSide(r, id, kept);
}

Status MappedStore::CascadeDelete(const MappedTable& parent,
                                  const std::string& id) {
  auto it = state_->children.find(parent.collection);
  if (it == state_->children.end()) return Status::Ok();
  for (ChildLink& link : it->second) {
    std::vector<std::string> ids;
    {
      Use q(*link.select);
      q.Text(1, id);
      int rc;
      while ((rc = q.Step()) == SQLITE_ROW) ids.emplace_back(q.ColumnText(0));
      if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "children");
    }
    {
      // Parked children: deleted here directly.
      Statement parked;
      SYNCSTACK_RETURN_IF_ERROR(parked.Prepare(
          state_->db,
          "SELECT id FROM _syncstack_parked WHERE collection = ?1 AND "
          "json_extract(payload, ?2) = ?3"));
      Use q(parked);
      const std::string path =
          "$.\"" + link.child->columns[link.column].name + "\"";
      q.Text(1, link.child->collection).Text(2, path).Text(3, id);
      std::vector<std::string> waiting;
      int rc;
      while ((rc = q.Step()) == SQLITE_ROW)
        waiting.emplace_back(q.ColumnText(0));
      if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "parked");
      for (const std::string& child : waiting) {
        if (in_batch_.count(link.child->collection + "/" + child) != 0) {
          continue;
        }
        SYNCSTACK_RETURN_IF_ERROR(DeleteHere(*link.child, child));
      }
    }
    for (const std::string& child : ids) {
      // A child the batch writes itself leaves the table uncaptured; its
      // own op then decides (a put finds its parent gone).
      const std::string key = link.child->collection + "/" + child;
      const bool own = in_batch_.count(key) != 0;
      if (own) {
        bool found = false;
        SYNCSTACK_RETURN_IF_ERROR(
            ReadRow(link.child->collection, child, current_, &found));
        if (found) stashed_[key] = current_.payload;
      }
      SYNCSTACK_RETURN_IF_ERROR(CascadeDelete(*link.child, child));
      // Otherwise not the applying row: the child's trigger captures a
      // local delete, pushed at the next sync.
      SYNCSTACK_RETURN_IF_ERROR(own ? SetApplying(link.child->collection, child)
                                    : SetApplying(parent.collection, id));
      Use q(link.child->remove);
      q.Text(1, child);
      SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "delete child"));
    }
  }
  return SetApplying(parent.collection, id);
}

Status MappedStore::DeleteHere(const MappedTable& t, const std::string& id) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  {
    // Stamped by the policy at the next StampCaptured, as an app's delete.
    Use q(*state_->note_captured);
    q.Text(1, t.collection).Text(2, id).Int(3, now);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "note a capture"));
  }
  {
    Statement keep;
    SYNCSTACK_RETURN_IF_ERROR(keep.Prepare(
        state_->db, mapped_internal::KeepAcknowledged("?1",
                                                      "collection = ?2 AND "
                                                      "id = ?3")));
    const std::string prefix = meta::AcknowledgedExtra(t.collection, "");
    Use q(keep);
    q.Text(1, prefix).Text(2, t.collection).Text(3, id);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "keep the acknowledged"));
  }
  Statement del;
  SYNCSTACK_RETURN_IF_ERROR(del.Prepare(
      state_->db,
      "UPDATE _syncstack_rows SET deleted = 1, state = 3, ts = max(?3, ts + "
      "1), extra = x'', payload = NULL WHERE collection = ?1 AND id = ?2"));
  {
    Use q(del);
    q.Text(1, t.collection).Text(2, id).Int(3, now);
    SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "delete here"));
  }
  Use q(*state_->delete_parked);
  q.Text(1, t.collection).Text(2, id);
  return q.Run(state_->db, "unpark");
}

Status MappedStore::RemoveMapped(MappedTable& t, const std::string& id) {
  SYNCSTACK_RETURN_IF_ERROR(CascadeDelete(t, id));
  {
    Use q(t.remove);
    q.Text(1, id);
    SYNCSTACK_RETURN_IF_ERROR(
        q.Run(state_->db, "delete table \"" + t.table + "\" row '" + id + "'"));
  }
  Use q(*state_->delete_parked);
  q.Text(1, t.collection).Text(2, id);
  return q.Run(state_->db, "unpark");
}

Status MappedStore::Unpark() {
  for (bool progress = true; progress;) {
    progress = false;
    std::vector<std::pair<std::string, std::string>> parked;
    std::vector<std::string> payloads;
    {
      Use q(*state_->list_parked);
      int rc;
      while ((rc = q.Step()) == SQLITE_ROW) {
        parked.emplace_back(q.ColumnText(0), q.ColumnText(1));
        payloads.emplace_back(q.ColumnText(2));
      }
      if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "parked");
    }
    for (size_t i = 0; i < parked.size(); ++i) {
      const auto& [collection, id] = parked[i];
      MappedTable* t = state_->Find(collection);
      if (t == nullptr) continue;
      std::string kept;
      SYNCSTACK_RETURN_IF_ERROR(ParseFields(*t, payloads[i], values_, kept));
      SYNCSTACK_ASSIGN_OR_RETURN(Parents parents, CheckParents(*t, values_));
      if (parents == Parents::kPending) continue;
      progress = true;
      if (parents == Parents::kGone) {
        SYNCSTACK_RETURN_IF_ERROR(DeleteHere(*t, id));
        continue;
      }
      SYNCSTACK_RETURN_IF_ERROR(SetApplying(collection, id));
      SYNCSTACK_RETURN_IF_ERROR(UpsertRow(*t, id, values_));
      SYNCSTACK_RETURN_IF_ERROR(SetApplying({}, {}));
      Use d(*state_->delete_parked);
      d.Text(1, collection).Text(2, id);
      SYNCSTACK_RETURN_IF_ERROR(d.Run(state_->db, "unpark"));
      Statement keep;
      SYNCSTACK_RETURN_IF_ERROR(keep.Prepare(
          state_->db,
          "UPDATE _syncstack_rows SET payload = ?3 WHERE collection = ?1 AND "
          "id = ?2"));
      Use k(keep);
      k.Text(1, collection).Text(2, id);
      if (kept.empty()) {
        k.Null(3);
      } else {
        k.Text(3, kept);
      }
      SYNCSTACK_RETURN_IF_ERROR(k.Run(state_->db, "kept fields"));
    }
  }
  return Status::Ok();
}

Status BadId(std::string_view collection, std::string_view id,
             const MappedTable* t) {
  if (t == nullptr) {
    return Status::Corruption("mapped store: bad id '" + std::string(id) +
                              "' in \"" + std::string(collection) + "\"");
  }
  return Status::InvalidArgument("table \"" + t->table + "\" row " +
                                 t->id_column + "='" + std::string(id) +
                                 "': the id is not a UUID (want lower-case "
                                 "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
}

Status MappedStore::ReadPage(std::string_view collection,
                             const PageRequest& request, EntryPage& page) {
  std::lock_guard lock(state_->mu);
  SYNCSTACK_RETURN_IF_ERROR(state_->Refresh());
  Use q(*state_->scan);
  const std::string begin = request.range.begin.ToString();
  const std::string end =
      request.range.has_end ? request.range.end.ToString() : std::string();
  q.Text(1, collection).Text(2, begin);
  if (request.range.has_end) {
    q.Text(3, end);
  } else {
    q.Null(3);
  }
  q.Int(4, request.include_tombstones ? 1 : 0)
      .Int(5, static_cast<int64_t>(request.limit));
  int rc;
  size_t n = 0;
  while ((rc = q.Step()) == SQLITE_ROW) {
    ++n;
    const std::string_view text = q.ColumnText(0);
    auto id = RecordId::Parse(text);
    if (!id.ok() || id->ToString() != text) {
      return BadId(collection, text, state_->Find(collection));
    }
    ManifestEntry& e = page.Add(*id);
    e.version.timestamp = q.ColumnInt(1);
    e.version.extra.assign(q.ColumnBlob(2));
    e.deleted = q.ColumnInt(3) != 0;
    e.state = static_cast<SyncState>(std::clamp<int64_t>(q.ColumnInt(4), 0, 3));
    e.base = q.ColumnInt(5);
  }
  if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "scan");
  if (n < request.limit) page.SetEnd();
  return Status::Ok();
}

std::unique_ptr<ManifestIterator> MappedStore::Scan(
    std::string_view collection, const ScanOptions& options) noexcept {
  if (Status s = ValidateCollectionName(collection); !s.ok()) {
    return NewErrorIterator(std::move(s));
  }
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

Status MappedStore::Get(std::string_view collection,
                        std::span<const RecordId> ids,
                        FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  auto read = [&](RecordChunk& chunk) -> Status {
    std::lock_guard lock(state_->mu);
    SYNCSTACK_RETURN_IF_ERROR(state_->Refresh());
    while (chunk.HasRoom()) {
      const RecordId id = chunk.next_id();
      bool found = false;
      SYNCSTACK_RETURN_IF_ERROR(
          ReadRow(collection, id.ToString(), current_, &found));
      if (!found) {
        chunk.NotFound();
        continue;
      }
      Record& out = chunk.Found();
      out = current_;
      out.id = id;
    }
    return Status::Ok();
  };
  try {
    return ChunkedGet(ids, read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status MappedStore::ScanUnsynced(std::string_view collection,
                                 FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    std::vector<RecordId> ids;
    {
      std::lock_guard lock(state_->mu);
      SYNCSTACK_RETURN_IF_ERROR(state_->Refresh());
      Use q(*state_->unsynced);
      q.Text(1, collection);
      int rc;
      while ((rc = q.Step()) == SQLITE_ROW) {
        const std::string_view text = q.ColumnText(0);
        auto id = RecordId::Parse(text);
        if (!id.ok() || id->ToString() != text) {
          return BadId(collection, text, state_->Find(collection));
        }
        ids.push_back(*id);
      }
      if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "unsynced");
    }
    // A row synced between the two reads is left out.
    return Get(collection, ids, [&](const Record& r) {
      if (r.state != SyncState::kSynced) fn(r);
    });
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<std::vector<std::string>> MappedStore::Collections() noexcept {
  try {
    std::vector<std::string> names;
    std::lock_guard lock(state_->mu);
    Use q(*state_->collections);
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) names.emplace_back(q.ColumnText(0));
    if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "collections");
    return names;
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<std::optional<std::string>> MappedStore::GetMeta(
    std::string_view key) noexcept {
  try {
    std::lock_guard lock(state_->mu);
    Use q(*state_->get_meta);
    q.Text(1, key);
    int rc = q.Step();
    if (rc == SQLITE_DONE) return std::optional<std::string>();
    if (rc != SQLITE_ROW) return SqliteError(state_->db, rc, "get meta");
    return std::optional<std::string>(std::string(q.ColumnBlob(0)));
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status MappedStore::StampCaptured(
    const WriteOptions& options,
    FunctionRef<Version(const LocalWrite&)> stamp) noexcept {
  try {
    std::lock_guard lock(state_->mu);
    SYNCSTACK_RETURN_IF_ERROR(state_->Refresh());
    {
      Use q(*state_->any_captured);
      int rc = q.Step();
      if (rc == SQLITE_DONE) return Status::Ok();
      if (rc != SQLITE_ROW) return SqliteError(state_->db, rc, "captured");
    }
    SYNCSTACK_RETURN_IF_ERROR(state_->SetSync(options.sync));
    {
      Use q(*state_->begin);
      SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "begin"));
    }
    Status s = StampAll(stamp);
    if (s.ok()) {
      Use q(*state_->commit);
      s = q.Run(state_->db, "commit");
    }
    if (!s.ok() && !sqlite3_get_autocommit(state_->db)) {
      Use q(*state_->rollback);
      (void)q.Step();
    }
    return s;
  } catch (const std::bad_alloc&) {
    if (!sqlite3_get_autocommit(state_->db)) {
      Use q(*state_->rollback);
      (void)q.Step();
    }
    return OutOfMemory();
  }
}

Result<std::string> MappedStore::ReplicaId() {
  {
    Use q(*state_->get_meta);
    q.Text(1, meta::kReplica);
    int rc = q.Step();
    if (rc == SQLITE_ROW && !q.ColumnBlob(0).empty()) {
      return std::string(q.ColumnBlob(0));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
      return SqliteError(state_->db, rc, "replica id");
    }
  }
  const std::string id = NewReplicaId();
  Use q(*state_->set_meta);
  q.Text(1, meta::kReplica).Blob(2, id);
  SYNCSTACK_RETURN_IF_ERROR(q.Run(state_->db, "keep the replica id"));
  return id;
}

Status MappedStore::PriorJson(const MappedTable& t, std::string_view prior,
                              std::string_view kept, std::string& out) {
  // Column -> (SQLite type, integer, real, text) as the trigger kept them.
  struct Value {
    int type = SQLITE_NULL;
    int64_t i = 0;
    double d = 0;
    std::string text;
  };
  std::map<std::string, Value, std::less<>> values;
  Use q(*state_->prior_fields);
  q.Text(1, prior);
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    Value& v = values[std::string(q.ColumnText(0))];
    const std::string_view type = q.ColumnText(1);
    if (type == "integer") {
      v.type = SQLITE_INTEGER;
      v.i = q.ColumnInt(2);
    } else if (type == "object") {  // {"r": the real's exact text}
      v.type = SQLITE_FLOAT;
      v.d = std::strtod(std::string(q.ColumnText(3)).c_str(), nullptr);
    } else if (type == "text") {
      v.type = SQLITE_TEXT;
      v.text.assign(q.ColumnText(2));
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "prior");
  out = "{";
  for (const Column& c : t.columns) {
    auto it = values.find(c.name);
    if (it == values.end()) continue;  // a column added since
    const Value& v = it->second;
    AppendColumn(c, v.type, v.i, v.d, v.text, out);
  }
  AppendKept(kept, out);
  return Status::Ok();
}

Status MappedStore::StampOne(const Captured& c, LocalWrite& w,
                             FunctionRef<Version(const LocalWrite&)> stamp) {
  MappedTable* t = state_->Find(c.collection);
  if (t == nullptr) return Status::Ok();
  bool found = false;
  std::string kept;
  SYNCSTACK_RETURN_IF_ERROR(
      ReadRow(c.collection, c.id, current_, &found, &kept));
  // Gone (a delete of a row never synced), or written by syncstack since
  // the last capture (its version is the engine's or a Replica's).
  if (!found || current_.state == SyncState::kSynced ||
      current_.version.timestamp != c.new_ts) {
    return Status::Ok();
  }
  std::string previous_payload;
  if (c.prior) {
    SYNCSTACK_RETURN_IF_ERROR(PriorJson(*t, *c.prior, kept, previous_payload));
  }
  w.previous = c.has_previous ? &c.previous : nullptr;
  w.now = c.at;
  w.deleted = current_.deleted;
  w.payload = current_.deleted ? std::string_view() : current_.payload;
  w.previous_payload = previous_payload;
  const Version v = stamp(w);
  Use set(*state_->set_version);
  set.Text(1, c.collection).Text(2, c.id).Int(3, v.timestamp).Blob(4, v.extra);
  return set.Run(state_->db, "stamp a captured write");
}

Status MappedStore::StampAll(FunctionRef<Version(const LocalWrite&)> stamp) {
  SYNCSTACK_ASSIGN_OR_RETURN(const std::string replica, ReplicaId());
  LocalWrite w;
  w.replica = replica;
  {
    Use q(*state_->get_meta);
    q.Text(1, meta::kPolicySeen);
    int rc = q.Step();
    if (rc == SQLITE_ROW) {
      w.highest_seen =
          std::strtoll(std::string(q.ColumnBlob(0)).c_str(), nullptr, 10);
    } else if (rc != SQLITE_DONE) {
      return SqliteError(state_->db, rc, "policy/seen");
    }
  }
  Use list(*state_->list_captured);
  Captured row;
  bool open = false;
  int rc;
  while ((rc = list.Step()) == SQLITE_ROW) {
    const std::string_view collection = list.ColumnText(0);
    const std::string_view id = list.ColumnText(1);
    if (!open || collection != row.collection || id != row.id) {
      if (open) SYNCSTACK_RETURN_IF_ERROR(StampOne(row, w, stamp));
      open = true;
      row.collection.assign(collection);
      row.id.assign(id);
      row.has_previous = !list.IsNull(4);
      row.previous =
          Version{list.ColumnInt(4), std::string(list.ColumnBlob(5))};
      row.prior.reset();
      if (!list.IsNull(6)) row.prior.emplace(list.ColumnText(6));
    }
    row.at = list.ColumnInt(2);
    row.new_ts = list.ColumnInt(3);
  }
  if (rc != SQLITE_DONE) return SqliteError(state_->db, rc, "captured");
  if (open) SYNCSTACK_RETURN_IF_ERROR(StampOne(row, w, stamp));
  Use clear(*state_->clear_captured);
  return clear.Run(state_->db, "stamped");
}

class MappedDatabase final : public Database {
 public:
  explicit MappedDatabase(std::shared_ptr<State> state)
      : state_(std::move(state)) {}

  Result<std::shared_ptr<Store>> OpenAccount(
      std::string_view account) noexcept override {
    if (account != kLocalAccount) {
      return Status::InvalidArgument(
          "a mapped app database holds one account, \"" +
          std::string(kLocalAccount) + "\", not \"" + std::string(account) +
          "\"");
    }
    try {
      std::lock_guard lock(mu_);
      if (!store_) store_ = std::make_shared<MappedStore>(state_);
      return std::shared_ptr<Store>(store_);
    } catch (const std::bad_alloc&) {
      return OutOfMemory();
    }
  }

 private:
  std::shared_ptr<State> state_;
  std::mutex mu_;
  std::shared_ptr<MappedStore> store_;
};

Status OpenConnection(const MappedSqliteOptions& options, sqlite3** db) {
  struct stat st;
  if (options.path.empty() || ::stat(options.path.c_str(), &st) != 0) {
    return Status::NotFound("no app database at \"" + options.path + "\"");
  }
  int rc =
      sqlite3_open_v2(options.path.c_str(), db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return SqliteError(*db, rc, "open " + options.path);
  sqlite3_extended_result_codes(*db, 1);
  auto timeout = options.busy_timeout.count();
  sqlite3_busy_timeout(*db, static_cast<int>(std::clamp<decltype(timeout)>(
                                timeout, 0, 1 << 30)));
  // The app's foreign keys hold for syncstack's writes too.
  return Exec(*db, "PRAGMA foreign_keys=ON");
}

}  // namespace

Result<std::unique_ptr<Database>> OpenMappedSqliteDatabase(
    const MappedSqliteOptions& options) {
  try {
    auto state = std::make_shared<State>();
    SYNCSTACK_RETURN_IF_ERROR(OpenConnection(options, &state->db));
    SYNCSTACK_RETURN_IF_ERROR(mapped_internal::Attach(
        state->db, options.schema, state->tables, state->schema));
    SYNCSTACK_RETURN_IF_ERROR(state->PrepareAll());
    return std::unique_ptr<Database>(
        std::make_unique<MappedDatabase>(std::move(state)));
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<bool> IsMappedSqliteDatabase(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  bool mapped = false;
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(
        db, "SELECT 1 FROM sqlite_master WHERE name='_syncstack_rows'",
        [](void* out, int, char**, char**) {
          *static_cast<bool*>(out) = true;
          return 0;
        },
        &mapped, nullptr);
  }
  Status s = rc == SQLITE_OK ? Status::Ok() : SqliteError(db, rc, path);
  sqlite3_close(db);
  if (!s.ok()) return s;
  return mapped;
}

}  // namespace syncstack
