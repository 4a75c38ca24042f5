// Idempotency keys (idempotency.h): a ring of kIdempotencySlots metadata
// slots per account.
#include "service/idempotency.h"

#include <cstdlib>

#include "sha256.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::service {
namespace {

constexpr size_t kHashSize = 64;  // SHA-256 in hex

// A slot's text after "<key>\n": "<hash>\n<answer>", or a slot written
// before keys were bound, "<answer>" (a JSON object, never hex).
void ReadSlot(std::string_view rest, IdempotencySlot& slot) {
  const bool bound =
      rest.size() > kHashSize && rest[kHashSize] == '\n' &&
      rest.substr(0, kHashSize).find_first_not_of("0123456789abcdef") ==
          std::string_view::npos;
  if (bound) {
    slot.request_hash = std::string(rest.substr(0, kHashSize));
    rest.remove_prefix(kHashSize + 1);
  }
  slot.answer = std::string(rest);
}

// `key` for a message: quoted, cut after 64 bytes.
std::string QuotedKey(std::string_view key) {
  std::string out = "\"";
  out.append(key.substr(0, 64));
  if (key.size() > 64) out += "...";
  out += '"';
  return out;
}

}  // namespace

std::string RequestHash(const SyncRequest& request, const Schema& schema) {
  std::string canonical;
  EncodeSyncRequest(request, schema, canonical);
  return Sha256Hex(canonical);
}

Status CheckSameRequest(const IdempotencySlot& slot, std::string_view key,
                        std::string_view request_hash) {
  if (!slot.answer || slot.request_hash.empty() ||
      slot.request_hash == request_hash) {
    return Status::Ok();
  }
  return Status::InvalidArgument(
      "Idempotency-Key " + QuotedKey(key) +
      " was already used for a different request; nothing was applied (a "
      "new request needs a new key)");
}

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
      ReadSlot(std::string_view(*entry).substr(key.size() + 1), slot);
      break;
    }
  }
  return slot;
}

void RecordIdempotencyKey(const IdempotencySlot& slot, std::string_view key,
                          std::string_view request_hash,
                          const SyncResponse& response, const Schema& schema,
                          ChangeBatch& batch) {
  std::string entry(key);
  entry += '\n';
  entry += request_hash;
  entry += '\n';
  std::string body;
  EncodeSyncResponse(response, schema, body);
  entry += body;
  batch.SetMeta(meta::IdemSlot(slot.next), std::move(entry));
  batch.SetMeta(std::string(meta::kIdemNext),
                std::to_string((slot.next + 1) % kIdempotencySlots));
}

}  // namespace syncstack::service
