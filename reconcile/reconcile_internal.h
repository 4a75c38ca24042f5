// Internals shared by the item sources of reconcile/ (not installed): the
// item hash behind Fingerprint, the separator ids and split points, and
// the sort-and-deduplicate rule, so every source answers alike.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "syncstack/function_ref.h"
#include "syncstack/reconcile/reconcile.h"

namespace syncstack::reconcile_internal {

inline uint64_t Mix(uint64_t x) noexcept {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline uint64_t Load64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// A sum modulo 2^128.
struct Sum128 {
  uint64_t lo = 0, hi = 0;

  void operator+=(const Sum128& o) noexcept {
    lo += o.lo;
    hi += o.hi + (lo < o.lo ? 1 : 0);
  }
  void operator-=(const Sum128& o) noexcept {
    uint64_t borrow = lo < o.lo ? 1 : 0;
    lo -= o.lo;
    hi -= o.hi + borrow;
  }
  friend Sum128 operator-(Sum128 a, const Sum128& b) noexcept {
    a -= b;
    return a;
  }
  friend bool operator==(const Sum128&, const Sum128&) = default;
};

// The 128-bit hash an item adds to a Fingerprint.
inline Sum128 ItemHash(const ReconcileItem& item) noexcept {
  const uint8_t* id = item.id.bytes().data();
  uint64_t x = Load64(id), y = Load64(id + 8);
  uint64_t t = static_cast<uint64_t>(item.timestamp), g = item.tag;
  return {Mix(x ^ Mix(y ^ Mix(t ^ Mix(g ^ 0x9e3779b97f4a7c15ULL)))),
          Mix(y + Mix(x + Mix(g + Mix(t + 0xc2b2ae3d27d4eb4fULL))))};
}

// `fp` plus `count` items whose hashes sum to `sum`.
inline void AddTo(Fingerprint& fp, const Sum128& sum, uint64_t count) {
  Sum128 s{fp.lo, fp.hi};
  s += sum;
  fp.lo = s.lo;
  fp.hi = s.hi;
  fp.count += count;
}

// The shortest id (zero-padded prefix of `next`) with prev < id <= next.
RecordId Separator(const RecordId& prev, const RecordId& next) noexcept;

// ItemSource::SplitPoints for the items of ranks [lo, hi) of a sorted
// sequence, `id_at(i)` giving the id of the item of rank i: the cuts fall
// at ranks lo + k * (hi - lo) / parts.
std::vector<RecordId> SplitRanks(size_t lo, size_t hi, size_t parts,
                                 FunctionRef<RecordId(size_t)> id_at);

// Sorts `items` by id (stably) and keeps the last item of each id.
void SortUnique(std::vector<ReconcileItem>& items);

}  // namespace syncstack::reconcile_internal
