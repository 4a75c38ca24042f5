#include "engine/figures.h"

#include <utility>
#include <vector>

#include "id_parse.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::engine {
namespace {

// Edited here on top of an acknowledged version: the row keeps only its
// timestamp (base); the extra bytes are in the row's kept entry.
template <typename Row>
bool EditedOverAcknowledged(const Row& row) {
  return row.state != SyncState::kSynced && row.base != kNoTimestamp;
}

// The contribution of a row not edited over an acknowledged version.
template <typename Row>
std::optional<Version> SyncedContribution(const Row& row) {
  if (row.state != SyncState::kSynced || row.deleted) return std::nullopt;
  return row.version;
}

// The bytes of an entry's hex digits; "" for text that is not hex (a
// damaged entry counts as no extra bytes: the next verify finds the
// figure wrong and falls back to reconciliation, which syncs the row and
// clears the entry).
std::string DecodeAcknowledgedExtra(std::string_view text) {
  if (text.size() % 2 != 0) return std::string();
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t hi = kHexValue[static_cast<unsigned char>(text[2 * i])];
    const uint8_t lo = kHexValue[static_cast<unsigned char>(text[2 * i + 1])];
    if ((hi | lo) == 0xFF) return std::string();
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return out;
}

Result<std::string> KeptExtra(Store& store, std::string_view collection,
                              const RecordId& id) {
  SYNCSTACK_ASSIGN_OR_RETURN(
      std::optional<std::string> text,
      store.GetMeta(meta::AcknowledgedExtra(collection, id.ToString())));
  if (!text) return std::string();
  return DecodeAcknowledgedExtra(*text);
}

}  // namespace

std::string EncodeAcknowledgedExtra(std::string_view extra) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(extra.size() * 2);
  for (char c : extra) {
    const auto byte = static_cast<unsigned char>(c);
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

void KeepAcknowledged(std::string_view collection, const Record& current,
                      ChangeBatch& batch) {
  if (current.state != SyncState::kSynced || current.deleted ||
      current.version.extra.empty()) {
    return;
  }
  batch.SetMeta(meta::AcknowledgedExtra(collection, current.id.ToString()),
                EncodeAcknowledgedExtra(current.version.extra));
}

Result<AcknowledgedChange> TrackChange(Store& store,
                                       std::string_view collection,
                                       const RecordId& id, const Record* before,
                                       const Record* after,
                                       const std::string* set_in_batch) {
  AcknowledgedChange change;
  std::string kept;  // the entry before the write
  const bool was_edited = before != nullptr && EditedOverAcknowledged(*before);
  if (was_edited) {
    SYNCSTACK_ASSIGN_OR_RETURN(kept, KeptExtra(store, collection, id));
    change.before = Version{before->base, kept};
  } else if (before != nullptr) {
    change.before = SyncedContribution(*before);
  }
  std::string extra;  // the entry after the write
  if (after != nullptr && EditedOverAcknowledged(*after)) {
    if (set_in_batch != nullptr) {
      extra = DecodeAcknowledgedExtra(*set_in_batch);
    } else if (was_edited && before->base == after->base) {
      extra = kept;  // edited again: the same acknowledged version
    } else if (before != nullptr && SyncedContribution(*before) &&
               before->version.timestamp == after->base) {
      extra = before->version.extra;  // edited first
    } else {
      change.exact = false;
    }
    change.after = Version{after->base, extra};
  } else if (after != nullptr) {
    change.after = SyncedContribution(*after);
  }
  if (set_in_batch == nullptr && extra != kept) {
    change.entry = EncodeAcknowledgedExtra(extra);
  }
  return change;
}

void Replace(SetFingerprint& figure, const RecordId& id,
             const AcknowledgedChange& change) {
  if (change.before) figure.Remove(id, *change.before);
  if (change.after) figure.Add(id, *change.after);
}

Result<std::optional<SetFingerprint>> ReadFigure(Store& store,
                                                 std::string_view collection) {
  SYNCSTACK_ASSIGN_OR_RETURN(
      std::optional<std::string> text,
      store.GetMeta(meta::DeviceFingerprint(collection)));
  if (!text || text->empty()) return std::optional<SetFingerprint>();
  auto figure = SetFingerprint::Decode(*text);
  if (!figure.ok()) return std::optional<SetFingerprint>();
  return std::optional<SetFingerprint>(*figure);
}

Result<SetFingerprint> ScanFigure(Store& store, std::string_view collection) {
  SetFingerprint figure;
  std::vector<std::pair<RecordId, Timestamp>> edited;  // read after the scan
  auto it = store.Scan(collection, ScanOptions{});
  for (; it->Valid(); it->Next()) {
    const ManifestEntry& e = it->entry();
    if (EditedOverAcknowledged(e)) {
      edited.emplace_back(e.id, e.base);
    } else if (auto v = SyncedContribution(e)) {
      figure.Add(e.id, *v);
    }
  }
  SYNCSTACK_RETURN_IF_ERROR(it->status());
  for (const auto& [id, base] : edited) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::string extra,
                               KeptExtra(store, collection, id));
    figure.Add(id, Version{base, std::move(extra)});
  }
  return figure;
}

std::string DescribeFigure(uint64_t count, uint64_t sum) {
  SetFingerprint f;
  f.count = count;
  f.sum = sum;
  return std::to_string(count) + ":" + f.ToHex();
}

}  // namespace syncstack::engine
