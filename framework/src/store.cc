#include "syncstack/store.h"

#include <algorithm>
#include <queue>
#include <utility>

namespace syncstack {

bool Satisfies(const Record* row, const Expect& expect) noexcept {
  if (!expect.exists) return row == nullptr;
  if (row == nullptr) return false;
  if (row->state != expect.state || row->deleted != expect.deleted ||
      row->version.timestamp != expect.timestamp) {
    return false;
  }
  return !expect.payload.has_value() || *expect.payload == row->payload;
}

Expect ExpectRow(const Record* row) {
  Expect e;
  if (row == nullptr) return e;
  e.exists = true;
  e.state = row->state;
  e.deleted = row->deleted;
  e.timestamp = row->version.timestamp;
  e.payload = row->payload;
  return e;
}

void ChangeBatch::Put(Record record, std::optional<Expect> expect) {
  ops_.push_back(Op{Op::Kind::kPut, std::move(record), std::move(expect)});
}

void ChangeBatch::Erase(std::string collection, RecordId id,
                        std::optional<Expect> expect) {
  Op op;
  op.kind = Op::Kind::kErase;
  op.record.collection = std::move(collection);
  op.record.id = id;
  op.expect = std::move(expect);
  ops_.push_back(std::move(op));
}

void ChangeBatch::SetMeta(std::string key, std::string value) {
  meta_.emplace_back(std::move(key), std::move(value));
}

void ChangeBatch::Clear() noexcept {
  ops_.clear();
  meta_.clear();
  lease_.reset();
}

Status Store::ScanMeta(
    std::string_view,
    FunctionRef<void(std::string_view, std::string_view)>) noexcept {
  return Status::NotSupported("this store cannot list its metadata");
}

Status Store::StampCaptured(const WriteOptions&,
                            FunctionRef<Version(const LocalWrite&)>) noexcept {
  return Status::Ok();  // nothing captured
}

Status Database::RemoveAccount(std::string_view, std::string_view,
                               const ChangeBatch&) noexcept {
  return Status::NotSupported("this database cannot remove an account");
}

Status ValidateRemoveAccount(std::string_view account, std::string_view ledger,
                             const ChangeBatch& ledger_meta) {
  if (account.empty() || ledger.empty()) {
    return Status::InvalidArgument("remove account: empty account name");
  }
  if (account == ledger) {
    return Status::InvalidArgument(
        "remove account: the ledger is the account removed");
  }
  if (!ledger_meta.ops().empty()) {
    return Status::InvalidArgument(
        "remove account: the ledger batch may set metadata only");
  }
  return Status::Ok();
}

Result<std::optional<Record>> Store::GetOne(std::string_view collection,
                                            const RecordId& id) noexcept {
  std::optional<Record> found;
  Status s = Get(collection, std::span<const RecordId>(&id, 1),
                 [&](const Record& r) { found = r; });
  if (!s.ok()) return s;
  return found;
}

// The defaults below read the whole collection (a Scan, then Get); the
// built-in stores answer from an index instead.
Status Store::ScanSince(std::string_view collection, Timestamp after,
                        size_t limit,
                        FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  if (limit == 0) return Status::Ok();
  try {
    // The `limit` lowest (base, id) keys after `after`, in a max-heap.
    using Key = std::pair<Timestamp, RecordId>;
    std::priority_queue<Key> lowest;
    auto it = Scan(collection, ScanOptions{});
    for (; it->Valid(); it->Next()) {
      const ManifestEntry& e = it->entry();
      if (e.base <= after) continue;
      Key key{e.base, e.id};
      if (lowest.size() < limit) {
        lowest.push(key);
      } else if (key < lowest.top()) {
        lowest.pop();
        lowest.push(key);
      }
    }
    SYNCSTACK_RETURN_IF_ERROR(it->status());
    std::vector<Key> keys;
    keys.reserve(lowest.size());
    for (; !lowest.empty(); lowest.pop()) keys.push_back(lowest.top());
    std::reverse(keys.begin(), keys.end());
    std::vector<RecordId> ids;
    ids.reserve(keys.size());
    for (const Key& key : keys) ids.push_back(key.second);
    size_t next = 0;
    return Get(collection, ids, [&](const Record& r) {
      // A row rewritten since the scan moved to a later base: it is not
      // at this place of the order any more.
      while (next < keys.size() && keys[next].second != r.id) ++next;
      if (next < keys.size() && keys[next].first == r.base) fn(r);
    });
  } catch (const std::bad_alloc&) {
    return Status::IOError("scan since: out of memory");
  }
}

Status Store::ScanUnsynced(std::string_view collection,
                           FunctionRef<void(const Record&)> fn) noexcept {
  SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(collection));
  try {
    constexpr size_t kSlice = 1024;
    std::vector<RecordId> ids;
    ids.reserve(kSlice);
    auto flush = [&]() -> Status {
      Status s = Get(collection, ids, [&](const Record& r) {
        if (r.state != SyncState::kSynced) fn(r);
      });
      ids.clear();
      return s;
    };
    auto it = Scan(collection, ScanOptions{});
    for (; it->Valid(); it->Next()) {
      if (it->entry().state == SyncState::kSynced) continue;
      ids.push_back(it->entry().id);
      if (ids.size() == kSlice) SYNCSTACK_RETURN_IF_ERROR(flush());
    }
    SYNCSTACK_RETURN_IF_ERROR(it->status());
    return ids.empty() ? Status::Ok() : flush();
  } catch (const std::bad_alloc&) {
    return Status::IOError("scan unsynced: out of memory");
  }
}

Status ScanRecords(Store& store, std::string_view collection,
                   const ScanOptions& options,
                   FunctionRef<void(const Record&)> fn, size_t slice) {
  std::vector<RecordId> ids;
  ids.reserve(slice);
  auto flush = [&]() -> Status {
    Status s = store.Get(collection, ids, [&](const Record& r) {
      // A row deleted between the scan and the read stays out.
      if (options.include_tombstones || !r.deleted) fn(r);
    });
    ids.clear();
    return s;
  };
  auto it = store.Scan(collection, options);
  for (; it->Valid(); it->Next()) {
    ids.push_back(it->entry().id);
    if (ids.size() >= slice) SYNCSTACK_RETURN_IF_ERROR(flush());
  }
  SYNCSTACK_RETURN_IF_ERROR(it->status());
  return ids.empty() ? Status::Ok() : flush();
}

namespace {
class ErrorIterator final : public ManifestIterator {
 public:
  explicit ErrorIterator(Status status) : status_(std::move(status)) {}
  bool Valid() const noexcept override { return false; }
  const ManifestEntry& entry() const noexcept override { return entry_; }
  void Next() noexcept override {}
  Status status() const noexcept override { return status_; }

 private:
  Status status_;
  ManifestEntry entry_;
};
}  // namespace

std::unique_ptr<ManifestIterator> NewErrorIterator(Status status) {
  return std::make_unique<ErrorIterator>(std::move(status));
}

Status ValidateCollectionName(std::string_view name) {
  auto bad = [&] {
    return Status::InvalidArgument("bad collection name \"" +
                                   std::string(name.substr(0, 80)) +
                                   "\": want [A-Za-z_][A-Za-z0-9_]{0,63}");
  };
  if (name.empty() || name.size() > 64) return bad();
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return bad();
  }
  return Status::Ok();
}

}  // namespace syncstack
