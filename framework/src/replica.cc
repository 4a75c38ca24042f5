#include "syncstack/replica.h"

#include "syncstack/codec.h"

namespace syncstack {
namespace {

constexpr int kMaxAttempts = 16;  // lost races with concurrent writers

}  // namespace

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
      next.version = policy_.StampLocal(current ? &current->version : nullptr,
                                        clock_.Now());
      if (!current || current->state == SyncState::kCreated) {
        next.state = SyncState::kCreated;  // the server has never seen it
      } else {
        next.state = SyncState::kChanged;
        next.base = current->base;
      }
      ChangeBatch batch;
      batch.Put(std::move(next), ExpectRow(current ? &*current : nullptr));
      Status s = store_.Apply(WriteOptions{}, batch);
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
      if (current->state == SyncState::kCreated) {
        // Never synced: nothing to tell the server.
        batch.Erase(std::string(collection), id,
                    ExpectRow(current ? &*current : nullptr));
      } else {
        Record tombstone;
        tombstone.collection = std::string(collection);
        tombstone.id = id;
        tombstone.deleted = true;
        tombstone.state = SyncState::kDeleted;
        tombstone.base = current->base;
        tombstone.version = policy_.StampLocal(&current->version, clock_.Now());
        batch.Put(std::move(tombstone),
                  ExpectRow(current ? &*current : nullptr));
      }
      Status s = store_.Apply(WriteOptions{}, batch);
      if (s.code() != Status::Code::kConflict || attempt >= kMaxAttempts) {
        return s;
      }
    }
  } catch (const std::exception& e) {
    return Status::IOError(std::string("remove: ") + e.what());
  }
}

}  // namespace syncstack
