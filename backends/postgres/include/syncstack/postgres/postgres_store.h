// The PostgreSQL store: a server database holding any number of accounts,
// shared by several server processes. Rows are keyed (account, collection,
// id) with the account first, so tables can be distributed by account.
#pragma once

#include <chrono>
#include <memory>
#include <string>

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
};

// Connects, creates or migrates the schema (safe when several processes
// open the same database at once) and returns the database.
// Errors: kUnavailable (cannot connect), kCorruption (the schema is of a
// newer version), kInvalidArgument (bad options), kIOError.
Result<std::unique_ptr<Database>> OpenPostgresDatabase(
    const PostgresDatabaseOptions& options);

}  // namespace syncstack
