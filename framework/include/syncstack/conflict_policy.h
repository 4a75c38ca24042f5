// ConflictPolicy: stamps writes, orders two versions of one record, and
// resolves a real conflict. The server's policy has the last word on every
// write; a device uses the same policy to stamp its local writes and to
// plan (push or pull), so a wrong planning guess costs a round trip, never
// correctness.
//
// A sync conflict is not an error: Resolve returns a resolution value and
// the service records and reports it.
//
// Policies keep what they need beyond `last_update` in Version::extra, a
// short text that travels as the optional `_version` member (see
// docs/protocol.md); a seed-dialect client that sends only `last_update`
// works under every policy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "syncstack/record.h"

namespace syncstack {

// One side of a comparison: a write of one record.
struct WriteView {
  const Version& version;
  bool deleted;
  std::string_view payload;  // empty for a deletion
  // An incoming client write only: the version exactly as the client sent
  // it (its last_update and _version), which names the version its edit was
  // based on under policies that track bases (server-clock). nullptr: the
  // client sent neither, as seed clients do for deletes.
  const Version* proposed = nullptr;
};

enum class Order : uint8_t {
  kBefore,      // a happened before b: b wins
  kAfter,       // a happened after b: a wins
  kEqual,       // the same write
  kConcurrent,  // neither ordered before the other: Resolve decides
};

struct Resolution {
  enum class Outcome : uint8_t {
    kSame,        // both sides hold the same write: nothing to do
    kKeepServer,  // the stored write stays; the client's is a lost conflict
    kTakeClient,  // the client's write replaces the stored one
    kMerged,      // `payload`/`version` replace both (a live record)
  };
  Outcome outcome = Outcome::kSame;
  // kMerged: the merged payload.
  std::string payload;
  // kMerged: the merged version. kKeepServer / kTakeClient: when
  // `has_version`, the kept write is stored under this version instead of
  // its own (e.g. the pointwise maximum of two concurrent version vectors).
  Version version;
  bool has_version = false;
  // A real conflict (e.g. concurrent writes) that must be reported even
  // when the client's write is taken. kKeepServer and kMerged are always
  // reported.
  bool conflict = false;
};

// What a device knows when it stamps a local write (Replica::Put/Remove).
struct LocalWrite {
  const Version* previous = nullptr;  // the record's local version, or null
  Timestamp now = kNoTimestamp;       // the device's clock
  // The highest `last_update` this device has seen from the server (store
  // metadata "policy/seen", kept by the engine); kNoTimestamp if none.
  Timestamp highest_seen = kNoTimestamp;
  // This device's replica id (store metadata "replica": 8 hex digits, made
  // once by the Replica); never empty when a Replica stamps.
  std::string_view replica;
  bool deleted = false;
  std::string_view payload;           // the new payload ("" for a delete)
  std::string_view previous_payload;  // the record's local payload, or ""
};

// What the server knows when a client write arrives (SyncService).
struct IncomingWrite {
  // What the client sent: its last_update and _version. nullptr: neither.
  const Version* proposed = nullptr;
  const Version* current = nullptr;  // the stored version, or null
  Timestamp server_now = kNoTimestamp;
  // This write's number in the account's write sequence, 1, 2, ... (kept
  // in the account's metadata "policy/seq", advanced for every write).
  uint64_t sequence = 0;
  std::string_view device;  // the lock holder's device name, or ""
  bool deleted = false;
  std::string_view payload;  // "" for a delete
  // The latest device time the server takes as sent (its clock plus its
  // max_clock_ahead bound; kNoTimestamp: no bound). The service has already
  // restamped `proposed->timestamp` beyond it (with the write's time on the
  // server's clock, at most server_now); a policy that keeps further device
  // times in Version::extra (e.g. +fields field stamps) restamps those
  // beyond it too, e.g. with the restamped timestamp.
  Timestamp latest = kNoTimestamp;
};

// What a policy wants from its callers beyond the required inputs.
struct PolicyTraits {
  // StampLocal reads LocalWrite::highest_seen (the engine keeps it).
  bool uses_highest_seen = false;
  // StampIncoming stamps every write with the server's clock, whatever the
  // device sent (server-clock): a stamp earlier than the device's is then
  // no sign of a restamp (SyncReport::restamped).
  bool server_stamps = false;
};

// Thread safety: const methods may be called concurrently.
class ConflictPolicy {
 public:
  ConflictPolicy() = default;
  ConflictPolicy(const ConflictPolicy&) = delete;
  ConflictPolicy& operator=(const ConflictPolicy&) = delete;
  virtual ~ConflictPolicy();

  // The name used on the command line and told to devices at login, e.g.
  // "lww", "hlc", "server-clock", "version-vector", "lww+fields".
  virtual std::string_view name() const noexcept = 0;

  virtual PolicyTraits traits() const noexcept { return {}; }

  // The version of a write made on a device.
  virtual Version StampLocal(const LocalWrite& write) const = 0;

  // The version the server gives a client write before resolving it.
  virtual Version StampIncoming(const IncomingWrite& write) const = 0;

  // Orders two versions of one record.
  virtual Order Compare(const Version& a, const Version& b) const noexcept = 0;

  // Decides between the stored write and an incoming client write of the
  // same record (`client.version` is what StampIncoming returned). Must be
  // deterministic: the same inputs, the same answer.
  virtual Resolution Resolve(const WriteView& server,
                             const WriteView& client) const = 0;

  // Shorthands for the common inputs.
  Version StampLocal(const Version* previous, Timestamp now) const {
    LocalWrite w;
    w.previous = previous;
    w.now = now;
    w.replica = "0";
    return StampLocal(w);
  }
  Version StampIncoming(const Version* proposed, const Version* current,
                        Timestamp server_now) const {
    IncomingWrite w;
    w.proposed = proposed;
    w.current = current;
    w.server_now = server_now;
    return StampIncoming(w);
  }
};

}  // namespace syncstack
