#include "history.h"

#include <cstdlib>

#include "random_token.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::history {

std::string NewToken() { return NewRandomToken().substr(0, 16); }

void Record(ChangeBatch& batch, uint64_t seq, std::string_view token) {
  std::string value = std::to_string(seq);
  value += ':';
  value += token;
  batch.SetMeta(meta::HistorySlot(seq % kKeptSequences), std::move(value));
}

Result<std::optional<std::string>> TokenAt(Store& store, uint64_t seq) {
  if (seq == 0) return std::optional<std::string>();
  SYNCSTACK_ASSIGN_OR_RETURN(
      std::optional<std::string> slot,
      store.GetMeta(meta::HistorySlot(seq % kKeptSequences)));
  if (!slot) return std::optional<std::string>();
  size_t colon = slot->find(':');
  if (colon == std::string::npos ||
      std::strtoull(slot->c_str(), nullptr, 10) != seq) {
    return std::optional<std::string>();  // another sequence's slot now
  }
  return std::optional<std::string>(slot->substr(colon + 1));
}

Result<std::string> PointAt(Store& store, uint64_t seq) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> token,
                             TokenAt(store, seq));
  if (!token) return std::string();
  return std::to_string(seq) + ":" + *token;
}

Result<bool> WentBack(Store& store, uint64_t current_seq,
                      std::string_view point) {
  const size_t colon = point.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  uint64_t seq = 0;
  for (char c : point.substr(0, colon)) {
    if (c < '0' || c > '9' || seq > (UINT64_MAX - 9) / 10) return false;
    seq = seq * 10 + static_cast<uint64_t>(c - '0');
  }
  if (seq > current_seq) return true;
  if (seq == 0) return false;
  SYNCSTACK_ASSIGN_OR_RETURN(
      std::optional<std::string> slot,
      store.GetMeta(meta::HistorySlot(seq % kKeptSequences)));
  // Points are only ever given for sequences that end a write, each of
  // which fills its slot; a slot is overwritten only by a later sequence.
  // So an empty slot, or one of an earlier sequence, means `seq` never
  // ended a write in this history: it is another history's point.
  if (!slot) return true;
  const uint64_t held = std::strtoull(slot->c_str(), nullptr, 10);
  if (held < seq) return true;
  if (held > seq) return false;  // pruned: nothing can be told
  const size_t at = slot->find(':');
  return at == std::string::npos ||
         std::string_view(*slot).substr(at + 1) != point.substr(colon + 1);
}

}  // namespace syncstack::history
