#include "engine/figures.h"

#include "syncstack/metadata_keys.h"

namespace syncstack::engine {
namespace {

template <typename Row>
std::optional<Version> AcknowledgedOf(const Row& row) {
  if (row.state == SyncState::kSynced) {
    if (row.deleted) return std::nullopt;
    return row.version;
  }
  if (row.base == kNoTimestamp) return std::nullopt;
  return Version{row.base, std::string()};
}

}  // namespace

std::optional<Version> Acknowledged(const ManifestEntry& row) {
  return AcknowledgedOf(row);
}

std::optional<Version> Acknowledged(const Record& row) {
  return AcknowledgedOf(row);
}

bool Replace(SetFingerprint& figure, const Record* before,
             const Record* after) {
  bool exact = true;
  if (before != nullptr) {
    if (auto v = Acknowledged(*before)) figure.Remove(before->id, *v);
    exact = before->state == SyncState::kSynced ||
            before->base == kNoTimestamp || before->version.extra.empty();
  }
  if (after != nullptr) {
    if (auto v = Acknowledged(*after)) figure.Add(after->id, *v);
  }
  return exact;
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
  auto it = store.Scan(collection, ScanOptions{});
  for (; it->Valid(); it->Next()) {
    const ManifestEntry& e = it->entry();
    if (auto v = Acknowledged(e)) figure.Add(e.id, *v);
  }
  SYNCSTACK_RETURN_IF_ERROR(it->status());
  return figure;
}

std::string DescribeFigure(uint64_t count, uint64_t sum) {
  SetFingerprint f;
  f.count = count;
  f.sum = sum;
  return std::to_string(count) + ":" + f.ToHex();
}

}  // namespace syncstack::engine
