// The conflict journal in an account's metadata (service/journal.h).
#include "service/journal.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "syncstack/metadata_keys.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

Result<uint64_t> ReadCounter(Store& store, std::string_view key) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> text,
                             store.GetMeta(key));
  return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
}

// The journal's live entries are [first, next).
struct JournalRange {
  uint64_t first = 0;
  uint64_t next = 0;
};

Result<JournalRange> ReadRange(Store& store) {
  JournalRange range;
  SYNCSTACK_ASSIGN_OR_RETURN(range.next,
                             ReadCounter(store, meta::kJournalNext));
  SYNCSTACK_ASSIGN_OR_RETURN(range.first,
                             ReadCounter(store, meta::kJournalFirst));
  if (range.next > service::kJournalSlots) {
    range.first = std::max(range.first, range.next - service::kJournalSlots);
  }
  range.first = std::min(range.first, range.next);
  return range;
}

std::string SlotKey(uint64_t n) {
  return meta::JournalEntry(n % service::kJournalSlots);
}

// Whether stored entry `json` was written before `horizon`; an entry that
// does not decode counts as old.
bool OlderThan(std::string_view json, Timestamp horizon) {
  auto entry = DecodeJournalEntry(json);
  return !entry.ok() || entry->time < horizon;
}

}  // namespace

namespace service {

Status AppendToJournal(Store& store,
                       const std::vector<ConflictJournalEntry>& entries,
                       std::chrono::hours retention, ChangeBatch& batch) {
  if (entries.empty()) return Status::Ok();
  SYNCSTACK_ASSIGN_OR_RETURN(JournalRange range, ReadRange(store));
  const uint64_t first_before = range.first;
  if (retention.count() > 0) {
    const Timestamp horizon =
        entries.back().time -
        std::chrono::duration_cast<std::chrono::milliseconds>(retention)
            .count();
    for (uint64_t dropped = 0;
         range.first < range.next && dropped < kMaxDropsPerAppend; ++dropped) {
      SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> json,
                                 store.GetMeta(SlotKey(range.first)));
      if (json && !json->empty() && !OlderThan(*json, horizon)) break;
      batch.SetMeta(SlotKey(range.first), "");
      ++range.first;
    }
  }
  for (const ConflictJournalEntry& entry : entries) {
    std::string json;
    EncodeJournalEntry(entry, json);
    batch.SetMeta(SlotKey(range.next++), std::move(json));
  }
  if (range.next - range.first > kJournalSlots) {
    range.first = range.next - kJournalSlots;
  }
  batch.SetMeta(std::string(meta::kJournalNext), std::to_string(range.next));
  if (range.first != first_before) {
    batch.SetMeta(std::string(meta::kJournalFirst),
                  std::to_string(range.first));
  }
  return Status::Ok();
}

}  // namespace service

Status ReadConflictJournal(
    Store& store, FunctionRef<void(uint64_t index, std::string_view json)> fn) {
  SYNCSTACK_ASSIGN_OR_RETURN(const JournalRange range, ReadRange(store));
  for (uint64_t i = range.first; i < range.next; ++i) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> entry,
                               store.GetMeta(SlotKey(i)));
    if (entry && !entry->empty()) fn(i, *entry);
  }
  return Status::Ok();
}

}  // namespace syncstack
