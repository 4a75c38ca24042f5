// ConflictPolicy: stamps writes, orders two versions of one record, and
// resolves a real conflict. The server's policy has the last word on every
// write; a device uses the same policy only to plan (push or pull), so a
// wrong guess costs a round trip, never correctness.
//
// A sync conflict is not an error: Resolve returns a resolution value and
// the service records and reports it.
#pragma once

#include <string>
#include <string_view>

#include "syncstack/record.h"

namespace syncstack {

// One side of a comparison: a write of one record.
struct WriteView {
  const Version& version;
  bool deleted;
  std::string_view payload;  // empty for a deletion
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
    kMerged,      // `payload`/`version` replace both
  };
  Outcome outcome = Outcome::kSame;
  // Set for kMerged only.
  std::string payload;
  Version version;
};

// Thread safety: const methods may be called concurrently.
class ConflictPolicy {
 public:
  ConflictPolicy() = default;
  ConflictPolicy(const ConflictPolicy&) = delete;
  ConflictPolicy& operator=(const ConflictPolicy&) = delete;
  virtual ~ConflictPolicy();

  // The name used on the command line, e.g. "lww".
  virtual std::string_view name() const noexcept = 0;

  // The version of a write made on a device at local time `now`.
  // `previous` is the record's current local version, or nullptr.
  virtual Version StampLocal(const Version* previous,
                             Timestamp now) const noexcept = 0;

  // The version the server gives a client write before resolving it.
  // `proposed` is what the client sent (nullptr: it sent no last_update,
  // as seed clients do for deletes), `current` the stored version (nullptr:
  // none), `server_now` the server's clock.
  virtual Version StampIncoming(const Version* proposed, const Version* current,
                                Timestamp server_now) const noexcept = 0;

  // Orders two versions of one record.
  virtual Order Compare(const Version& a, const Version& b) const noexcept = 0;

  // Decides between the stored write and an incoming client write of the
  // same record. Must be deterministic: the same inputs, the same answer.
  virtual Resolution Resolve(const WriteView& server,
                             const WriteView& client) const = 0;
};

}  // namespace syncstack
