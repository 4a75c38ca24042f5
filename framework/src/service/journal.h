// Private: the conflict journal, the service's side. Entries are metadata
// "journal/<n>" for n < "journal/next" (meta::JournalEntry), each the JSON
// of journal.h, added in the same transaction as the resolution they
// record. ReadConflictJournal (service.h) reads them back.
#pragma once

#include <vector>

#include "syncstack/journal.h"
#include "syncstack/store.h"

namespace syncstack::service {

// Adds to `batch` the writes that append `entries` (in order) to the
// journal of `store`'s account. Errors: those of Store::GetMeta.
Status AppendToJournal(Store& store,
                       const std::vector<ConflictJournalEntry>& entries,
                       ChangeBatch& batch);

}  // namespace syncstack::service
