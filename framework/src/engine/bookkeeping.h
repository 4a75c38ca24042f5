// Private: the metadata the engine keeps beside the records between runs
// (keys in syncstack/metadata_keys.h). Each write is one small transaction
// of its own, made only at the point of a run that the value describes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/mode.h"
#include "syncstack/clock.h"
#include "syncstack/schema.h"
#include "syncstack/store.h"

namespace syncstack::engine {

// The tombstone mark (sync/mark): the server's write sequence at the start
// of the last complete sync of every collection (0 before one), and the
// last history point "<seq>:<token>" the server gave (sync/history; empty
// if none): docs/decisions/server-restore.md.
struct SyncMark {
  int64_t seq = 0;
  std::string history;
};
// Errors: the store's.
Result<SyncMark> ReadSyncMark(Store& store);
// Add the mark and the history point to `batch` (the run's completion).
void AddSyncMark(ChangeBatch& batch, int64_t seq);
void AddHistoryPoint(ChangeBatch& batch, const std::string& point);

// What the last complete sync of `collection` recorded; not known when it
// was never written, cannot be read or is malformed.
LastSync ReadLastSync(Store& store, std::string_view collection);
// Adds to `batch`, for each collection names[i], items[i] server items,
// the write sequence `seq` and the time on `clock`. REQUIRES: equal sizes.
void AddLastSync(ChangeBatch& batch, std::span<const std::string> names,
                 std::span<const uint64_t> items, uint64_t seq, Clock& clock);

// Remembers the id keys the manifest taught (the schema, for `ls` and later
// runs) if they changed and, when `uses_highest_seen`, the highest stamp
// seen (policy/seen, for policies that stamp after it) if it grew. Errors:
// the store's.
Status WriteRunNotes(Store& store, const WriteOptions& options,
                     const Schema& schema, bool uses_highest_seen,
                     Timestamp highest_seen);

}  // namespace syncstack::engine
