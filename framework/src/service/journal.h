// Private: the conflict journal, the service's side. Entry n, for
// "journal/first" <= n < "journal/next", is the metadata
// meta::JournalEntry(n % kJournalSlots), the JSON of journal.h, added in
// the same transaction as the resolution it records. The journal is
// bounded twice: by its slots (entry n overwrites entry n - kJournalSlots)
// and by age (entries older than the retention are dropped, their slots
// emptied, when new ones are written). ReadConflictJournal (service.h)
// reads them back.
#pragma once

#include <chrono>
#include <vector>

#include "syncstack/journal.h"
#include "syncstack/store.h"

namespace syncstack::service {

// The most entries an account's journal holds.
inline constexpr uint64_t kJournalSlots = 100000;

// Adds to `batch` the writes that append `entries` (in order) to the
// journal of `store`'s account and drop the entries older than
// `retention` before the newest of `entries` (none when zero), at most
// kMaxDropsPerAppend of them per call. Errors: those of Store::GetMeta.
inline constexpr uint64_t kMaxDropsPerAppend = 1000;
Status AppendToJournal(Store& store,
                       const std::vector<ConflictJournalEntry>& entries,
                       std::chrono::hours retention, ChangeBatch& batch);

}  // namespace syncstack::service
