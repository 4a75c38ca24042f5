// The memory store: per account, per collection an ordered map id -> record
// with two ordered secondary sets, (base, id) for ScanSince and the ids of
// rows not synced for ScanUnsynced, kept in the same critical section as
// the rows; plus a meta map, behind one reader-writer lock per account.
#include "syncstack/memory/memory_store.h"

#include <map>
#include <mutex>
#include <new>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "syncstack/chunked_get.h"
#include "syncstack/index_scan.h"
#include "syncstack/paged_iterator.h"

namespace syncstack {
namespace {

using RecordMap = std::map<RecordId, Record>;
using MetaMap = std::map<std::string, std::string, std::less<>>;
using BaseSet = std::set<std::pair<Timestamp, RecordId>>;
using IdSet = std::set<RecordId>;

// One collection's rows and their indexes.
struct CollectionRows {
  RecordMap rows;
  BaseSet by_base;  // (base, id) of every row
  IdSet unsynced;   // ids of the rows whose state is not kSynced

  // Removes `r`'s index entries. Never allocates.
  void Unindex(const Record& r) noexcept {
    by_base.erase({r.base, r.id});
    if (r.state != SyncState::kSynced) unsynced.erase(r.id);
  }
};

// The index nodes of one put, made before the commit so that inserting
// them cannot fail.
struct IndexNodes {
  BaseSet::node_type base;
  IdSet::node_type unsynced;  // empty for a synced row
};

// Scans copy at most this many entries per lock acquisition, and look at no
// more than kScanMaxExamined rows (tombstones skipped) per acquisition.
constexpr size_t kScanChunk = 512;
constexpr size_t kScanMaxExamined = 4 * kScanChunk;

Status OutOfMemory() { return Status::IOError("memory store: out of memory"); }
Status IndexBroken() {
  return Status::Corruption("memory store: an index names a missing row");
}

// One account's data. Shared by the Store objects of the account and by
// their iterators, so neither can dangle.
struct AccountState {
  mutable std::shared_mutex mu;
  std::map<std::string, CollectionRows, std::less<>>
      collections;  // GUARDED_BY(mu)
  MetaMap meta;     // GUARDED_BY(mu)

  // REQUIRES: mu held (shared or exclusive).
  const CollectionRows* FindCollection(std::string_view collection) const {
    auto it = collections.find(collection);
    return it == collections.end() ? nullptr : &it->second;
  }
  const RecordMap* Find(std::string_view collection) const {
    const CollectionRows* c = FindCollection(collection);
    return c == nullptr ? nullptr : &c->rows;
  }
};

void CopyEntry(const Record& r, ManifestEntry& out) {
  out.version = r.version;
  out.deleted = r.deleted;
  out.state = r.state;
  out.base = r.base;
}

// A scan page: copies a chunk of entries under the shared lock, so writers
// are never blocked for longer than one chunk (PagedManifestIterator
// resumes after the last id examined).
Status FillPage(const AccountState& state, std::string_view collection,
                const PageRequest& request, EntryPage& page) {
  std::shared_lock lock(state.mu);
  const RecordMap* rows = state.Find(collection);
  if (rows == nullptr) {
    page.SetEnd();
    return Status::Ok();
  }
  auto it = rows->lower_bound(request.range.begin);
  for (size_t examined = 0;
       examined < kScanMaxExamined && page.size() < request.limit;
       ++examined, ++it) {
    if (it == rows->end() || request.PastEnd(it->first)) {
      page.SetEnd();
      break;
    }
    if (!request.include_tombstones && it->second.deleted) {
      page.Skip(it->first);
      continue;
    }
    CopyEntry(it->second, page.Add(it->first));
  }
  return Status::Ok();
}

class MemoryStore final : public Store {
 public:
  explicit MemoryStore(std::shared_ptr<AccountState> state)
      : state_(std::move(state)) {}

  Status Apply(const WriteOptions& options,
               const ChangeBatch& batch) noexcept override;
  std::unique_ptr<ManifestIterator> Scan(
      std::string_view collection,
      const ScanOptions& options) noexcept override;
  Status Get(std::string_view collection, std::span<const RecordId> ids,
             FunctionRef<void(const Record&)> fn) noexcept override;
  Result<std::vector<std::string>> Collections() noexcept override;
  Result<std::optional<std::string>> GetMeta(
      std::string_view key) noexcept override;
  Status ScanSince(std::string_view collection, Timestamp after, size_t limit,
                   FunctionRef<void(const Record&)> fn) noexcept override;
  Status ScanUnsynced(std::string_view collection,
                      FunctionRef<void(const Record&)> fn) noexcept override;
  Status ScanMeta(std::string_view prefix,
                  FunctionRef<void(std::string_view, std::string_view)>
                      fn) noexcept override;

 private:
  Status ApplyImpl(const ChangeBatch& batch);

  const std::shared_ptr<AccountState> state_;
};

Status MemoryStore::Apply(const WriteOptions& /*options*/,
                          const ChangeBatch& batch) noexcept {
  for (const ChangeBatch::Op& op : batch.ops()) {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(op.record.collection));
  }
  if (batch.empty()) return Status::Ok();
  try {
    return ApplyImpl(batch);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

// Everything that allocates happens before the first change to the state,
// so an allocation failure leaves the store as it was. Long on purpose:
// that guarantee is read off one function, the allocating half above the
// lock and the half that cannot fail below it.
Status MemoryStore::ApplyImpl(const ChangeBatch& batch) {
  const std::vector<ChangeBatch::Op>& ops = batch.ops();

  // Copy the new rows and meta values into detached map nodes, without the
  // lock; inserting a node later cannot fail.
  std::vector<RecordMap::node_type> rows(ops.size());
  std::vector<IndexNodes> indexes(ops.size());
  {
    RecordMap scratch;
    BaseSet base_scratch;
    IdSet id_scratch;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind != ChangeBatch::Op::Kind::kPut) continue;
      const Record& r = ops[i].record;
      rows[i] = scratch.extract(scratch.emplace(r.id, r).first);
      indexes[i].base =
          base_scratch.extract(base_scratch.emplace(r.base, r.id).first);
      if (r.state != SyncState::kSynced) {
        indexes[i].unsynced =
            id_scratch.extract(id_scratch.emplace(r.id).first);
      }
    }
  }
  std::vector<MetaMap::node_type> metas(batch.meta().size());
  {
    MetaMap scratch;
    for (size_t i = 0; i < metas.size(); ++i) {
      const auto& [key, value] = batch.meta()[i];
      metas[i] = scratch.extract(scratch.emplace(key, value).first);
    }
  }
  std::vector<CollectionRows*> targets(ops.size(), nullptr);
  bool any_expect = false;
  for (const ChangeBatch::Op& op : ops) any_expect |= op.expect.has_value();

  std::unique_lock lock(state_->mu);
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string& name = ops[i].record.collection;
    auto it = state_->collections.find(name);
    if (it == state_->collections.end()) {
      // Only puts need the map; an empty map left behind by a failed batch
      // is invisible (Collections() lists non-empty ones).
      if (ops[i].kind != ChangeBatch::Op::Kind::kPut) continue;
      it = state_->collections.try_emplace(name).first;
    }
    targets[i] = &it->second;
  }

  if (any_expect) {
    // The row each earlier op of the batch leaves behind: a pending put's
    // record, or nullptr after an erase.
    std::map<std::pair<std::string_view, RecordId>, const Record*> overlay;
    for (size_t i = 0; i < ops.size(); ++i) {
      const ChangeBatch::Op& op = ops[i];
      std::pair<std::string_view, RecordId> key{op.record.collection,
                                                op.record.id};
      if (op.expect.has_value()) {
        const Record* current = nullptr;
        if (auto o = overlay.find(key); o != overlay.end()) {
          current = o->second;
        } else if (targets[i] != nullptr) {
          auto row = targets[i]->rows.find(op.record.id);
          if (row != targets[i]->rows.end()) current = &row->second;
        }
        if (!Satisfies(current, *op.expect)) {
          return Status::Conflict("expectation failed for " +
                                  op.record.collection + "/" +
                                  op.record.id.ToString());
        }
      }
      overlay[key] =
          op.kind == ChangeBatch::Op::Kind::kPut ? &rows[i].mapped() : nullptr;
    }
  }

  // Commit: nothing below allocates or throws.
  for (size_t i = 0; i < ops.size(); ++i) {
    CollectionRows* target = targets[i];
    if (target == nullptr) continue;  // erase in an absent collection
    auto row = target->rows.find(ops[i].record.id);
    if (row != target->rows.end()) target->Unindex(row->second);
    if (ops[i].kind == ChangeBatch::Op::Kind::kPut) {
      if (row != target->rows.end()) {
        row->second = std::move(rows[i].mapped());
      } else {
        target->rows.insert(std::move(rows[i]));
      }
      target->by_base.insert(std::move(indexes[i].base));
      if (!indexes[i].unsynced.empty()) {
        target->unsynced.insert(std::move(indexes[i].unsynced));
      }
    } else if (row != target->rows.end()) {
      target->rows.erase(row);
    }
  }
  for (MetaMap::node_type& node : metas) {
    auto it = state_->meta.find(node.key());
    if (it != state_->meta.end()) {
      it->second.swap(node.mapped());
    } else {
      state_->meta.insert(std::move(node));
    }
  }
  return Status::Ok();
}

std::unique_ptr<ManifestIterator> MemoryStore::Scan(
    std::string_view collection, const ScanOptions& options) noexcept {
  Status valid = ValidateCollectionName(collection);
  if (!valid.ok()) return NewErrorIterator(std::move(valid));
  try {
    return NewPagedManifestIterator(
        options, kScanChunk,
        [state = std::shared_ptr<const AccountState>(state_),
         name = std::string(collection)](const PageRequest& request,
                                         EntryPage& page) {
          return FillPage(*state, name, request, page);
        });
  } catch (const std::bad_alloc&) {
    return NewErrorIterator(OutOfMemory());
  }
}

Status MemoryStore::Get(std::string_view collection,
                        std::span<const RecordId> ids,
                        FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  auto read = [&](RecordChunk& chunk) -> Status {
    std::shared_lock lock(state_->mu);
    const RecordMap* rows = state_->Find(collection);
    if (rows == nullptr) {
      chunk.NoneLeft();
      return Status::Ok();
    }
    while (chunk.HasRoom()) {
      auto it = rows->find(chunk.next_id());
      if (it == rows->end()) {
        chunk.NotFound();
      } else {
        chunk.Found() = it->second;  // reuses the buffers' capacity
      }
    }
    return Status::Ok();
  };
  try {
    return ChunkedGet(ids, read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status MemoryStore::ScanSince(std::string_view collection, Timestamp after,
                              size_t limit,
                              FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  auto read = [&](const SinceKey& from, RowChunk& chunk) -> Status {
    std::shared_lock lock(state_->mu);
    const CollectionRows* c = state_->FindCollection(collection);
    if (c == nullptr) {
      chunk.SetEnd();
      return Status::Ok();
    }
    auto it = c->by_base.upper_bound({from.base, from.id});
    for (; it != c->by_base.end() && chunk.HasRoom(); ++it) {
      auto row = c->rows.find(it->second);
      if (row == c->rows.end()) return IndexBroken();
      chunk.Add() = row->second;  // reuses the buffers' capacity
    }
    if (it == c->by_base.end()) chunk.SetEnd();
    return Status::Ok();
  };
  try {
    return ChunkedScanSince(after, limit, read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status MemoryStore::ScanUnsynced(std::string_view collection,
                                 FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  auto read = [&](const RecordId* from, RowChunk& chunk) -> Status {
    std::shared_lock lock(state_->mu);
    const CollectionRows* c = state_->FindCollection(collection);
    if (c == nullptr) {
      chunk.SetEnd();
      return Status::Ok();
    }
    auto it =
        from == nullptr ? c->unsynced.begin() : c->unsynced.upper_bound(*from);
    for (; it != c->unsynced.end() && chunk.HasRoom(); ++it) {
      auto row = c->rows.find(*it);
      if (row == c->rows.end()) return IndexBroken();
      chunk.Add() = row->second;
    }
    if (it == c->unsynced.end()) chunk.SetEnd();
    return Status::Ok();
  };
  try {
    return ChunkedScanUnsynced(read, fn);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<std::vector<std::string>> MemoryStore::Collections() noexcept {
  try {
    std::vector<std::string> names;
    std::shared_lock lock(state_->mu);
    for (const auto& [name, c] : state_->collections) {
      if (!c.rows.empty()) names.push_back(name);
    }
    return names;
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Result<std::optional<std::string>> MemoryStore::GetMeta(
    std::string_view key) noexcept {
  try {
    std::shared_lock lock(state_->mu);
    auto it = state_->meta.find(key);
    if (it == state_->meta.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  } catch (const std::bad_alloc&) {
    return OutOfMemory();
  }
}

Status MemoryStore::ScanMeta(
    std::string_view prefix,
    FunctionRef<void(std::string_view, std::string_view)> fn) noexcept {
  std::shared_lock lock(state_->mu);
  for (auto it = state_->meta.lower_bound(prefix);
       it != state_->meta.end() && it->first.starts_with(prefix); ++it) {
    fn(it->first, it->second);
  }
  return Status::Ok();
}

class MemoryDatabase final : public Database {
 public:
  Result<std::shared_ptr<Store>> OpenAccount(
      std::string_view account) noexcept override {
    if (account.empty()) {
      return Status::InvalidArgument("empty account name");
    }
    try {
      return std::shared_ptr<Store>(
          std::make_shared<MemoryStore>(State(account)));
    } catch (const std::bad_alloc&) {
      return OutOfMemory();
    }
  }

  Status RemoveAccount(std::string_view account, std::string_view ledger,
                       const ChangeBatch& ledger_meta) noexcept override {
    SYNCSTACK_RETURN_IF_ERROR(
        ValidateRemoveAccount(account, ledger, ledger_meta));
    try {
      return RemoveImpl(State(account), State(ledger), ledger_meta);
    } catch (const std::bad_alloc&) {
      return OutOfMemory();
    }
  }

 private:
  // The state of `account`, made on first use.
  std::shared_ptr<AccountState> State(std::string_view account) {
    std::lock_guard lock(mu_);
    auto it = accounts_.find(account);
    if (it == accounts_.end()) {
      it = accounts_
               .emplace(std::string(account), std::make_shared<AccountState>())
               .first;
    }
    return it->second;
  }

  // Everything that allocates happens before the first change, so an
  // allocation failure changes nothing.
  static Status RemoveImpl(const std::shared_ptr<AccountState>& gone,
                           const std::shared_ptr<AccountState>& ledger,
                           const ChangeBatch& ledger_meta) {
    MetaMap staged;
    for (const auto& [key, value] : ledger_meta.meta()) staged[key] = value;
    std::scoped_lock lock(gone->mu, ledger->mu);
    gone->collections.clear();
    gone->meta.clear();
    while (!staged.empty()) {
      auto node = staged.extract(staged.begin());
      auto it = ledger->meta.find(node.key());
      if (it != ledger->meta.end()) {
        it->second.swap(node.mapped());
      } else {
        ledger->meta.insert(std::move(node));
      }
    }
    return Status::Ok();
  }

  std::mutex mu_;
  std::map<std::string, std::shared_ptr<AccountState>, std::less<>>
      accounts_;  // GUARDED_BY(mu_)
};

}  // namespace

Result<std::unique_ptr<Database>> OpenMemoryDatabase(
    const MemoryDatabaseOptions& /*options*/) {
  return std::unique_ptr<Database>(std::make_unique<MemoryDatabase>());
}

}  // namespace syncstack
