// The end-to-end benchmark's records and edits, computed from the seed
// alone: record i's id and payload, and which records change in a round.
// Nothing is kept in memory, so N can be 10M.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "syncstack/record.h"

namespace syncstack::bench {

inline constexpr std::string_view kCollection = "todo";
// The fill's timestamps start here (before any edit of a round).
inline constexpr Timestamp kFillTime = 1'700'000'000'000;

struct Workload {
  uint64_t records = 0;  // on the server before the cold sync (>= 1)
  uint64_t changes = 0;  // changed before each incremental sync (<= records)
  size_t payload_bytes = 100;  // about this many bytes of JSON per record
  uint64_t seed = 1;           // of the record ids

  // Record i's id (a v4 UUID's shape). Distinct i give distinct ids.
  // REQUIRES: i < records.
  RecordId Id(uint64_t i) const;

  // Record i's JSON payload of about payload_bytes bytes, written by `by`;
  // `rev` 0 is the fill, round r's edits are rev r + 1.
  std::string Payload(uint64_t i, int rev, std::string_view by) const;

  // The index of the j-th change of `round` (0-based). Distinct within a
  // round; rounds start at different offsets. REQUIRES: j < changes.
  uint64_t ChangedIndex(int round, uint64_t j) const;

  // The bytes of a round's changed records as the seed protocol writes
  // each one in JSON, {"id":"<uuid>","last_update":<ms>,...payload...}:
  // the "changed records' own JSON" that issue 13's byte target is
  // measured against (last_update taken as 13 digits, as in 2001-2286).
  uint64_t ChangedJsonBytes(int round) const;

  // How many of a round's changes the server makes: the first
  // ceil(changes / 2); the device makes the rest.
  uint64_t ServerChanges() const { return (changes + 1) / 2; }
};

}  // namespace syncstack::bench
