// Replica: a device's local writes, as an application makes them. Each
// write updates the record's sync state, so the engine later knows what
// to push: created offline, changed since the last sync, deleted locally.
#pragma once

#include <string_view>

#include "syncstack/clock.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/store.h"

namespace syncstack {

// Thread safety: methods may be called concurrently, also while a sync of
// the same store runs (the engine never overwrites a write it did not see).
class Replica {
 public:
  // Every reference must outlive the Replica.
  Replica(Store& store, const ConflictPolicy& policy, Clock& clock) noexcept
      : store_(store), policy_(policy), clock_(clock) {}

  // Creates or replaces a record with `payload_json`, a JSON object without
  // the id key and last_update (those are the engine's). A new id becomes
  // kCreated; a synced one kChanged.
  // Errors: kInvalidArgument (bad collection name or JSON), kIOError.
  Status Put(std::string_view collection, const RecordId& id,
             std::string_view payload_json) noexcept;

  // Deletes a record. One never synced disappears at once (nothing to tell
  // the server); one synced becomes a kDeleted tombstone until pushed.
  // Errors: kNotFound (no live record), kIOError.
  Status Remove(std::string_view collection, const RecordId& id) noexcept;

  Store& store() const noexcept { return store_; }

 private:
  Store& store_;
  const ConflictPolicy& policy_;
  Clock& clock_;
};

}  // namespace syncstack
