// Private: idempotency keys. The stamps and conflicts of the last
// kIdempotencySlots applied requests of an account are kept in its metadata
// (meta::IdemSlot(n) = "<key>\n<answer without get>", meta::kIdemNext = the
// slot to fill next), written in the same transaction as the request's
// writes, so a retried request is answered as the first time and applied
// once.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "syncstack/codec.h"
#include "syncstack/store.h"

namespace syncstack::service {

inline constexpr int kIdempotencySlots = 32;

// Where a key was found, or where it goes.
struct IdempotencySlot {
  int next = 0;                       // the slot a new key fills
  std::optional<std::string> answer;  // the first answer, if seen
};

// Looks `key` up among the account's slots. Errors: those of
// Store::GetMeta.
Result<IdempotencySlot> FindIdempotencyKey(Store& store, std::string_view key);

// Adds to `batch` the writes that record `key` with `response` (its get is
// not kept) in `slot.next`, the oldest slot, and move the ring on.
void RecordIdempotencyKey(const IdempotencySlot& slot, std::string_view key,
                          const SyncResponse& response, const Schema& schema,
                          ChangeBatch& batch);

}  // namespace syncstack::service
