// The LMDB store: embedded, memory-mapped, durable by default, one
// directory holding any number of accounts. Reads never block writes; a
// manifest scan is one ordered key range per (account, collection).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "syncstack/store.h"

namespace syncstack {

struct LmdbDatabaseOptions {
  std::string path;  // a directory; LMDB keeps data.mdb and lock.mdb in it
  // Create the directory and the database if missing. Default: true.
  bool create_if_missing = true;
  // The first memory map size; the map doubles whenever it is full, so this
  // only sets where growth starts. Default: 64 MiB.
  size_t initial_map_size = size_t{64} << 20;
  // Read transactions open at once, over all processes using the directory
  // (fixed when the lock file is created). Default: 256.
  size_t max_readers = 256;
  // false: never flush to disk (MDB_NOSYNC), whatever WriteOptions.sync
  // says; a system crash may then lose or corrupt the database. For caches
  // and tests only. Default: true.
  bool sync = true;
};

// Opens (and creates) the database in the directory options.path. Batches
// applied with WriteOptions.sync false are not flushed until the next
// synced batch: until then a system crash (not a process crash) may lose
// them and, as LMDB documents for MDB_NOSYNC, may damage the database.
// Errors: kInvalidArgument (empty path), kIOError (cannot open or create),
// kCorruption (not a syncstack database, or a newer format version).
Result<std::unique_ptr<Database>> OpenLmdbDatabase(
    const LmdbDatabaseOptions& options);

}  // namespace syncstack
