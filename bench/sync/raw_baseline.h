// The baseline a sync's insert rate is compared with: the store's own
// engine, called directly, inserting the workload's N fill rows in one
// transaction into a fresh database.
#pragma once

#include <filesystem>

#include "stores.h"
#include "syncstack/status.h"
#include "workload.h"

namespace syncstack::bench {

// Rows per second of the raw insert into a new database at `path` (which
// must not exist; the caller removes it). SQLite: a prepared
// INSERT (id blob, timestamp, payload) into a WITHOUT ROWID table, with the
// store's settings (WAL, synchronous=FULL, 16 MiB cache). LMDB: mdb_put of
// the ids into a fresh environment mapped once for every row.
// Errors: kIOError naming the engine call that failed.
Result<double> RawInsertRate(StoreKind kind, const std::filesystem::path& path,
                             const Workload& workload);

}  // namespace syncstack::bench
