// The order-independent fingerprint of a set of (id, version) pairs: what
// the server and a device keep per collection, incrementally, to check at
// O(1) that they hold the same set (docs/protocol.md, GET /v1/changes;
// docs/decisions/changes-feed.md).
//
// A record's hash h is the first 8 bytes, read as a little-endian uint64,
// of SHA-256 over (the id's 16 bytes ‖ last_update ms as 8 bytes little-
// endian two's complement ‖ the version's `extra` bytes). The fingerprint
// of a set is the wrapping (mod 2^64) sum of its records' h, so adding a
// record adds its h and removing it subtracts it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncstack/record.h"
#include "syncstack/status.h"

namespace syncstack {

// The hash h of one record with version `version`.
uint64_t RecordHash(const RecordId& id, const Version& version) noexcept;

// A set's record count and fingerprint. Plain value; not thread-safe.
struct SetFingerprint {
  uint64_t count = 0;
  uint64_t sum = 0;  // the fingerprint

  // Adds the record (id, version) to the set.
  void Add(const RecordId& id, const Version& version) noexcept;
  // Removes the record (id, version) from the set. REQUIRES: it was added
  // (with this very version).
  void Remove(const RecordId& id, const Version& version) noexcept;

  // The fingerprint as 16 lower-case hex digits, most significant first.
  std::string ToHex() const;
  // The stored form "<count>:<16 hex digits>" (metadata values).
  std::string Encode() const;
  // Parses Encode()'s form. Errors: kCorruption naming the value.
  static Result<SetFingerprint> Decode(std::string_view text);

  friend bool operator==(const SetFingerprint&,
                         const SetFingerprint&) = default;
};

// Parses 16 hex digits (either case) into a fingerprint value.
// Errors: kInvalidArgument.
Result<uint64_t> ParseFingerprintHex(std::string_view text);

}  // namespace syncstack
