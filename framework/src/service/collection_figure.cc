#include "service/collection_figure.h"

#include "syncstack/metadata_keys.h"

namespace syncstack::service {

Result<SetFingerprint> ScanFigure(Store& store, std::string_view collection) {
  SetFingerprint figure;
  ScanOptions options;
  options.include_tombstones = false;
  auto it = store.Scan(collection, options);
  for (; it->Valid(); it->Next()) {
    figure.Add(it->entry().id, it->entry().version);
  }
  SYNCSTACK_RETURN_IF_ERROR(it->status());
  return figure;
}

Result<SetFingerprint> CurrentFigure(Store& store, std::string_view collection,
                                     bool* stored) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> value,
                             store.GetMeta(meta::CollectionFigure(collection)));
  *stored = value.has_value();
  if (!value) return ScanFigure(store, collection);
  return SetFingerprint::Decode(*value);
}

Status UpdateFigures(Store& store, const PendingWrites& state,
                     const std::map<std::string, std::map<RecordId, Record>,
                                    std::less<>>& before,
                     ChangeBatch& batch) {
  for (const auto& [collection, rows] : state) {
    bool any = false;
    for (const auto& [id, p] : rows) any |= p.touched;
    if (!any) continue;
    bool stored = false;
    SYNCSTACK_ASSIGN_OR_RETURN(SetFingerprint figure,
                               CurrentFigure(store, collection, &stored));
    auto old_rows = before.find(collection);
    for (const auto& [id, p] : rows) {
      if (!p.touched) continue;
      if (old_rows != before.end()) {
        auto old = old_rows->second.find(id);
        if (old != old_rows->second.end() && !old->second.deleted) {
          figure.Remove(id, old->second.version);
        }
      }
      if (p.row && !p.row->deleted) figure.Add(id, p.row->version);
    }
    batch.SetMeta(meta::CollectionFigure(collection), figure.Encode());
  }
  return Status::Ok();
}

}  // namespace syncstack::service
