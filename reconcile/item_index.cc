#include "syncstack/reconcile/item_index.h"

#include <algorithm>
#include <cassert>
#include <iterator>

#include "reconcile_internal.h"

namespace syncstack {

using reconcile_internal::AddTo;
using reconcile_internal::ItemHash;
using reconcile_internal::Sum128;

// Chunks reserve kChunk items once, so writes allocate only when a chunk
// splits.
struct ItemIndex::Chunk {
  std::vector<ReconcileItem> items;  // sorted by id, never empty
  std::vector<Sum128> sums;          // sums[j]: the hashes of items[0..j]

  Chunk() {
    items.reserve(kChunk);
    sums.reserve(kChunk);
  }
};

namespace {

bool ItemBefore(const ReconcileItem& item, const RecordId& id) noexcept {
  return item.id < id;
}

}  // namespace

ItemIndex::ItemIndex() = default;

ItemIndex::ItemIndex(std::vector<ReconcileItem> items) {
  reconcile_internal::SortUnique(items);
  size_ = items.size();
  size_t count = (size_ + kChunk - 1) / kChunk;
  chunks_.reserve(count);
  firsts_.reserve(count);
  totals_.reserve(count);
  for (size_t begin = 0; begin < size_; begin += kChunk) {
    size_t end = std::min(size_, begin + kChunk);
    Chunk& chunk = chunks_.emplace_back();
    Sum128 sum;
    for (size_t i = begin; i < end; ++i) {
      chunk.items.push_back(items[i]);
      sum += ItemHash(items[i]);
      chunk.sums.push_back(sum);
    }
    firsts_.push_back(items[begin].id);
    totals_.emplace_back();
    Touch(chunks_.size() - 1);
  }
}

ItemIndex::ItemIndex(ItemIndex&& other) noexcept
    : chunks_(std::move(other.chunks_)),
      firsts_(std::move(other.firsts_)),
      totals_(std::move(other.totals_)),
      prefix_(std::move(other.prefix_)),
      clean_(std::exchange(other.clean_, 0)),
      size_(std::exchange(other.size_, 0)) {
  other.chunks_.clear();
  other.firsts_.clear();
  other.totals_.clear();
  other.prefix_.clear();
}

ItemIndex& ItemIndex::operator=(ItemIndex&& other) noexcept {
  if (this != &other) {
    chunks_ = std::move(other.chunks_);
    firsts_ = std::move(other.firsts_);
    totals_ = std::move(other.totals_);
    prefix_ = std::move(other.prefix_);
    clean_ = std::exchange(other.clean_, 0);
    size_ = std::exchange(other.size_, 0);
    other.chunks_.clear();
    other.firsts_.clear();
    other.totals_.clear();
    other.prefix_.clear();
  }
  return *this;
}

ItemIndex::~ItemIndex() = default;

void ItemIndex::Upsert(const ReconcileItem& item) {
  const Sum128 hash = ItemHash(item);
  if (chunks_.empty()) {
    Chunk& chunk = chunks_.emplace_back();
    chunk.items.push_back(item);
    chunk.sums.push_back(hash);
    firsts_.push_back(item.id);
    totals_.emplace_back();
    size_ = 1;
    Touch(0);
    return;
  }
  size_t c = ChunkFor(item.id);
  std::vector<ReconcileItem>* items = &chunks_[c].items;
  size_t j = static_cast<size_t>(
      std::lower_bound(items->begin(), items->end(), item.id, ItemBefore) -
      items->begin());
  if (j < items->size() && (*items)[j].id == item.id) {  // a replacement
    if ((*items)[j] == item) return;
    Sum128 delta = hash - ItemHash((*items)[j]);
    (*items)[j] = item;
    auto& sums = chunks_[c].sums;
    for (size_t k = j; k < sums.size(); ++k) sums[k] += delta;
    Touch(c);
    return;
  }
  if (items->size() == kChunk) {
    Split(c);
    size_t half = chunks_[c].items.size();
    if (j > half) {
      ++c;
      j -= half;
    }
  }
  Chunk& chunk = chunks_[c];
  Sum128 sum = j > 0 ? chunk.sums[j - 1] : Sum128{};
  sum += hash;
  chunk.items.insert(chunk.items.begin() + static_cast<ptrdiff_t>(j), item);
  chunk.sums.insert(chunk.sums.begin() + static_cast<ptrdiff_t>(j), sum);
  for (size_t k = j + 1; k < chunk.sums.size(); ++k) chunk.sums[k] += hash;
  if (j == 0) firsts_[c] = item.id;
  ++size_;
  Touch(c);
}

bool ItemIndex::Erase(const RecordId& id) {
  if (chunks_.empty()) return false;
  size_t c = ChunkFor(id);
  Chunk& chunk = chunks_[c];
  auto it =
      std::lower_bound(chunk.items.begin(), chunk.items.end(), id, ItemBefore);
  if (it == chunk.items.end() || it->id != id) return false;
  size_t j = static_cast<size_t>(it - chunk.items.begin());
  Sum128 hash = ItemHash(*it);
  chunk.items.erase(it);
  chunk.sums.erase(chunk.sums.begin() + static_cast<ptrdiff_t>(j));
  for (size_t k = j; k < chunk.sums.size(); ++k) chunk.sums[k] -= hash;
  --size_;
  if (chunk.items.empty()) {
    if (c < clean_) clean_ = c;
    chunks_.erase(chunks_.begin() + static_cast<ptrdiff_t>(c));
    firsts_.erase(firsts_.begin() + static_cast<ptrdiff_t>(c));
    totals_.erase(totals_.begin() + static_cast<ptrdiff_t>(c));
    return true;
  }
  Touch(c);
  if (j == 0) firsts_[c] = chunk.items.front().id;
  // Neighbours that fit in half a chunk together merge, so the chunk count
  // stays O(n / kChunk) however many items are erased.
  auto fits = [&](size_t a) {
    return chunks_[a].items.size() + chunks_[a + 1].items.size() <= kChunk / 2;
  };
  if (c + 1 < chunks_.size() && fits(c)) {
    Merge(c);
  } else if (c > 0 && fits(c - 1)) {
    Merge(c - 1);
  }
  return true;
}

size_t ItemIndex::chunk_count() const noexcept { return chunks_.size(); }

Fingerprint ItemIndex::Total() {
  Refresh();
  return prefix_.back();
}

Fingerprint ItemIndex::RangeFingerprint(const IdRange& range) {
  Refresh();
  auto [lo, hi] = Bounds(range);
  return Before(hi) - Before(lo);
}

void ItemIndex::ForEach(const IdRange& range,
                        FunctionRef<void(const ReconcileItem&)> fn) {
  auto [lo, hi] = Bounds(range);
  for (size_t c = lo.chunk; c < chunks_.size() && c <= hi.chunk; ++c) {
    const auto& items = chunks_[c].items;
    size_t from = c == lo.chunk ? lo.offset : 0;
    size_t to = c == hi.chunk ? hi.offset : items.size();
    for (size_t j = from; j < to; ++j) fn(items[j]);
  }
}

std::vector<RecordId> ItemIndex::SplitPoints(const IdRange& range,
                                             size_t parts) {
  Refresh();
  auto [lo, hi] = Bounds(range);
  return reconcile_internal::SplitRanks(Rank(lo), Rank(hi), parts,
                                        [&](size_t i) { return IdAt(i); });
}

size_t ItemIndex::ChunkFor(const RecordId& id) const {
  auto it = std::upper_bound(firsts_.begin(), firsts_.end(), id);
  return it == firsts_.begin() ? 0
                               : static_cast<size_t>(it - firsts_.begin()) - 1;
}

ItemIndex::Position ItemIndex::LowerBound(const RecordId& id) const {
  if (chunks_.empty()) return {};
  size_t c = ChunkFor(id);
  const auto& items = chunks_[c].items;
  return {c, static_cast<size_t>(
                 std::lower_bound(items.begin(), items.end(), id, ItemBefore) -
                 items.begin())};
}

std::pair<ItemIndex::Position, ItemIndex::Position> ItemIndex::Bounds(
    const IdRange& range) const {
  Position lo = LowerBound(range.begin);
  if (!range.has_end) return {lo, Position{chunks_.size(), 0}};
  if (range.end <= range.begin) return {lo, lo};  // empty
  return {lo, LowerBound(range.end)};
}

Fingerprint ItemIndex::Before(const Position& p) const {
  Fingerprint fp = prefix_[p.chunk];
  if (p.offset > 0) AddTo(fp, chunks_[p.chunk].sums[p.offset - 1], p.offset);
  return fp;
}

size_t ItemIndex::Rank(const Position& p) const {
  return static_cast<size_t>(prefix_[p.chunk].count) + p.offset;
}

const RecordId& ItemIndex::IdAt(size_t rank) const {
  assert(rank < size_);
  // The first chunk whose end lies past `rank`.
  auto it = std::upper_bound(
      prefix_.begin() + 1, prefix_.end(), rank,
      [](size_t r, const Fingerprint& fp) { return r < fp.count; });
  size_t c = static_cast<size_t>(it - (prefix_.begin() + 1));
  return chunks_[c].items[rank - prefix_[c].count].id;
}

void ItemIndex::Refresh() {
  if (prefix_.empty()) clean_ = 0;  // prefix_[0] is about to be zero
  clean_ = std::min(clean_, chunks_.size());
  if (clean_ == chunks_.size() && prefix_.size() == chunks_.size() + 1) {
    return;
  }
  prefix_.resize(chunks_.size() + 1);
  // The running sum stays in registers (not reloaded through prefix_).
  uint64_t lo = prefix_[clean_].lo, hi = prefix_[clean_].hi;
  uint64_t count = prefix_[clean_].count;
  for (size_t c = clean_; c < chunks_.size(); ++c) {
    const Fingerprint& t = totals_[c];
    lo += t.lo;
    hi += t.hi + (lo < t.lo ? 1 : 0);
    count += t.count;
    prefix_[c + 1] = Fingerprint{lo, hi, count};
  }
  clean_ = chunks_.size();
}

void ItemIndex::Split(size_t c) {
  Chunk right;
  {
    Chunk& left = chunks_[c];
    size_t half = left.items.size() / 2;
    assert(half > 0);
    Sum128 base = left.sums[half - 1];
    right.items.assign(left.items.begin() + static_cast<ptrdiff_t>(half),
                       left.items.end());
    for (size_t j = half; j < left.sums.size(); ++j) {
      right.sums.push_back(left.sums[j] - base);
    }
    left.items.resize(half);
    left.sums.resize(half);
  }
  firsts_.insert(firsts_.begin() + static_cast<ptrdiff_t>(c + 1),
                 right.items.front().id);
  chunks_.insert(chunks_.begin() + static_cast<ptrdiff_t>(c + 1),
                 std::move(right));
  totals_.insert(totals_.begin() + static_cast<ptrdiff_t>(c + 1),
                 Fingerprint());
  Touch(c);
  Touch(c + 1);
}

void ItemIndex::Merge(size_t c) {
  Chunk& left = chunks_[c];
  Chunk& right = chunks_[c + 1];
  Sum128 base = left.sums.back();
  left.items.insert(left.items.end(), right.items.begin(), right.items.end());
  for (Sum128 s : right.sums) {
    s += base;
    left.sums.push_back(s);
  }
  chunks_.erase(chunks_.begin() + static_cast<ptrdiff_t>(c + 1));
  firsts_.erase(firsts_.begin() + static_cast<ptrdiff_t>(c + 1));
  totals_.erase(totals_.begin() + static_cast<ptrdiff_t>(c + 1));
  Touch(c);
}

void ItemIndex::Touch(size_t c) noexcept {
  const Chunk& chunk = chunks_[c];
  totals_[c] = Fingerprint{chunk.sums.back().lo, chunk.sums.back().hi,
                           chunk.items.size()};
  if (c < clean_) clean_ = c;
}

}  // namespace syncstack
