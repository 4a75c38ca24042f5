// The conflict journal in an account's metadata (service/journal.h).
#include "service/journal.h"

#include <cstdlib>
#include <optional>
#include <string>

#include "syncstack/metadata_keys.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

// The number of entries ever written ("journal/next"; 0 if none).
Result<uint64_t> JournalLength(Store& store) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> next,
                             store.GetMeta(meta::kJournalNext));
  return next ? std::strtoull(next->c_str(), nullptr, 10) : 0;
}

}  // namespace

namespace service {

Status AppendToJournal(Store& store,
                       const std::vector<ConflictJournalEntry>& entries,
                       ChangeBatch& batch) {
  SYNCSTACK_ASSIGN_OR_RETURN(uint64_t n, JournalLength(store));
  for (const ConflictJournalEntry& entry : entries) {
    std::string json;
    EncodeJournalEntry(entry, json);
    batch.SetMeta(meta::JournalEntry(n++), std::move(json));
  }
  batch.SetMeta(std::string(meta::kJournalNext), std::to_string(n));
  return Status::Ok();
}

}  // namespace service

Status ReadConflictJournal(
    Store& store, FunctionRef<void(uint64_t index, std::string_view json)> fn) {
  SYNCSTACK_ASSIGN_OR_RETURN(const uint64_t n, JournalLength(store));
  for (uint64_t i = 0; i < n; ++i) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> entry,
                               store.GetMeta(meta::JournalEntry(i)));
    if (entry) fn(i, *entry);
  }
  return Status::Ok();
}

}  // namespace syncstack
