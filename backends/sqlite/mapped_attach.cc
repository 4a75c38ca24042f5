// Attaching the mapped SQLite store to an app's database: checking each
// mapping against the tables, syncstack's own tables, the capture
// triggers, the backfill of rows that predate the first attach, and the
// column changes the store follows (docs/decisions/mapped-tables.md).
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "mapped_internal.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::mapped_internal {
namespace {

using sqlite_internal::Exec;
using sqlite_internal::SqliteError;
using sqlite_internal::Statement;
using sqlite_internal::Use;

// The database's clock in milliseconds since the epoch.
constexpr std::string_view kNow =
    "CAST(round((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";
constexpr std::string_view kNoTs = "-9223372036854775808";  // kNoTimestamp

// syncstack's tables. _syncstack_rows: the sync state of every record
// (and an unmapped record's payload, or a mapped record's fields that have
// no column); _syncstack_parked: pulled rows waiting for their parent;
// _syncstack_applying: the row syncstack is writing (its triggers skip
// it); _syncstack_captured: writes captured without their policy's
// version, one note per capture in capture order (appended, so a capture
// costs no random b-tree insert; Store::StampCaptured folds a row's
// notes): when, the provisional timestamp written, the version before
// and the columns before; _syncstack_tables: the columns seen at the last
// attach.
constexpr const char* kSideTables = R"sql(
CREATE TABLE IF NOT EXISTS _syncstack_rows(
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  extra BLOB NOT NULL,
  deleted INTEGER NOT NULL,
  state INTEGER NOT NULL,
  base INTEGER NOT NULL,
  payload TEXT,
  PRIMARY KEY(collection, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _syncstack_meta(
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _syncstack_parked(
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  payload TEXT NOT NULL,
  PRIMARY KEY(collection, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _syncstack_applying(
  k INTEGER PRIMARY KEY CHECK(k = 0),
  collection TEXT,
  id TEXT);
INSERT OR IGNORE INTO _syncstack_applying VALUES(0, NULL, NULL);
CREATE TABLE IF NOT EXISTS _syncstack_captured(
  seq INTEGER PRIMARY KEY,
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  at INTEGER NOT NULL,
  new_ts INTEGER NOT NULL,
  prev_ts INTEGER,
  prev_extra BLOB,
  prior TEXT);
CREATE TABLE IF NOT EXISTS _syncstack_tables(
  collection TEXT PRIMARY KEY,
  tbl TEXT NOT NULL,
  columns TEXT NOT NULL);
)sql";

constexpr std::string_view kSchemaKey = "mapped/schema";

// A lower-case canonical UUID, as a GLOB pattern.
std::string UuidGlob() {
  std::string out;
  for (int n : {8, 4, 4, 4, 12}) {
    if (!out.empty()) out += '-';
    for (int i = 0; i < n; ++i) out += "[0-9a-f]";
  }
  return out;
}

std::string Quote(std::string_view text) {
  std::string out = "'";
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// One column of PRAGMA table_info.
struct TableColumn {
  std::string name;
  std::string type;
  int pk = 0;
  std::string default_sql;
};

Result<std::vector<TableColumn>> TableInfo(sqlite3* db,
                                           std::string_view table) {
  Statement stmt;
  SYNCSTACK_RETURN_IF_ERROR(stmt.Prepare(
      db,
      "SELECT name, type, pk, dflt_value FROM pragma_table_info(?1, 'main')"));
  Use q(stmt);
  q.Text(1, table);
  std::vector<TableColumn> out;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    out.push_back({std::string(q.ColumnText(0)), std::string(q.ColumnText(1)),
                   static_cast<int>(q.ColumnInt(2)),
                   std::string(q.ColumnText(3))});
  }
  if (rc != SQLITE_DONE) return SqliteError(db, rc, "table_info");
  return out;
}

Result<bool> TableExists(sqlite3* db, std::string_view name) {
  Statement stmt;
  SYNCSTACK_RETURN_IF_ERROR(stmt.Prepare(
      db, "SELECT 1 FROM sqlite_master WHERE type=?2 AND name=?1"));
  Use q(stmt);
  q.Text(1, name).Text(2, "table");
  int rc = q.Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db, rc, "sqlite_master");
}

Result<bool> TriggerExists(sqlite3* db, const std::string& name) {
  Statement stmt;
  SYNCSTACK_RETURN_IF_ERROR(stmt.Prepare(
      db, "SELECT 1 FROM sqlite_master WHERE type='trigger' AND name=?1"));
  Use q(stmt);
  q.Text(1, name);
  int rc = q.Step();
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return SqliteError(db, rc, "sqlite_master");
}

// The first value a query yields as text, or nullopt.
Result<std::optional<std::string>> QueryText(sqlite3* db,
                                             const std::string& sql,
                                             std::string_view arg = {}) {
  Statement stmt;
  SYNCSTACK_RETURN_IF_ERROR(stmt.Prepare(db, sql));
  Use q(stmt);
  if (sql.find("?1") != std::string::npos) q.Text(1, arg);
  int rc = q.Step();
  if (rc == SQLITE_ROW) {
    return std::optional<std::string>(std::string(q.ColumnText(0)));
  }
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  return SqliteError(db, rc, sql);
}

ColumnKind KindOf(std::string type) {
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  if (type == "BOOL" || type == "BOOLEAN") return ColumnKind::kBool;
  if (type == "JSON" || type == "JSONB") return ColumnKind::kJson;
  return ColumnKind::kValue;
}

// Checks `m` against the table and fills `out` (no statements yet).
Status Describe(sqlite3* db, const Schema& schema, const std::string& name,
                const TableMapping& m, MappedTable& out) {
  const std::string where =
      "collection \"" + name + "\": table \"" + m.table + "\"";
  SYNCSTACK_ASSIGN_OR_RETURN(std::vector<TableColumn> info,
                             TableInfo(db, m.table));
  if (info.empty()) {
    return Status::InvalidArgument("collection \"" + name + "\": no table \"" +
                                   m.table + "\" in the database");
  }
  out.collection = name;
  out.table = m.table;
  out.id_column = std::string(*schema.IdKey(name));
  out.depth = schema.Depth(name);
  std::vector<std::string> pk;
  bool has_id = false;
  for (const TableColumn& c : info) {
    if (c.pk > 0) pk.push_back(c.name);
    if (c.name == out.id_column) {
      has_id = true;
      continue;
    }
    if (c.name == "last_update") {
      return Status::InvalidArgument(
          where +
          ": a column named \"last_update\" (the protocol's "
          "version field) cannot be synced; rename it");
    }
    if (c.name == m.account) continue;  // the server's, never a field
    out.columns.push_back({c.name, KindOf(c.type), c.default_sql});
  }
  if (!has_id) {
    return Status::InvalidArgument(where + " has no column \"" + out.id_column +
                                   "\" (the id key)");
  }
  if (pk.empty()) {
    return Status::InvalidArgument(where +
                                   " has no primary key (want PRIMARY KEY on "
                                   "the id column \"" +
                                   out.id_column + "\")");
  }
  if (pk.size() != 1 || pk[0] != out.id_column) {
    std::string cols;
    for (const auto& c : pk) cols += (cols.empty() ? "" : ", ") + c;
    return Status::InvalidArgument(where + ": its primary key is (" + cols +
                                   "), not the id column \"" + out.id_column +
                                   "\"");
  }
  for (const auto& [column, parent] : m.references) {
    auto it = std::find_if(out.columns.begin(), out.columns.end(),
                           [&](const Column& c) { return c.name == column; });
    if (it == out.columns.end()) {
      return Status::InvalidArgument(where + " has no column \"" + column +
                                     "\" (named in \"references\")");
    }
    out.references.emplace_back(static_cast<size_t>(it - out.columns.begin()),
                                parent);
  }
  return Status::Ok();
}

// Refuses a table with a row whose id is not a lower-case UUID.
Status CheckIds(sqlite3* db, const MappedTable& t) {
  const std::string id = Ident(t.id_column);
  SYNCSTACK_ASSIGN_OR_RETURN(
      std::optional<std::string> bad,
      QueryText(db, "SELECT quote(" + id + ") FROM " + Ident(t.table) +
                        " WHERE " + id + " IS NULL OR typeof(" + id +
                        ")<>'text' OR NOT " + id + " GLOB '" + UuidGlob() +
                        "' LIMIT 1"));
  if (!bad) return Status::Ok();
  return Status::InvalidArgument(
      "table \"" + t.table + "\" row " + t.id_column + "=" + *bad +
      ": the id is not a UUID (want lower-case "
      "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx); nothing was synced");
}

std::string TriggerName(const MappedTable& t, std::string_view kind) {
  return "_syncstack_" + t.table + "_" + std::string(kind);
}

// One column value of the row before a write, as JSON: a real by its
// exact text (quote()) as {"r": text}, so that it reads back bit for bit;
// a BLOB (never synced) as null.
std::string PriorValue(const std::string& v) {
  return "CASE typeof(" + v + ") WHEN 'real' THEN json_object('r', quote(" + v +
         ")) WHEN 'blob' THEN NULL ELSE " + v + " END";
}

// The synced columns of `row` (OLD) as a JSON object: what the record was
// before the write (LocalWrite::previous_payload, for per-field policies).
// Chunks of 50 columns joined by json_patch: SQLite caps a function's
// arguments at 127.
std::string Prior(const MappedTable& t, const std::string& row) {
  constexpr size_t kChunk = 50;
  std::string out;
  for (size_t at = 0; at < t.columns.size() || at == 0; at += kChunk) {
    std::string chunk = "json_object(";
    for (size_t i = at; i < std::min(t.columns.size(), at + kChunk); ++i) {
      if (i > at) chunk += ", ";
      chunk += Quote(t.columns[i].name) + ", " +
               PriorValue(row + "." + Ident(t.columns[i].name));
    }
    chunk += ")";
    out = out.empty() ? chunk : "json_patch(" + out + ", " + chunk + ")";
  }
  return out;
}

// Notes that row `id` was captured (when `where` holds): the time, the
// provisional timestamp the capture writes (as CaptureWrite and
// CaptureDelete compute it), the version it replaces and `prior` (its
// columns before, or NULL). Runs before the sync state changes.
std::string NoteCapture(const MappedTable& t, const std::string& id,
                        const std::string& prior,
                        const std::string& where = "true") {
  const std::string coll = Quote(t.collection);
  const std::string now(kNow);
  return "INSERT INTO _syncstack_captured(collection, id, at, new_ts, "
         "prev_ts, prev_extra, prior) SELECT " +
         coll + ", " + id + ", " + now + ", CASE WHEN r.ts IS NULL THEN " +
         now + " ELSE max(" + now + ", r.ts + 1) END, r.ts, r.extra, " + prior +
         " FROM (SELECT 1) LEFT JOIN _syncstack_rows AS r ON r.collection "
         "= " +
         coll + " AND r.id = " + id + " WHERE " + where + ";\n";
}

// Refuses an app write whose id is not a lower-case UUID, at once and in
// the app's statement (RAISE takes only a literal message: the table and
// the column, not the value).
std::string CheckId(const MappedTable& t, const std::string& id) {
  const std::string message =
      "syncstack: table \"" + t.table + "\": the id column \"" + t.id_column +
      "\" takes lower-case UUIDs (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx); "
      "this write was refused";
  return "SELECT RAISE(ABORT, " + Quote(message) + ") WHERE NOT (typeof(" + id +
         ") = 'text' AND " + id + " GLOB '" + UuidGlob() + "');\n";
}

// The upsert of a local write of row `id` (NEW."id") into the sync state,
// as Replica::Put does it: a row the server never saw (or saw only
// deleted) is created, any other changed.
std::string CaptureWrite(const MappedTable& t, const std::string& id) {
  return "INSERT INTO _syncstack_rows(collection, id, ts, extra, deleted, "
         "state, base, payload) VALUES(" +
         Quote(t.collection) + ", " + id + ", " + std::string(kNow) +
         ", x'', 0, 1, " + std::string(kNoTs) +
         ", NULL) ON CONFLICT(collection, id) DO UPDATE SET "
         "ts = max(excluded.ts, ts + 1), extra = x'', "
         "payload = CASE WHEN deleted = 1 THEN NULL ELSE payload END, "
         "state = CASE WHEN state = 1 OR (deleted = 1 AND state = 0) "
         "THEN 1 ELSE 2 END, deleted = 0;\n"
         "DELETE FROM _syncstack_parked WHERE collection = " +
         Quote(t.collection) + " AND id = " + id + ";\n";
}

// A local delete of row `id`: a tombstone to push (Replica::Remove).
std::string CaptureDelete(const MappedTable& t, const std::string& id) {
  return "UPDATE _syncstack_rows SET deleted = 1, state = 3, ts = max(" +
         std::string(kNow) +
         ", ts + 1), extra = x'', payload = NULL WHERE collection = " +
         Quote(t.collection) + " AND id = " + id;
}

// KeepAcknowledged for row `id` (an SQL expression) of `t`'s collection,
// when `where` holds.
std::string KeepAcknowledgedOf(const MappedTable& t, const std::string& id,
                               const std::string& where = "true") {
  return KeepAcknowledged(Quote(meta::AcknowledgedExtra(t.collection, "")),
                          "collection = " + Quote(t.collection) +
                              " AND id = " + id + " AND " + where) +
         ";\n";
}

std::string NotApplying(const MappedTable& t, const std::string& id) {
  return " WHEN NOT EXISTS(SELECT 1 FROM _syncstack_applying WHERE "
         "collection = " +
         Quote(t.collection) + " AND id = " + id + ")";
}

Status DropTriggers(sqlite3* db, const MappedTable& t) {
  for (const char* kind : {"ins", "upd", "del"}) {
    std::string sql = "DROP TRIGGER IF EXISTS " + Ident(TriggerName(t, kind));
    SYNCSTACK_RETURN_IF_ERROR(Exec(db, sql.c_str()));
  }
  return Status::Ok();
}

Status CreateTriggers(sqlite3* db, const MappedTable& t) {
  const std::string table = Ident(t.table);
  const std::string new_id = "NEW." + Ident(t.id_column);
  const std::string old_id = "OLD." + Ident(t.id_column);
  const std::string moved = old_id + " IS NOT " + new_id;
  const std::string before = Prior(t, "OLD");
  const std::string insert =
      "CREATE TRIGGER " + Ident(TriggerName(t, "ins")) + " AFTER INSERT ON " +
      table + NotApplying(t, new_id) + " BEGIN " + CheckId(t, new_id) +
      NoteCapture(t, new_id, "NULL") + KeepAcknowledgedOf(t, new_id) +
      CaptureWrite(t, new_id) + " END;\n";
  // A changed id: a delete of the old id and a write of the new one.
  const std::string update =
      "CREATE TRIGGER " + Ident(TriggerName(t, "upd")) + " AFTER UPDATE ON " +
      table + NotApplying(t, new_id) + " BEGIN " + CheckId(t, new_id) +
      NoteCapture(t, old_id, before, moved) +
      KeepAcknowledgedOf(t, old_id, moved) + CaptureDelete(t, old_id) +
      " AND " + moved + ";\n" +
      NoteCapture(t, new_id,
                  "CASE WHEN " + moved + " THEN NULL ELSE " + before + " END") +
      KeepAcknowledgedOf(t, new_id) + CaptureWrite(t, new_id) + " END;\n";
  const std::string remove =
      "CREATE TRIGGER " + Ident(TriggerName(t, "del")) + " AFTER DELETE ON " +
      table + NotApplying(t, old_id) + " BEGIN " +
      NoteCapture(t, old_id, before) + KeepAcknowledgedOf(t, old_id) +
      CaptureDelete(t, old_id) + "; END;\n";
  return Exec(db, (insert + update + remove).c_str());
}

// The database's clock now, as an SQL literal: one time for several
// statements.
Result<std::string> NowLiteral(sqlite3* db) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> now,
                             QueryText(db, "SELECT " + std::string(kNow)));
  if (!now) return Status::IOError("the database's clock");
  return *now;
}

// Rows present before the first attach are created offline (captured:
// stamped by the policy at the first sync).
Status Backfill(sqlite3* db, const MappedTable& t) {
  SYNCSTACK_ASSIGN_OR_RETURN(const std::string now, NowLiteral(db));
  const std::string sql =
      "INSERT INTO _syncstack_captured(collection, id, at, new_ts) SELECT " +
      Quote(t.collection) + ", " + Ident(t.id_column) + ", " + now + ", " +
      now + " FROM " + Ident(t.table) + " WHERE " + Ident(t.id_column) +
      " NOT IN (SELECT id FROM _syncstack_rows WHERE collection = " +
      Quote(t.collection) +
      ");\n"
      "INSERT INTO _syncstack_rows(collection, id, ts, extra, deleted, state, "
      "base, payload) SELECT " +
      Quote(t.collection) + ", " + Ident(t.id_column) + ", " + now +
      ", x'', 0, 1, " + std::string(kNoTs) + ", NULL FROM " + Ident(t.table) +
      " WHERE true ON CONFLICT(collection, id) DO NOTHING";
  return Exec(db, sql.c_str());
}

// After the triggers were missing (a table rebuilt by the app): rows with
// no sync state are created offline, sync state with no row is deleted
// here. Edits made meanwhile cannot be told apart and are not captured.
Status Reconcile(sqlite3* db, const MappedTable& t) {
  SYNCSTACK_RETURN_IF_ERROR(Backfill(db, t));
  const std::string gone =
      " WHERE collection = " + Quote(t.collection) +
      " AND deleted = 0 AND id NOT IN (SELECT id FROM _syncstack_parked "
      "WHERE collection = " +
      Quote(t.collection) + ") AND id NOT IN (SELECT " + Ident(t.id_column) +
      " FROM " + Ident(t.table) + ")";
  SYNCSTACK_ASSIGN_OR_RETURN(const std::string now, NowLiteral(db));
  const std::string sql =
      "INSERT INTO _syncstack_captured(collection, id, at, new_ts, prev_ts, "
      "prev_extra) SELECT collection, id, " +
      now + ", max(" + now + ", ts + 1), ts, extra FROM _syncstack_rows" +
      gone + ";\n" +
      KeepAcknowledged(Quote(meta::AcknowledgedExtra(t.collection, "")),
                       gone.substr(std::string(" WHERE ").size())) +
      ";\n"
      "UPDATE _syncstack_rows SET deleted = 1, state = 3, ts = max(" +
      now + ", ts + 1), payload = NULL" + gone;
  return Exec(db, sql.c_str());
}

std::string JoinColumns(const MappedTable& t) {
  std::string out;
  for (const Column& c : t.columns) out += (out.empty() ? "" : ",") + c.name;
  return out;
}

// Fields kept for lack of a column move into `column`, added since,
// unless the app wrote the row's new column meanwhile (a value there, and
// an edit not synced yet): the app's write wins.
Status AdoptColumn(sqlite3* db, const MappedTable& t,
                   const std::string& column) {
  const std::string path = Quote("$.\"" + column + "\"");
  const std::string coll = Quote(t.collection);
  const std::string sql =
      "UPDATE " + Ident(t.table) + " SET " + Ident(column) +
      " = (SELECT json_extract(r.payload, " + path +
      ") FROM _syncstack_rows AS r WHERE r.collection = " + coll +
      " AND r.id = " + Ident(t.table) + "." + Ident(t.id_column) + ") WHERE " +
      Ident(t.id_column) +
      " IN (SELECT id FROM _syncstack_rows WHERE collection = " + coll +
      " AND json_type(payload, " + path + ") IS NOT NULL) AND (" +
      Ident(column) + " IS NULL OR " + Ident(t.id_column) +
      " IN (SELECT id FROM _syncstack_rows WHERE collection = " + coll +
      " AND state = 0));\n"
      "UPDATE _syncstack_rows SET payload = nullif(json_remove(payload, " +
      path + "), '{}') WHERE collection = " + coll +
      " AND json_type(payload, " + path + ") IS NOT NULL;";
  return Exec(db, sql.c_str());
}

// Follows the table's columns since the last attach: added ones adopt
// kept fields; a dropped one is refused.
Status FollowColumns(sqlite3* db, const MappedTable& t,
                     const std::string& recorded) {
  std::set<std::string> now;
  for (const Column& c : t.columns) now.insert(c.name);
  std::set<std::string> before;
  for (size_t at = 0; at < recorded.size();) {
    size_t comma = std::min(recorded.find(',', at), recorded.size());
    if (comma > at) before.insert(recorded.substr(at, comma - at));
    at = comma + 1;
  }
  for (const std::string& c : before) {
    if (now.count(c) == 0) {
      return Status::InvalidArgument(
          "table \"" + t.table + "\": column \"" + c +
          "\" was dropped or renamed since syncstack attached; that is not "
          "supported (this device would drop the field from every record "
          "it next edits). Add it back, or add a new column instead");
    }
  }
  for (const std::string& c : now) {
    if (before.count(c) == 0) SYNCSTACK_RETURN_IF_ERROR(AdoptColumn(db, t, c));
  }
  return Status::Ok();
}

// Attaches one described table (inside the attach transaction).
Status AttachTable(sqlite3* db, const MappedTable& t) {
  SYNCSTACK_RETURN_IF_ERROR(CheckIds(db, t));
  SYNCSTACK_ASSIGN_OR_RETURN(
      std::optional<std::string> recorded,
      QueryText(db,
                "SELECT columns FROM _syncstack_tables WHERE collection = ?1",
                t.collection));
  bool had_triggers = true;
  for (const char* kind : {"ins", "upd", "del"}) {
    SYNCSTACK_ASSIGN_OR_RETURN(bool there,
                               TriggerExists(db, TriggerName(t, kind)));
    had_triggers = had_triggers && there;
  }
  SYNCSTACK_RETURN_IF_ERROR(DropTriggers(db, t));
  if (!recorded) {
    SYNCSTACK_RETURN_IF_ERROR(Backfill(db, t));
  } else {
    if (!had_triggers) SYNCSTACK_RETURN_IF_ERROR(Reconcile(db, t));
    SYNCSTACK_RETURN_IF_ERROR(FollowColumns(db, t, *recorded));
  }
  SYNCSTACK_RETURN_IF_ERROR(CreateTriggers(db, t));
  Statement record;
  SYNCSTACK_RETURN_IF_ERROR(record.Prepare(
      db,
      "INSERT INTO _syncstack_tables(collection, tbl, columns) VALUES(?1, "
      "?2, ?3) ON CONFLICT(collection) DO UPDATE SET tbl = excluded.tbl, "
      "columns = excluded.columns"));
  Use q(record);
  const std::string columns = JoinColumns(t);
  q.Text(1, t.collection).Text(2, t.table).Text(3, columns);
  return q.Run(db, "record the mapped table");
}

// Refuses collections mapped at an earlier attach and missing now.
Status CheckNoneUnmapped(sqlite3* db, const Schema& schema) {
  Statement stmt;
  SYNCSTACK_RETURN_IF_ERROR(
      stmt.Prepare(db, "SELECT collection, tbl FROM _syncstack_tables"));
  Use q(stmt);
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    const std::string name(q.ColumnText(0));
    if (schema.Mapping(name) == nullptr) {
      return Status::InvalidArgument(
          "collection \"" + name + "\" was mapped to table \"" +
          std::string(q.ColumnText(1)) +
          "\" and is not in this schema; unmapping a collection is not "
          "supported");
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(db, rc, "_syncstack_tables");
  return Status::Ok();
}

// The schema to attach: `given`, or the one recorded at the last attach.
Result<Schema> SchemaToAttach(sqlite3* db, const Schema& given) {
  if (!given.mappings().empty()) return given;
  SYNCSTACK_ASSIGN_OR_RETURN(bool attached, TableExists(db, "_syncstack_meta"));
  std::optional<std::string> json;
  if (attached) {
    SYNCSTACK_ASSIGN_OR_RETURN(
        json, QueryText(db, "SELECT value FROM _syncstack_meta WHERE key = ?1",
                        kSchemaKey));
  }
  if (!json) {
    return Status::InvalidArgument(
        "no mapped tables: give a schema file whose collections name "
        "tables (--schema)");
  }
  auto parsed = Schema::Parse(*json);
  if (!parsed.ok()) return parsed.status().WithContext("the attached schema");
  return parsed;
}

Status PrepareStatements(sqlite3* db, MappedTable& t) {
  const std::string table = Ident(t.table);
  const std::string id = Ident(t.id_column);
  std::string cols, params, sets;
  int n = 2;
  const size_t flags = t.columns.size() + 2;
  for (const Column& c : t.columns) {
    cols += ", " + Ident(c.name);
    const std::string value = "?" + std::to_string(n);
    params += c.default_sql.empty()
                  ? ", " + value
                  : ", CASE WHEN ?" + std::to_string(flags + (n - 2)) +
                        " THEN (" + c.default_sql + ") ELSE " + value + " END";
    ++n;
    sets += (sets.empty() ? "" : ", ") + Ident(c.name) + " = excluded." +
            Ident(c.name);
  }
  std::string upsert = "INSERT INTO " + table + "(" + id + cols +
                       ") VALUES(?1" + params + ") ON CONFLICT(" + id + ") DO ";
  upsert += sets.empty() ? "NOTHING" : "UPDATE SET " + sets;
  SYNCSTACK_RETURN_IF_ERROR(t.upsert.Prepare(db, upsert));
  for (size_t i = 0; i < t.columns.size(); ++i) {
    t.index.emplace(t.columns[i].name, i);
  }
  SYNCSTACK_RETURN_IF_ERROR(t.exists.Prepare(
      db, "SELECT 1 FROM " + table + " WHERE " + id + " = ?1"));
  SYNCSTACK_RETURN_IF_ERROR(t.select.Prepare(
      db, "SELECT 1" + cols + " FROM " + table + " WHERE " + id + " = ?1"));
  return t.remove.Prepare(db,
                          "DELETE FROM " + table + " WHERE " + id + " = ?1");
}

Status AttachLocked(sqlite3* db, const Schema& given,
                    std::vector<std::unique_ptr<MappedTable>>& tables,
                    Schema& attached) {
  SYNCSTACK_ASSIGN_OR_RETURN(attached, SchemaToAttach(db, given));
  for (const std::string& name : attached.ParentsFirst()) {
    auto t = std::make_unique<MappedTable>();
    SYNCSTACK_RETURN_IF_ERROR(
        Describe(db, attached, name, *attached.Mapping(name), *t));
    tables.push_back(std::move(t));
  }
  SYNCSTACK_RETURN_IF_ERROR(Exec(db, kSideTables));
  SYNCSTACK_RETURN_IF_ERROR(CheckNoneUnmapped(db, attached));
  for (const auto& t : tables) SYNCSTACK_RETURN_IF_ERROR(AttachTable(db, *t));
  // Ids of rows not synced yet (a tombstone of a bad id that never left
  // the device is just forgotten).
  const std::string bad = "NOT id GLOB '" + UuidGlob() + "'";
  SYNCSTACK_RETURN_IF_ERROR(
      Exec(db, ("DELETE FROM _syncstack_rows WHERE deleted = 1 AND state = 3 "
                "AND " +
                bad)
                   .c_str()));
  Statement set;
  SYNCSTACK_RETURN_IF_ERROR(
      set.Prepare(db,
                  "INSERT INTO _syncstack_meta(key, value) VALUES(?1, ?2) ON "
                  "CONFLICT(key) DO UPDATE SET value = excluded.value"));
  Use q(set);
  const std::string json = attached.ToJson();
  q.Text(1, kSchemaKey).Blob(2, json);
  return q.Run(db, "record the schema");
}

}  // namespace

std::string KeepAcknowledged(const std::string& prefix,
                             const std::string& where) {
  return "INSERT INTO _syncstack_meta(key, value) SELECT " + prefix +
         " || id, hex(extra) FROM _syncstack_rows WHERE (" + where +
         ") AND state = 0 AND deleted = 0 AND length(extra) > 0 ON "
         "CONFLICT(key) DO UPDATE SET value = excluded.value";
}

std::string Ident(std::string_view name) {
  std::string out = "\"";
  for (char c : name) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}

Status Attach(sqlite3* db, const Schema& schema,
              std::vector<std::unique_ptr<MappedTable>>& tables,
              Schema& attached) {
  SYNCSTACK_RETURN_IF_ERROR(Exec(db, "BEGIN IMMEDIATE"));
  Status s = AttachLocked(db, schema, tables, attached);
  if (s.ok()) s = Exec(db, "COMMIT");
  if (!s.ok()) {
    if (!sqlite3_get_autocommit(db)) (void)Exec(db, "ROLLBACK");
    tables.clear();
    return s;
  }
  for (const auto& t : tables) {
    SYNCSTACK_RETURN_IF_ERROR(PrepareStatements(db, *t));
  }
  return Status::Ok();
}

}  // namespace syncstack::mapped_internal
