// The reconcile ItemIndex cache (item_cache.h).
#include "service/item_cache.h"

#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace syncstack::service {

size_t ItemCaches::IndexBytes(const ItemIndex& index) {
  constexpr size_t kSlotBytes = 48;
  return sizeof(ItemIndex) +
         index.chunk_count() * (ItemIndex::kChunk * kSlotBytes + 64);
}

std::shared_ptr<ItemCaches::Entry> ItemCaches::Touch(
    std::string_view account, std::string_view collection) {
  std::lock_guard<std::mutex> guard(mu_);
  auto& slot = entries_[{std::string(account), std::string(collection)}];
  if (!slot) slot = std::make_shared<Entry>();
  slot->last_used = ++clock_;
  std::shared_ptr<Entry> mine = slot;
  EvictLocked();
  return mine;
}

void ItemCaches::Charge(const std::shared_ptr<Entry>& entry, size_t bytes) {
  std::lock_guard<std::mutex> guard(mu_);
  entry->bytes = bytes;
  EvictLocked();
}

void ItemCaches::EvictLocked() {
  size_t total = 0;
  for (const auto& [key, entry] : entries_) total += entry->bytes;
  while (!entries_.empty() &&
         (entries_.size() > kMaxEntries || total > max_bytes_)) {
    auto oldest = entries_.begin();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->second->last_used < oldest->second->last_used) oldest = it;
    }
    total -= oldest->second->bytes;
    entries_.erase(oldest);
  }
}

size_t ItemCaches::entry_count() {
  std::lock_guard<std::mutex> guard(mu_);
  return entries_.size();
}

size_t ItemCaches::bytes() {
  std::lock_guard<std::mutex> guard(mu_);
  size_t total = 0;
  for (const auto& [key, entry] : entries_) total += entry->bytes;
  return total;
}

bool ItemCaches::Holds(const std::shared_ptr<Entry>& entry) {
  std::lock_guard<std::mutex> guard(mu_);
  for (const auto& [key, kept] : entries_) {
    if (kept == entry) return true;
  }
  return false;
}

void ItemCaches::ReleaseFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

Result<std::shared_ptr<ItemCaches::Entry>> ItemCaches::Current(
    Store& store, std::string_view account, std::string_view collection,
    uint64_t seq) {
  std::shared_ptr<Entry> entry = Touch(account, collection);
  if (entry->items && entry->seq == seq) return entry;
  std::vector<ReconcileItem> items;
  ScanOptions scan;
  scan.include_tombstones = false;
  auto it = store.Scan(collection, scan);
  for (; it->Valid(); it->Next()) {
    items.push_back(
        ReconcileItem{it->entry().id, it->entry().version.timestamp, 0});
  }
  SYNCSTACK_RETURN_IF_ERROR(it->status());
  entry->items = std::make_unique<ItemIndex>(std::move(items));
  entry->seq = seq;
  Charge(entry, IndexBytes(*entry->items));
  return entry;
}

void ItemCaches::Wrote(std::string_view account, const PendingWrites& writes,
                       uint64_t before, uint64_t after) {
  std::vector<std::pair<std::string, std::shared_ptr<Entry>>> mine;
  {
    std::lock_guard<std::mutex> guard(mu_);
    for (auto it = entries_.lower_bound({std::string(account), ""});
         it != entries_.end() && it->first.first == account; ++it) {
      mine.emplace_back(it->first.second, it->second);
    }
  }
  for (auto& [collection, entry] : mine) {
    if (!entry->items || entry->seq != before) {
      entry->items.reset();
      Charge(entry, 0);
      continue;
    }
    auto rows = writes.find(collection);
    if (rows != writes.end()) {
      for (const auto& [id, p] : rows->second) {
        if (!p.touched || !p.row) continue;
        if (p.row->deleted) {
          entry->items->Erase(id);
        } else {
          entry->items->Upsert(ReconcileItem{id, p.row->version.timestamp, 0});
        }
      }
    }
    entry->seq = after;
    Charge(entry, IndexBytes(*entry->items));
  }
}

}  // namespace syncstack::service
