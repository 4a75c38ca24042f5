// The JSON codec of PROTOCOL.md: fetch.json, synchronise.json, login, lock
// and error bodies. Transport-free: bytes in, typed messages out.
//
// Records travel as JSON objects holding their id key (per collection, from
// the Schema) and optionally `last_update`; every other member is the
// application's and is kept byte for byte as it arrived (the payload), so a
// record is never re-serialised on its way through syncstack.
//
// Decoders validate the whole document before returning anything, never
// recurse deeper than CodecLimits::max_depth, and name the offending part in
// their error (e.g. `add.budget[2]: record has no "bid" key`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/record.h"
#include "syncstack/schema.h"
#include "syncstack/status.h"

namespace syncstack {

struct CodecLimits {
  // Deepest nesting of arrays/objects in a whole message, the message's own
  // levels included (a record's object in synchronise.json is the 4th open
  // container, so its members may nest 124 more). Default: 128.
  int max_depth = 128;
};

// One record on the wire.
struct WireRecord {
  RecordId id;
  Timestamp last_update = kNoTimestamp;  // kNoTimestamp: not on the wire
  // The other members as a JSON object text, e.g. `{"title":"x"}`; `{}`
  // when there are none. Member text is copied verbatim (whitespace between
  // members may be normalised).
  std::string payload;
  // The policy's version data beyond last_update (`_version`, optional;
  // Version::extra); "" when not on the wire.
  std::string version{};

  friend bool operator==(const WireRecord&, const WireRecord&) = default;
};

struct CollectionRecords {
  std::string collection;
  std::vector<WireRecord> records;
};

struct CollectionIds {
  std::string collection;
  std::vector<RecordId> ids;
};

struct Stamp {
  RecordId id;
  Timestamp last_update = kNoTimestamp;
  std::string version{};  // `_version`, optional (see WireRecord)

  friend bool operator==(const Stamp&, const Stamp&) = default;
};

struct CollectionStamps {
  std::string collection;
  std::vector<Stamp> stamps;
};

// The body of synchronise.json. Lists keep wire order and repeats; the
// service treats repeated ids once.
struct SyncRequest {
  std::vector<CollectionRecords> add;
  std::vector<CollectionRecords> update;
  std::vector<CollectionIds> del;  // "delete"
  std::vector<CollectionIds> get;
  // Extensions (docs/protocol.md); seed clients send neither.
  // `_delete_versions`: the version of each delete, for policies that
  // order deletes (same shape as `stamps`).
  std::vector<CollectionStamps> delete_versions{};
  // `_versions: true`: the client wants `_version` in the answer's records
  // and stamps.
  bool want_versions = false;
  // `_tombstones: true`: the answer lists, under `_tombstones`, the
  // tombstones the server holds for the ids in `get` (the proof a device
  // needs before deleting a record by absence).
  bool want_tombstones = false;
};

enum class Kept : uint8_t { kServer, kClient, kMerged };
std::string_view KeptName(Kept kept) noexcept;  // "server" | "client" | ...

struct ConflictNote {
  RecordId id;
  Kept kept = Kept::kServer;
};

struct CollectionConflicts {
  std::string collection;
  std::vector<ConflictNote> conflicts;
};

// The 200 answer of synchronise.json.
struct SyncResponse {
  std::vector<CollectionRecords> get;  // every record has last_update
  std::vector<CollectionStamps> stamps;
  std::vector<CollectionConflicts> conflicts;
  // Extension `_tombstones` (only when the request asked): the deleted
  // records among `get`'s ids, with the delete's last_update (and
  // `_version` when asked).
  std::vector<CollectionStamps> tombstones{};
  // Extension `_get_left`: the ids whose records did not fit in this
  // answer's byte bound (the server's body limit); the client asks for them
  // again. Absent (empty) when every record asked for is in `get`.
  std::vector<CollectionIds> get_left{};
};

// The 200 answer of fetch.json: per collection, entries sorted by id.
struct Manifest {
  struct Collection {
    std::string name;
    std::string id_key;  // as seen on the wire ("" for an empty list)
    std::vector<Stamp> entries;
  };
  std::vector<Collection> collections;
};

// --- synchronise.json ---
// Unknown top-level keys are rejected. Collections are checked against
// `schema` and their records must hold the schema's id key.
Result<SyncRequest> DecodeSyncRequest(std::string_view body,
                                      const Schema& schema,
                                      const CodecLimits& limits = {});
void EncodeSyncRequest(const SyncRequest& request, const Schema& schema,
                       std::string& out);

Result<SyncResponse> DecodeSyncResponse(std::string_view body,
                                        const Schema& schema,
                                        const CodecLimits& limits = {});
void EncodeSyncResponse(const SyncResponse& response, const Schema& schema,
                        std::string& out);

// --- fetch.json ---
// Each collection's id key is read from its entries (the member that is not
// `last_update`); entries of one collection must agree on it.
Result<Manifest> DecodeManifest(std::string_view body,
                                const CodecLimits& limits = {});
void EncodeManifest(const Manifest& manifest, std::string& out);
// Appends the entry objects of `entries` (of one collection whose id key
// is `id_key`) to `out` as EncodeManifest writes them, with a comma first
// unless `*first` (then cleared if any entry was written): a server
// writes fetch.json a chunk of entries at a time with it, as
// '{' name ":[" entries "]" ... '}'.
void AppendManifestEntries(const std::vector<Stamp>& entries,
                           std::string_view id_key, bool* first,
                           std::string& out);

// --- login, lock, errors ---
struct LoginRequest {
  std::string user;
  std::string password;
};
Result<LoginRequest> DecodeLoginRequest(std::string_view body);
void EncodeLoginRequest(const LoginRequest& request, std::string& out);

struct LoginResponse {
  std::string token;
  int64_t expires_in = 0;  // seconds
  // The server's conflict policy name (optional member "policy"; "" when
  // absent), so a device can plan with the same policy.
  std::string policy{};
};
Result<LoginResponse> DecodeLoginResponse(std::string_view body);
void EncodeLoginResponse(const LoginResponse& response, std::string& out);

struct LockRequest {
  std::string device;
  // The device's clock when it sent the request, in ms since the epoch
  // (optional member "_client_time_ms"; kNoTimestamp: absent). The server
  // estimates the device's clock offset from it.
  Timestamp client_time = kNoTimestamp;
  // The device's tombstone mark (optional member "_synced_through"; -1:
  // absent): the account's write sequence at the start of its last
  // complete sync, 0 if it never completed one. See docs/protocol.md.
  int64_t synced_through = -1;
  // The last history point "<seq>:<token>" the device learnt from the
  // server (optional member "_history"; empty: absent).
  std::string history{};
  // The device secret a grant gave this device (optional member
  // "_device_secret"; "": absent): proof of being the device, needed to
  // take over its own live lease without the lease (a run after a crash).
  std::string device_secret{};
};
Result<LockRequest> DecodeLockRequest(std::string_view body);
void EncodeLockRequest(const LockRequest& request, std::string& out);

struct LockResponse {
  std::string lease;
  int64_t expires_in = 0;  // seconds
  // The server's estimate of the device clock's offset (device - server,
  // ms; optional member "_clock_offset_ms", present only when the request
  // carried "_client_time_ms"). kNoTimestamp: absent.
  int64_t clock_offset_ms = kNoTimestamp;
  // The account's write sequence now (optional member "_seq", present only
  // when the request carried "_synced_through"; -1: absent).
  int64_t seq = -1;
  // Tombstones the device may need were collected (optional member
  // "_resync": true; only with "_seq"): the run must be a full resync.
  bool resync = false;
  // The history point "<seq>:<token>" of `seq` (optional member
  // "_history", only with "_seq"; empty: the server keeps none).
  std::string history{};
  // The device's history point is not in the server's history:
  // the server went back, e.g. restored from a backup (optional member
  // "_restored": true; only with "_seq").
  bool restored = false;
  // A new device secret for the device to keep and send from now on
  // (optional member "_device_secret"; "": absent, the one sent stays).
  std::string device_secret{};
};
Result<LockResponse> DecodeLockResponse(std::string_view body);
void EncodeLockResponse(const LockResponse& response, std::string& out);

// An error body {"error": "<code>", "message": "..."} plus, for kLocked,
// "retry_after": seconds. The code string comes from protocol.h.
void EncodeError(const Status& status, int64_t retry_after_seconds,
                 std::string& out);
// Turns an error body and its HTTP status back into a Status; falls back to
// the HTTP status when the body is not a protocol error body.
Status DecodeError(int http_status, std::string_view body,
                   int64_t* retry_after_seconds = nullptr);

// --- single records, as applications hold them ---
// An application's record object split into the id key's value (if
// present), `last_update` (if present) and the rest (the payload).
struct RecordParts {
  bool has_id = false;
  RecordId id;
  Timestamp last_update = kNoTimestamp;
  std::string payload;  // as WireRecord::payload
};
Result<RecordParts> SplitRecordObject(std::string_view json,
                                      std::string_view id_key,
                                      const CodecLimits& limits = {});
// Appends `{"<id_key>":"<uuid>",<payload members>[,"last_update":"…"]
// [,<extra_members>]}`. `extra_members` is member text such as
// `"_state":"created"` (empty for none).
void EncodeRecordObject(const WireRecord& record, std::string_view id_key,
                        std::string_view extra_members, std::string& out);

// Appends `text` as a JSON string literal (quotes and escapes).
void AppendJsonString(std::string_view text, std::string& out);

// Checks that `text` is exactly one JSON object (used for payloads given by
// applications, e.g. `syncstack put --json`). Errors name the position.
Status ValidateJsonObject(std::string_view text,
                          const CodecLimits& limits = {});

}  // namespace syncstack
