// Private: the reconcile ItemIndex cache of the service. Building the index
// of a collection costs a scan of its manifest; a cached one stays current
// while the account's write sequence does not move, and the service's own
// writes update it in place.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "service/pending_writes.h"
#include "syncstack/reconcile/item_index.h"
#include "syncstack/store.h"

namespace syncstack::service {

// Thread safety: all methods may be called concurrently; an entry's index
// is read and changed only under its account's write mutex.
class ItemCaches {
 public:
  // The most (account, collection) entries kept; the least recently used
  // goes first. An entry in use stays alive until its user is done.
  static constexpr size_t kMaxEntries = 64;
  // The default bound on the bytes the kept entries' indexes take (256
  // MiB, about 2.5 million items); an index larger than the bound by
  // itself serves the request that built it and is not kept.
  static constexpr size_t kDefaultMaxBytes = size_t{256} << 20;

  explicit ItemCaches(size_t max_bytes = kDefaultMaxBytes)
      : max_bytes_(max_bytes) {}
  ItemCaches(const ItemCaches&) = delete;
  ItemCaches& operator=(const ItemCaches&) = delete;

  // The memory an index takes, estimated from its chunks (each reserves
  // room for ItemIndex::kChunk items of about 48 bytes).
  static size_t IndexBytes(const ItemIndex& index);

  // Reconciliation items of the live records of (account, collection),
  // current while the account's write sequence is `seq`.
  struct Entry {
    uint64_t seq = 0;
    std::unique_ptr<ItemIndex> items;
    uint64_t last_used = 0;  // guarded by the cache's mutex
    size_t bytes = 0;        // guarded by the cache's mutex
  };

  // The entry of (account, collection) with the items of the live records
  // of `store`'s `collection` at write sequence `seq`: the cached index if
  // it is current, else one built by a scan. REQUIRES: the caller holds
  // the account's write mutex while it uses the entry. Errors: those of
  // the scan.
  Result<std::shared_ptr<Entry>> Current(Store& store, std::string_view account,
                                         std::string_view collection,
                                         uint64_t seq);

  // After a write of `account` (under its write mutex) moved its sequence
  // from `before` to `after`: brings the account's cached items up to
  // date, O(log n) per written row (collections it did not touch just
  // move to `after`), or drops those that were stale already (another
  // process wrote).
  void Wrote(std::string_view account, const PendingWrites& writes,
             uint64_t before, uint64_t after);

  // The number of entries kept and the bytes their indexes take (for
  // tests and measurements).
  size_t entry_count();
  size_t bytes();

  // Whether `entry` is kept (false: too large for the budget, or evicted;
  // its index goes with the last user).
  bool Holds(const std::shared_ptr<Entry>& entry);

  // Gives the heap's free pages back to the system (glibc's malloc_trim):
  // called after an index too large to keep was freed, so that a
  // reconciliation of a large collection does not leave the server's
  // resident set at its peak. A no-op where the C library has no trim.
  static void ReleaseFreedMemory();

 private:
  // The entry of (account, collection), made if missing, marked used;
  // evicts the least recently used beyond kMaxEntries.
  std::shared_ptr<Entry> Touch(std::string_view account,
                               std::string_view collection);

  // Records that `entry`'s index now takes `bytes`, then evicts the
  // least recently used entries while more than kMaxEntries are kept or
  // they take more than max_bytes_ (`entry` itself last).
  void Charge(const std::shared_ptr<Entry>& entry, size_t bytes);
  // Evicts as Charge says. REQUIRES: mu_ held.
  void EvictLocked();

  const size_t max_bytes_;
  std::mutex mu_;
  uint64_t clock_ = 0;  // guarded by mu_
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Entry>>
      entries_;  // guarded by mu_
};

}  // namespace syncstack::service
