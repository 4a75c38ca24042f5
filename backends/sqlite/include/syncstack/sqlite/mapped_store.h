// The mapped SQLite store: syncs an application's own tables. A mapped
// collection's records are the rows of a table of the app's database (its
// columns are the record's fields); the app writes them with plain SQL and
// triggers installed here capture every insert, update and delete into
// syncstack's sync state, kept in `_syncstack_*` tables of the same
// database. Unmapped collections live in those tables too, so one file and
// one transaction hold everything. docs/mapped-tables.md.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "syncstack/schema.h"
#include "syncstack/store.h"

namespace syncstack {

struct MappedSqliteOptions {
  // The app's database file. It must exist (the app made its tables).
  std::string path;
  // The collections mapped to tables (Schema::mappings()); empty: the
  // mappings attached last time, as kept in the database. Default: empty.
  Schema schema;
  // How long to wait for the app's write lock. Default: 5 s.
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens the app's database and attaches syncstack to its mapped tables in
// one transaction: checks every mapping against the database (the table,
// its single-column primary key on the id column, the reference columns),
// creates syncstack's tables, installs the capture triggers, and records
// rows present before the first attach as created offline. Also checks
// that every row not yet synced has a lower-case UUID id.
// The Database has one account, kLocalAccount.
// Errors: kNotFound (no file), kInvalidArgument (a mapping that does not
// fit the database, a non-UUID id, a dropped mapped column; nothing is
// changed), kUnavailable (the app holds its write lock), kIOError,
// kCorruption.
Result<std::unique_ptr<Database>> OpenMappedSqliteDatabase(
    const MappedSqliteOptions& options);

// True if the file at `path` is an app database syncstack attached to
// (it has syncstack's mapped-store tables). Errors: kIOError.
Result<bool> IsMappedSqliteDatabase(const std::string& path);

}  // namespace syncstack
