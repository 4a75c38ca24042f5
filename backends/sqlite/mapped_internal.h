// Internal to the mapped SQLite store: the mapped tables as attached
// (mapped_attach.cc) and used by the store (mapped_store.cc). Not installed.
#pragma once

#include <sqlite3.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sqlite_connection.h"
#include "syncstack/record.h"
#include "syncstack/schema.h"

namespace syncstack::mapped_internal {

// How a column's values become JSON.
enum class ColumnKind : unsigned char {
  kValue,  // by each value's SQLite type: integer, real, text, null
  kBool,   // declared BOOL/BOOLEAN: 0/1 as false/true
  kJson,   // declared JSON: the text is the JSON value
};

struct Column {
  std::string name;
  ColumnKind kind = ColumnKind::kValue;
  // The column's DEFAULT as SQL (PRAGMA table_info), or empty: what a
  // record that lacks the field writes.
  std::string default_sql;
};

// One mapped collection, its table and its statements.
struct MappedTable {
  std::string collection;
  std::string table;
  std::string id_column;
  // The synced columns: every column but the id and the account column.
  std::vector<Column> columns;
  // (index into columns, parent collection) per declared reference.
  std::vector<std::pair<size_t, std::string>> references;
  int depth = 0;  // Schema::Depth

  // SELECT <columns> FROM table WHERE id=?1
  sqlite_internal::Statement select;
  // INSERT INTO table(id, <columns>) VALUES(...) ON CONFLICT(id) DO UPDATE;
  // ?2.. the values, ?(columns.size() + 2 + i) set: column i takes its
  // default (the record lacks the field)
  sqlite_internal::Statement upsert;
  // DELETE FROM table WHERE id=?1
  sqlite_internal::Statement remove;
  // SELECT 1 FROM table WHERE id=?1
  sqlite_internal::Statement exists;
  // Column name -> index into columns.
  std::map<std::string, size_t, std::less<>> index;
};

// `name` quoted as an SQL identifier.
std::string Ident(std::string_view name);

// The side tables, the applying flag and the triggers' names.
inline constexpr std::string_view kRowsTable = "_syncstack_rows";

// The statement that keeps, for each row of _syncstack_rows matching
// `where` (SQL over its columns) that is synced and live with extra
// version bytes, those bytes in _syncstack_meta under
// meta::AcknowledgedExtra (`prefix`: an SQL expression for the key up to
// the id): run just before a capture turns such a row into one edited
// here, so the device's figure stays exact (framework engine/figures.h).
std::string KeepAcknowledged(const std::string& prefix,
                             const std::string& where);

// Attaches to the mapped collections of `schema` on `db` (see
// OpenMappedSqliteDatabase): validates, creates syncstack's tables,
// (re)installs triggers, backfills, moves kept fields into new columns,
// and fills `tables` (parents first). Runs in its own transaction.
// `schema` with no mappings: those recorded at the last attach.
Status Attach(sqlite3* db, const Schema& schema,
              std::vector<std::unique_ptr<MappedTable>>& tables,
              Schema& attached);

}  // namespace syncstack::mapped_internal
