#include "syncstack/replica.h"

#include <cstdlib>

#include "engine/figures.h"
#include "syncstack/codec.h"
#include "syncstack/metadata_keys.h"

namespace syncstack {
namespace {

constexpr int kMaxAttempts = 16;  // lost races with concurrent writers

}  // namespace

std::string NewReplicaId() {
  return RecordId::Random().ToString().substr(0, 8);
}

Result<std::string> Replica::ReplicaId(ChangeBatch& batch) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (!replica_id_.empty()) return replica_id_;
  }
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> kept,
                             store_.GetMeta(meta::kReplica));
  std::string id;
  if (kept && !kept->empty()) {
    id = *kept;
  } else {
    id = NewReplicaId();
    batch.SetMeta(std::string(meta::kReplica), id);
  }
  std::lock_guard<std::mutex> guard(mu_);
  if (kept) replica_id_ = id;
  return id;
}

Result<Version> Replica::Stamp(const Record* current, bool deleted,
                               std::string_view payload, ChangeBatch& batch) {
  LocalWrite w;
  w.previous = current ? &current->version : nullptr;
  w.now = clock_.Now();
  w.deleted = deleted;
  w.payload = payload;
  if (current != nullptr) w.previous_payload = current->payload;
  SYNCSTACK_ASSIGN_OR_RETURN(std::string replica, ReplicaId(batch));
  w.replica = replica;
  if (policy_.traits().uses_highest_seen) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> seen,
                               store_.GetMeta(meta::kPolicySeen));
    if (seen) w.highest_seen = std::strtoll(seen->c_str(), nullptr, 10);
  }
  return policy_.StampLocal(w);
}

Status Replica::Put(std::string_view collection, const RecordId& id,
                    std::string_view payload_json) noexcept {
  try {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
    SYNCSTACK_RETURN_IF_ERROR(ValidateJsonObject(payload_json));
    for (int attempt = 0;; ++attempt) {
      SYNCSTACK_ASSIGN_OR_RETURN(std::optional<Record> current,
                                 store_.GetOne(collection, id));
      Record next;
      next.collection = std::string(collection);
      next.id = id;
      next.payload = std::string(payload_json);
      ChangeBatch batch;
      SYNCSTACK_ASSIGN_OR_RETURN(
          next.version,
          Stamp(current ? &*current : nullptr, false, payload_json, batch));
      const bool acknowledged_delete =
          current && current->deleted && current->state == SyncState::kSynced;
      if (!current || current->state == SyncState::kCreated ||
          acknowledged_delete) {
        // The server has never seen it, or holds only its tombstone.
        next.state = SyncState::kCreated;
      } else {
        next.state = SyncState::kChanged;
        next.base = current->base;
        engine::KeepAcknowledged(collection, *current, batch);
      }
      batch.Put(std::move(next), ExpectRow(current ? &*current : nullptr));
      Status s = store_.Apply(write_, batch);
      if (s.code() != Status::Code::kConflict || attempt >= kMaxAttempts) {
        return s;
      }
    }
  } catch (const std::exception& e) {
    return Status::IOError(std::string("put: ") + e.what());
  }
}

Status Replica::Remove(std::string_view collection,
                       const RecordId& id) noexcept {
  try {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
    for (int attempt = 0;; ++attempt) {
      SYNCSTACK_ASSIGN_OR_RETURN(std::optional<Record> current,
                                 store_.GetOne(collection, id));
      if (!current || current->deleted) {
        return Status::NotFound("no record " + id.ToString() + " in \"" +
                                std::string(collection) + "\"");
      }
      ChangeBatch batch;
      {
        // A tombstone even for a record never synced: a sync whose answer
        // was lost (or a device killed before committing it) may have
        // added it on the server already; the next sync deletes it there,
        // or just forgets the tombstone if the server never had it.
        Record tombstone;
        tombstone.collection = std::string(collection);
        tombstone.id = id;
        tombstone.deleted = true;
        tombstone.state = SyncState::kDeleted;
        tombstone.base = current->base;
        engine::KeepAcknowledged(collection, *current, batch);
        SYNCSTACK_ASSIGN_OR_RETURN(tombstone.version,
                                   Stamp(&*current, true, {}, batch));
        batch.Put(std::move(tombstone),
                  ExpectRow(current ? &*current : nullptr));
      }
      Status s = store_.Apply(write_, batch);
      if (s.code() != Status::Code::kConflict || attempt >= kMaxAttempts) {
        return s;
      }
    }
  } catch (const std::exception& e) {
    return Status::IOError(std::string("remove: ") + e.what());
  }
}

}  // namespace syncstack
