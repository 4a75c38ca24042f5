// ItemIndex: an ItemSource that follows writes, for a server that keeps
// one per (account, collection) in memory and answers every
// reconciliation round from it without rebuilding anything.
#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "syncstack/function_ref.h"
#include "syncstack/reconcile/reconcile.h"
#include "syncstack/record.h"

namespace syncstack {

// Items sorted by id in chunks of at most kChunk items, each chunk
// carrying the Fingerprint of its items; prefix sums over chunks are
// rebuilt lazily (on the next question after a write). A range's
// fingerprint: two binary searches plus the partial sums of the two
// boundary chunks.
//
// Costs (n items, C = kChunk): a write O(log n + C) (a split also moves
// the O(n / C) chunk table); the first question after writes adds up to
// O(n / C) additions over a contiguous array to bring the chunk prefix
// sums up to date; then RangeFingerprint O(log n), ForEach O(log n +
// items visited), SplitPoints O(parts log n). Answers equal those of a
// NewSortedItemSource over the same items, split points included. Each
// chunk reserves room for C items, so only a split allocates; erases
// merge neighbours that fit in half a chunk, keeping at most 4n/C + 1
// chunks. Memory: about 48 bytes per item slot (the item and its running
// hash sum).
//
// Not thread-safe: callers serialise (questions too: they may refresh the
// prefix sums).
class ItemIndex final : public ItemSource {
 public:
  // Largest number of items in one chunk. 512 by measurement at 1M items
  // (bench/reconcile): 256 writes as fast but doubles the prefix rebuild;
  // 1024 and up make every write slower for little gain.
  static constexpr size_t kChunk = 512;

  ItemIndex();
  // Any order; of several with one id the last counts.
  explicit ItemIndex(std::vector<ReconcileItem> items);
  ItemIndex(const ItemIndex&) = delete;
  ItemIndex& operator=(const ItemIndex&) = delete;
  ItemIndex(ItemIndex&&) noexcept;
  ItemIndex& operator=(ItemIndex&&) noexcept;
  ~ItemIndex() override;

  // Inserts the item, or replaces the item with the same id.
  void Upsert(const ReconcileItem& item);
  // Removes the item with this id; absent: no-op. Returns whether it was
  // there.
  bool Erase(const RecordId& id);

  size_t size() const noexcept { return size_; }
  // The number of chunks (for tests and measurements).
  size_t chunk_count() const noexcept;

  // The fingerprint of all items.
  Fingerprint Total();

  Fingerprint RangeFingerprint(const IdRange& range) override;
  void ForEach(const IdRange& range,
               FunctionRef<void(const ReconcileItem&)> fn) override;
  std::vector<RecordId> SplitPoints(const IdRange& range,
                                    size_t parts) override;

 private:
  struct Chunk;  // sorted items and their running hash sums
  // An item slot: chunk `chunk`, offset `offset` (may be the chunk's
  // size: just past its last item).
  struct Position {
    size_t chunk = 0;
    size_t offset = 0;
  };

  // The chunk where `id` is or would go. REQUIRES: chunks_ not empty.
  size_t ChunkFor(const RecordId& id) const;
  // The first item with an id >= `id`.
  Position LowerBound(const RecordId& id) const;
  // The fingerprint of the items before `p`. REQUIRES: Refresh()ed.
  Fingerprint Before(const Position& p) const;
  // The rank (count of items before) of `p`. REQUIRES: Refresh()ed.
  size_t Rank(const Position& p) const;
  // The id of the item of rank `rank`. REQUIRES: Refresh()ed, rank < size.
  const RecordId& IdAt(size_t rank) const;
  // Brings prefix_ up to date.
  void Refresh();
  // Notes that chunk `c` changed: updates totals_[c], and invalidates
  // the prefix sums past it.
  void Touch(size_t c) noexcept;
  // The positions of the first item in `range` and of the first after it.
  std::pair<Position, Position> Bounds(const IdRange& range) const;
  // Splits full chunk `c` into two halves.
  void Split(size_t c);
  // Merges chunk `c` + 1 into chunk `c`.
  void Merge(size_t c);

  std::vector<Chunk> chunks_;
  // Per chunk, in arrays of their own so that searches and prefix
  // rebuilds read contiguous memory: the first id and the fingerprint.
  std::vector<RecordId> firsts_;
  std::vector<Fingerprint> totals_;
  // prefix_[c]: the fingerprint of chunks [0, c); valid for c <= clean_.
  std::vector<Fingerprint> prefix_;
  size_t clean_ = 0;
  size_t size_ = 0;
};

}  // namespace syncstack
