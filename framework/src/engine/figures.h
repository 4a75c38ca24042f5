// Private: the device's count + fingerprint of the records the server
// acknowledged to it, per collection (meta::DeviceFingerprint): the figure
// a changes-mode sync compares with the feed's at O(1)
// (docs/decisions/changes-mode.md).
//
// A row's contribution is a pure function of the row:
//   synced, live                 -> (id, version)
//   synced tombstone             -> nothing
//   created here, never synced   -> nothing
//   changed or deleted here      -> (id, {base, ""}): what the server
//                                   acknowledged, as far as the row tells
// so an application write (Replica) through a policy whose versions carry
// no extra bytes (last-write-wins, HLC) leaves the figure as it was, and
// the engine updates it in the batch of each write it makes itself.
#pragma once

#include <optional>

#include "syncstack/fingerprint.h"
#include "syncstack/record.h"
#include "syncstack/store.h"

namespace syncstack::engine {

// What `row` adds to the figure; nullopt: nothing.
std::optional<Version> Acknowledged(const ManifestEntry& row);
std::optional<Version> Acknowledged(const Record& row);

// Replaces `before`'s contribution to `figure` by `after`'s (nullptr: no
// row). False when `before` was edited here and its acknowledged version
// cannot be told from the row (its policy's versions carry extra bytes):
// the figure is then no longer exact.
bool Replace(SetFingerprint& figure, const Record* before, const Record* after);

// The figure kept for `collection`; nullopt when none is kept (or it is
// unreadable: then it is rebuilt). Errors: the store's.
Result<std::optional<SetFingerprint>> ReadFigure(Store& store,
                                                 std::string_view collection);

// The figure of `collection` by one scan of its rows.
Result<SetFingerprint> ScanFigure(Store& store, std::string_view collection);

// "<count>:<16 hex digits>", as reports print it.
std::string DescribeFigure(uint64_t count, uint64_t sum);

}  // namespace syncstack::engine
