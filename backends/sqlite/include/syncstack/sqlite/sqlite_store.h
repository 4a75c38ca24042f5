// The SQLite store: embedded, durable by default, one file holding any
// number of accounts. The default for devices and small servers.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "syncstack/store.h"

namespace syncstack {

struct SqliteDatabaseOptions {
  std::string path;  // ":memory:" for a private in-memory database
  // Create the file and schema if missing. Default: true.
  bool create_if_missing = true;
  // How long to wait for another process's write lock. Default: 5 s.
  std::chrono::milliseconds busy_timeout{5000};
};

// Opens (and creates or migrates) the database at options.path.
// Errors: kIOError (cannot open), kCorruption (not a syncstack database or
// a newer schema version), kInvalidArgument.
Result<std::unique_ptr<Database>> OpenSqliteDatabase(
    const SqliteDatabaseOptions& options);

}  // namespace syncstack
