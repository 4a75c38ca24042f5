// Private: the device's count + fingerprint of the records the server
// acknowledged to it, per collection (meta::DeviceFingerprint): the figure
// a changes-mode sync compares with the feed's at O(1)
// (docs/decisions/changes-mode.md).
//
// A row's contribution is its acknowledged version:
//   synced, live                 -> (id, version)
//   synced tombstone             -> nothing
//   created here, never synced   -> nothing
//   changed or deleted here      -> (id, {base, kept extra}): what the
//                                   server acknowledged
// where "kept extra" is the acknowledged version's extra bytes, kept in
// meta::AcknowledgedExtra(collection, id) for an edited row whose policy's
// versions carry any (version vectors, server-clock, field-merge; none
// for last-write-wins and HLC, which write no entry). The entry is set in
// the transaction that turns the synced row into an edited one (Replica,
// KeepAcknowledged; the mapped store's capture triggers) and set to "" in
// the one that makes it synced again or removes it (the engine, through
// TrackChange), so an application write leaves the figure exact for every
// policy and the engine updates it in the batch of each write it makes,
// never by a scan. ScanFigure (the one-time rebuild) reads the same
// entries and gives the same figure.
#pragma once

#include <optional>
#include <string>

#include "syncstack/fingerprint.h"
#include "syncstack/record.h"
#include "syncstack/store.h"

namespace syncstack::engine {

// `extra` as the value of a meta::AcknowledgedExtra entry (hex digits).
std::string EncodeAcknowledgedExtra(std::string_view extra);

// Adds to `batch` the entry that keeps `current`'s acknowledged extra
// bytes when the batch turns `current` (a synced row of `collection`) into
// one edited here (kChanged or kDeleted, with base = current.base). A row
// not synced, a tombstone or a version without extra bytes needs none:
// nothing added.
void KeepAcknowledged(std::string_view collection, const Record& current,
                      ChangeBatch& batch);

// What one write does to the figure and to the row's kept extra bytes.
struct AcknowledgedChange {
  std::optional<Version> before;  // the row's contribution before; nullopt:
  std::optional<Version> after;   // nothing (as after the write)
  // The value the row's meta::AcknowledgedExtra entry must take in the
  // same batch ("" clears it); nullopt: leave it as it is.
  std::optional<std::string> entry;
  // False when the write makes an edited row whose acknowledged version
  // cannot be told (no rule above covers it): the figure is then no
  // longer exact.
  bool exact = true;
};

// The change a write from `before` to `after` (nullptr: no row) of row `id`
// in `collection` makes. `set_in_batch`: the row's entry as the writer set
// it in the batch itself (the engine acknowledging a push the app edited
// again meanwhile), or nullptr. Reads the kept entry of an edited
// `before`. Errors: the store's.
Result<AcknowledgedChange> TrackChange(Store& store,
                                       std::string_view collection,
                                       const RecordId& id, const Record* before,
                                       const Record* after,
                                       const std::string* set_in_batch);

// Applies `change` to `figure`.
void Replace(SetFingerprint& figure, const RecordId& id,
             const AcknowledgedChange& change);

// The figure kept for `collection`; nullopt when none is kept (or it is
// unreadable: then it is rebuilt). Errors: the store's.
Result<std::optional<SetFingerprint>> ReadFigure(Store& store,
                                                 std::string_view collection);

// The figure of `collection` by one scan of its rows (and one read of the
// kept entry per row edited here). Errors: the store's.
Result<SetFingerprint> ScanFigure(Store& store, std::string_view collection);

// "<count>:<16 hex digits>", as reports print it.
std::string DescribeFigure(uint64_t count, uint64_t sum);

}  // namespace syncstack::engine
