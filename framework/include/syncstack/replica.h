// Replica: a device's local writes, as an application makes them. Each
// write updates the record's sync state, so the engine later knows what
// to push: created offline, changed since the last sync, deleted locally.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include "syncstack/clock.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/store.h"

namespace syncstack {

// A new replica id (meta::kReplica): 8 random hex digits, short in every
// version vector and unique enough among one account's devices.
std::string NewReplicaId();

// Thread safety: methods may be called concurrently, also while a sync of
// the same store runs (the engine never overwrites a write it did not see).
class Replica {
 public:
  // Every reference must outlive the Replica.
  // `write` applies to every write (e.g. sync = false for a bulk import
  // that can be redone after a crash).
  Replica(Store& store, const ConflictPolicy& policy, Clock& clock,
          WriteOptions write = {}) noexcept
      : store_(store), policy_(policy), clock_(clock), write_(write) {}

  // Creates or replaces a record with `payload_json`, a JSON object without
  // the id key and last_update (those are the engine's). A new id becomes
  // kCreated; a synced one kChanged.
  // Errors: kInvalidArgument (bad collection name or JSON), kIOError.
  Status Put(std::string_view collection, const RecordId& id,
             std::string_view payload_json) noexcept;

  // Deletes a record: it becomes a kDeleted tombstone until the next sync
  // pushes the delete. So does a record never synced, since an add whose
  // answer was lost may be on the server already (if it is not, the sync
  // just forgets the tombstone).
  // Errors: kNotFound (no live record), kIOError.
  Status Remove(std::string_view collection, const RecordId& id) noexcept;

  Store& store() const noexcept { return store_; }

 private:
  // This device's replica id (store metadata "replica"); made and added to
  // `batch` on the first write.
  Result<std::string> ReplicaId(ChangeBatch& batch);
  // The policy's stamp for a local write over `current` (nullptr: none).
  Result<Version> Stamp(const Record* current, bool deleted,
                        std::string_view payload, ChangeBatch& batch);

  Store& store_;
  const ConflictPolicy& policy_;
  Clock& clock_;
  const WriteOptions write_;
  std::mutex mu_;           // guards replica_id_
  std::string replica_id_;  // cached once stored
};

}  // namespace syncstack
