// Streamed manifests and records, page by page in id order: the large-
// collection alternative to fetch.json (which stays, for seed clients).
// docs/protocol.md ("Streamed manifests") is the wire contract:
//
//   GET /v1/manifest                        the collections, their id keys
//                                           and the account's write sequence
//   GET /v1/manifest?collection=C[&after=ID][&limit=N][&format=binary]
//                                           one page of C's manifest
//   GET /v1/records?collection=C[&after=ID][&limit=N][&format=binary]
//                                           one page of C's records
//   POST /v1/reconcile?collection=C         one round of reconciliation
//
// A page holds the entries whose id is greater than `after`, at most
// `limit` of them. The JSON form of a page is fetch.json's shape for one
// collection ({"C": [...]}); a page shorter than its limit is the last.
// The binary form (application/octet-stream) also says whether more
// follow and carries the account's write sequence when the page was read:
//
//   "SSP1", kind (1 byte: 1 manifest, 2 records), varint seq,
//   1 byte more, varint-prefixed collection and id key, varint count,
//   then per entry: 16 id bytes, zigzag-varint last_update,
//   varint-prefixed version, and for records varint-prefixed payload.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/status.h"

namespace syncstack {

inline constexpr std::string_view kManifestPath = "/v1/manifest";
inline constexpr std::string_view kRecordsPath = "/v1/records";
inline constexpr std::string_view kReconcilePath = "/v1/reconcile";
inline constexpr std::string_view kChangesPath = "/v1/changes";
inline constexpr std::string_view kBinaryContentType =
    "application/octet-stream";

// Page sizes: the default and the most a server gives.
inline constexpr size_t kDefaultPageEntries = 10000;
inline constexpr size_t kMaxPageEntries = 100000;

// The answer of GET /v1/manifest without a collection:
//   {"collections": [{"name": "C", "id_key": "id"}, ...], "seq": N}
struct CollectionList {
  struct Entry {
    std::string name;
    std::string id_key;
  };
  std::vector<Entry> collections;  // sorted by name
  // The account's write sequence: it grows with every stored write, so a
  // device that remembers it can tell how much changed since.
  uint64_t seq = 0;
  // The history point "<seq>:<token>" of `seq` (member "_history"; empty:
  // absent): docs/decisions/server-restore.md.
  std::string history{};
};
void EncodeCollectionList(const CollectionList& list, std::string& out);
Result<CollectionList> DecodeCollectionList(std::string_view body);

struct ManifestPage {
  std::string collection;
  std::string id_key;
  std::vector<Stamp> entries;  // ascending ids
  bool more = false;           // binary form only: entries follow
  uint64_t seq = 0;            // binary form only
};

struct RecordsPage {
  std::string collection;
  std::string id_key;
  std::vector<WireRecord> records;  // ascending ids, with last_update
  bool more = false;
  uint64_t seq = 0;
};

// JSON: {"C": [{"<id key>": "...", "last_update": "...", "_version": ...}]}
void EncodeManifestPageJson(const ManifestPage& page, std::string& out);
// JSON: {"C": [<record objects with last_update (and _version)>]}
void EncodeRecordsPageJson(const RecordsPage& page, std::string& out);

void EncodeManifestPageBinary(const ManifestPage& page, std::string& out);
void EncodeRecordsPageBinary(const RecordsPage& page, std::string& out);
// Errors: kInvalidArgument naming what is wrong (truncated, bad magic,
// ids out of order, a count beyond the body).
Result<ManifestPage> DecodeManifestPageBinary(std::string_view body);
Result<RecordsPage> DecodeRecordsPageBinary(std::string_view body);

// --- GET /v1/changes: everything written after a write sequence ---------
// docs/protocol.md ("GET /v1/changes") is the wire contract:
//
//   GET /v1/changes?collection=C&after=S[&limit=N][&format=json|binary]
//                  [&history=SEQ:TOKEN]
//
// The rows of C (records and tombstones) written after sequence S, in
// ascending sequence order, with the collection's live count and
// fingerprint (fingerprint.h) at the page's `seq`. A 410 (kGone,
// "changes_refused") when the server cannot answer from S.

// The changes page sizes: the default and the most a server gives.
inline constexpr size_t kDefaultChangesEntries = 1000;
inline constexpr size_t kMaxChangesEntries = 100000;
// A page stops once about this much payload is in it (at least one entry).
inline constexpr size_t kChangesPageBytes = size_t{4} << 20;
// The largest `after` (2^63 - 1).
inline constexpr uint64_t kMaxChangesAfter = uint64_t{INT64_MAX};

// One written row: a record, or a tombstone (deleted, payload empty).
struct ChangeEntry {
  // id, last_update, payload ("" for a tombstone) and version (`_version`).
  WireRecord record;
  uint64_t seq = 0;  // the write sequence of the row's last write
  bool deleted = false;

  friend bool operator==(const ChangeEntry&, const ChangeEntry&) = default;
};

struct ChangesPage {
  std::string collection;
  std::string id_key;
  std::vector<ChangeEntry> changes;  // strictly ascending seq
  bool more = false;         // entries after this page existed at read time
  uint64_t last = 0;         // the last entry's seq (`after` when empty)
  uint64_t seq = 0;          // the account's write sequence with the page
  uint64_t count = 0;        // live records of the collection at `seq`
  uint64_t fingerprint = 0;  // their SetFingerprint sum at `seq`

  friend bool operator==(const ChangesPage&, const ChangesPage&) = default;
};

// JSON: {"collection": C, "id_key": K, "changes": [...], "more": false,
// "last": N, "seq": N, "count": N, "fingerprint": "<16 hex digits>"};
// an entry is the record object with "_seq" (and "_version" when set), a
// tombstone {"<id key>", "last_update", "_seq", "_deleted": true}.
void EncodeChangesPageJson(const ChangesPage& page, std::string& out);
// Binary: "SSP1", kind 3, varint seq, 1 byte more, varint-prefixed
// collection and id key, varint count, 8 bytes fingerprint (little-
// endian), varint last, varint entry count, then per entry: 16 id bytes,
// varint seq, 1 byte deleted, zigzag-varint last_update, varint-prefixed
// version and payload.
void EncodeChangesPageBinary(const ChangesPage& page, std::string& out);
// Errors: kInvalidArgument naming what is wrong (truncated, bad magic or
// kind, a flag not 0/1, sequences not strictly ascending or past `seq`,
// `last` not the last entry's, a tombstone with a payload, bytes after
// the last entry).
Result<ChangesPage> DecodeChangesPageBinary(std::string_view body);

}  // namespace syncstack
