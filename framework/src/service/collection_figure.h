// Private: the per-collection figure of a server account, the count and
// fingerprint (fingerprint.h) of a collection's live records, kept in
// metadata (meta::CollectionFigure) by the write path in the batch of each
// write. GET /v1/changes answers with it.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "service/pending_writes.h"
#include "syncstack/fingerprint.h"
#include "syncstack/status.h"
#include "syncstack/store.h"

namespace syncstack::service {

// The figure of `collection` computed from its rows: one scan.
// Errors: those of Store.
Result<SetFingerprint> ScanFigure(Store& store, std::string_view collection);

// The stored figure of `collection`, or (when the account was written
// before figures were kept) the one ScanFigure computes. Errors: those of
// Store; kCorruption for a damaged stored value.
Result<SetFingerprint> CurrentFigure(Store& store, std::string_view collection,
                                     bool* stored);

// Sets in `batch` each collection's figure after the touched rows of
// `state` replace `before` (the rows as read; a missing id: no row).
// REQUIRES: the caller holds the account's write lock, so that the
// figures read are those the rows in `before` belong to.
Status UpdateFigures(Store& store, const PendingWrites& state,
                     const std::map<std::string, std::map<RecordId, Record>,
                                    std::less<>>& before,
                     ChangeBatch& batch);

}  // namespace syncstack::service
