// The PostgreSQL store: a server database holding any number of accounts,
// shared by several server processes. Rows are keyed (account, collection,
// id) with the account first, so tables can be distributed by account.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "syncstack/schema.h"
#include "syncstack/store.h"

namespace syncstack {

struct PostgresDatabaseOptions {
  // A libpq connection string: "host=... dbname=..." or a postgresql:// URI.
  std::string conninfo;
  // The schema holding syncstack's tables; created (and migrated) if
  // missing. Default: "syncstack".
  std::string schema = "syncstack";
  // Most connections open at once; calls beyond it wait for a free one.
  // Default: 4.
  int pool_size = 4;
  // How many times Apply retries a transient failure (lost connection,
  // serialization failure, deadlock), with exponential backoff, before
  // giving up with kUnavailable. Default: 5.
  int max_retries = 5;
  // The first backoff; it doubles on each retry. Default: 20 ms.
  std::chrono::milliseconds retry_backoff{20};
  // Collections kept in the server's own tables: every mapping of this
  // schema with an "account" column (docs/mapped-tables.md). Opening
  // checks each table (it must exist, with a one-column primary key on the
  // id column, the account column and the referencing columns), installs
  // syncstack's capture triggers on it and records the rows already there;
  // a database attached before keeps its mapping when this is empty.
  // Default: none.
  Schema mapped_tables;
};

// Connects, creates or migrates the schema (safe when several processes
// open the same database at once) and returns the database.
// Errors: kUnavailable (cannot connect), kCorruption (the schema is of a
// newer version), kInvalidArgument (bad options; a mapped table that is
// missing, lacks a column or a primary key, holds an id that is not a
// UUID, or a mapping changed in a way not supported — nothing is changed
// then), kIOError.
Result<std::unique_ptr<Database>> OpenPostgresDatabase(
    const PostgresDatabaseOptions& options);

}  // namespace syncstack
