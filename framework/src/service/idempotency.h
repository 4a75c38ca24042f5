// Private: idempotency keys. The stamps and conflicts of the last
// kIdempotencySlots applied requests of an account are kept in its metadata
// (meta::IdemSlot(n) = "<key>\n<request hash>\n<answer without get>",
// meta::kIdemNext = the slot to fill next), written in the same transaction
// as the request's writes, so a retried request is answered as the first
// time and applied once. The request hash binds the key to its request: a
// different request under a recorded key is refused, never answered with
// another request's answer (docs/decisions/idempotency-keys.md). Slots
// written before keys were bound ("<key>\n<answer>") still answer a repeat.
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
  // With `answer`: the hash of the request the key was recorded for; ""
  // in a slot written before keys were bound to requests.
  std::string request_hash{};
};

// The hash a key is bound to: SHA-256 (hex) of the request's canonical
// encoding, so the same request sent again with other whitespace or member
// order in its records' envelope is still the same request.
std::string RequestHash(const SyncRequest& request, const Schema& schema);

// OK when `slot` holds no answer, or an answer recorded for a request with
// `request_hash` (or before keys were bound). Else kInvalidArgument naming
// `key`: it was used for a different request.
Status CheckSameRequest(const IdempotencySlot& slot, std::string_view key,
                        std::string_view request_hash);

// Looks `key` up among the account's slots. Errors: those of
// Store::GetMeta.
Result<IdempotencySlot> FindIdempotencyKey(Store& store, std::string_view key);

// Adds to `batch` the writes that record `key`, bound to `request_hash`,
// with `response` (its get is not kept) in `slot.next`, the oldest slot,
// and move the ring on.
void RecordIdempotencyKey(const IdempotencySlot& slot, std::string_view key,
                          std::string_view request_hash,
                          const SyncResponse& response, const Schema& schema,
                          ChangeBatch& batch);

}  // namespace syncstack::service
