// Idempotency keys (idempotency.h): a ring of kIdempotencySlots metadata
// slots per account.
#include "service/idempotency.h"

#include <cstdlib>

#include "syncstack/metadata_keys.h"

namespace syncstack::service {

Result<IdempotencySlot> FindIdempotencyKey(Store& store, std::string_view key) {
  IdempotencySlot slot;
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> next,
                             store.GetMeta(meta::kIdemNext));
  if (next) slot.next = std::atoi(next->c_str()) % kIdempotencySlots;
  for (int i = 0; i < kIdempotencySlots; ++i) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> entry,
                               store.GetMeta(meta::IdemSlot(i)));
    if (entry && entry->size() > key.size() && entry->starts_with(key) &&
        (*entry)[key.size()] == '\n') {
      slot.answer = entry->substr(key.size() + 1);
      break;
    }
  }
  return slot;
}

void RecordIdempotencyKey(const IdempotencySlot& slot, std::string_view key,
                          const SyncResponse& response, const Schema& schema,
                          ChangeBatch& batch) {
  std::string entry(key);
  entry += '\n';
  std::string body;
  EncodeSyncResponse(response, schema, body);
  entry += body;
  batch.SetMeta(meta::IdemSlot(slot.next), std::move(entry));
  batch.SetMeta(std::string(meta::kIdemNext),
                std::to_string((slot.next + 1) % kIdempotencySlots));
}

}  // namespace syncstack::service
