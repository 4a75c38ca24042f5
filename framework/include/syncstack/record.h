// Core types: record ids, timestamps, versions, records, manifest entries.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "syncstack/status.h"

namespace syncstack {

// A record id: a 16-byte UUID. The text form exists only at the edges.
// Ids order bytewise, which is also the order of their canonical text.
class RecordId {
 public:
  constexpr RecordId() noexcept = default;
  explicit constexpr RecordId(const std::array<uint8_t, 16>& bytes) noexcept
      : bytes_(bytes) {}

  // Parses canonical text "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
  // case-insensitive. Anything else is kInvalidArgument.
  static Result<RecordId> Parse(std::string_view text);

  // Builds an id from 16 raw bytes (e.g. a store key).
  // REQUIRES: raw.size() == 16
  static RecordId FromBytes(std::string_view raw) noexcept;

  // A random version-4 UUID from a non-deterministic source.
  static RecordId Random();

  // Canonical lower-case text, 36 characters.
  std::string ToString() const;
  // Writes the 36 characters at `out`. REQUIRES: room for 36 bytes.
  void FormatTo(char* out) const noexcept;

  const std::array<uint8_t, 16>& bytes() const noexcept { return bytes_; }
  std::string_view raw() const noexcept {
    return {reinterpret_cast<const char*>(bytes_.data()), bytes_.size()};
  }

  friend auto operator<=>(const RecordId&, const RecordId&) = default;
  friend bool operator==(const RecordId&, const RecordId&) = default;

 private:
  std::array<uint8_t, 16> bytes_{};
};

struct RecordIdHash {
  size_t operator()(const RecordId& id) const noexcept;
};

// Milliseconds since the Unix epoch, UTC. The protocol's `last_update`.
using Timestamp = int64_t;
inline constexpr Timestamp kNoTimestamp = INT64_MIN;

// The instants the protocol carries: 1970-01-01 00:00:00.000 to
// 9999-12-31 23:59:59.999 UTC, the ones FormatTimestamp prints back.
inline constexpr Timestamp kMinTimestamp = 0;
inline constexpr Timestamp kMaxTimestamp = 253402300799999;

// Parses `YYYY-MM-DD HH:MM:SS[.fff]` (the seed's form and the protocol's
// output form) and ISO-8601 `YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm|-hh:mm)`.
// Fractions finer than milliseconds are truncated. Errors: kInvalidArgument
// (not such text, or an instant, after applying the offset, outside
// kMinTimestamp..kMaxTimestamp).
Result<Timestamp> ParseTimestamp(std::string_view text);

// Formats as `YYYY-MM-DD HH:MM:SS.mmm` (23 characters).
std::string FormatTimestamp(Timestamp ts);
// Writes the 23 characters at `out`. REQUIRES: room for 23 bytes.
void FormatTimestampTo(Timestamp ts, char* out) noexcept;

// What a conflict policy needs to order two writes of one record.
// `timestamp` is what travels as `last_update`. `extra` is opaque,
// policy-defined bytes (a hybrid clock's counter, a version vector, a
// server sequence); stores keep it but never look inside.
struct Version {
  Timestamp timestamp = kNoTimestamp;
  std::string extra;

  friend bool operator==(const Version&, const Version&) = default;
};

// A client's knowledge of one record relative to the server.
// Server-side rows are always kSynced.
enum class SyncState : uint8_t {
  kSynced = 0,   // equals the server's version `base`
  kCreated = 1,  // created on this device, never acknowledged by the server
  kChanged = 2,  // synced once (has a base), edited here since
  kDeleted = 3,  // synced once, deleted here since; a tombstone to push
};
std::string_view SyncStateName(SyncState state) noexcept;

// One record of one collection.
struct Record {
  std::string collection;
  RecordId id;
  Version version;
  bool deleted = false;  // a tombstone; `payload` is then empty
  SyncState state = SyncState::kSynced;
  // The server's `last_update` this device last saw for the record
  // (kNoTimestamp if never synced). Unused on the server.
  Timestamp base = kNoTimestamp;
  // The application's JSON object, without the id key and `last_update`,
  // byte for byte as it arrived (e.g. `{"title":"milk","n":1}`).
  std::string payload;

  friend bool operator==(const Record&, const Record&) = default;
};

// A record without its payload: what a manifest scan yields.
struct ManifestEntry {
  RecordId id;
  Version version;
  bool deleted = false;
  SyncState state = SyncState::kSynced;
  Timestamp base = kNoTimestamp;
};

// A half-open id range [begin, end); `end` unset means "to the last id".
struct IdRange {
  RecordId begin;
  RecordId end;
  bool has_end = false;

  static IdRange All() noexcept { return {}; }
  bool Contains(const RecordId& id) const noexcept {
    return id >= begin && (!has_end || id < end);
  }
};

}  // namespace syncstack
