#include "engine/bookkeeping.h"

#include <cstdlib>

#include "syncstack/metadata_keys.h"

namespace syncstack::engine {

Result<SyncMark> ReadSyncMark(Store& store) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> seq,
                             store.GetMeta(meta::kSyncMark));
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> history,
                             store.GetMeta(meta::kSyncHistory));
  SyncMark mark;
  mark.seq = seq ? std::strtoll(seq->c_str(), nullptr, 10) : 0;
  mark.history = history.value_or(std::string());
  return mark;
}

void AddSyncMark(ChangeBatch& batch, int64_t seq) {
  batch.SetMeta(std::string(meta::kSyncMark), std::to_string(seq));
}

void AddHistoryPoint(ChangeBatch& batch, const std::string& point) {
  batch.SetMeta(std::string(meta::kSyncHistory), point);
}

LastSync ReadLastSync(Store& store, std::string_view collection) {
  auto text = store.GetMeta(meta::SyncLast(collection));
  if (!text.ok() || !text->has_value()) return LastSync{};
  return ParseLastSync(**text);
}

void AddLastSync(ChangeBatch& batch, std::span<const std::string> names,
                 std::span<const uint64_t> items, uint64_t seq, Clock& clock) {
  for (size_t i = 0; i < names.size(); ++i) {
    batch.SetMeta(meta::SyncLast(names[i]),
                  FormatLastSync(items[i], seq, clock.Now()));
  }
}

Status WriteRunNotes(Store& store, const WriteOptions& options,
                     const Schema& schema, bool uses_highest_seen,
                     Timestamp highest_seen) {
  ChangeBatch notes;
  auto stored = store.GetMeta(meta::kSchema);
  std::string json = schema.ToJson();
  if (stored.ok() && (!stored->has_value() || **stored != json)) {
    notes.SetMeta(std::string(meta::kSchema), json);
  }
  if (uses_highest_seen && highest_seen != kNoTimestamp) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> seen,
                               store.GetMeta(meta::kPolicySeen));
    if (!seen || std::strtoll(seen->c_str(), nullptr, 10) < highest_seen) {
      notes.SetMeta(std::string(meta::kPolicySeen),
                    std::to_string(highest_seen));
    }
  }
  if (notes.empty()) return Status::Ok();
  return store.Apply(options, notes);
}

}  // namespace syncstack::engine
