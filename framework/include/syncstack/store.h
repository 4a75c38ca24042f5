// Store: where one account's records live, ordered by id, plus the local
// metadata the engine needs. Database: a set of isolated accounts' stores
// in one physical database (a device uses one account; a server many).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/clock.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/function_ref.h"
#include "syncstack/record.h"
#include "syncstack/status.h"

namespace syncstack {

class SyncLock;

struct WriteOptions {
  // Make the batch durable (fsync or equivalent) before Apply returns.
  // Default: true.
  bool sync = true;
};

// A precondition on one row, checked inside Apply's transaction. It lets
// the engine apply an answer only if the app did not touch the record
// since the engine read it.
struct Expect {
  bool exists = false;  // false: the row must be absent; the rest is ignored
  SyncState state = SyncState::kSynced;
  bool deleted = false;
  Timestamp timestamp = kNoTimestamp;  // version.timestamp
  std::optional<std::string> payload;  // compared byte for byte when set
};

// Returns true if `row` (nullptr: absent) satisfies `expect`.
bool Satisfies(const Record* row, const Expect& expect) noexcept;

// The exact current state of `row` (nullptr: absent) as a precondition:
// any write to the row after it was read makes the Expect fail.
Expect ExpectRow(const Record* row);

// A lease precondition: the batch commits only while `token` is the
// account's live lease at `now` in the database's shared lock (see
// Database::NewSyncLock). Set by SyncLock::Fence, not by hand.
struct LeaseFence {
  std::string token;
  Timestamp now = kNoTimestamp;
};

// An ordered list of writes applied atomically by Store::Apply. Reuse a
// batch after Clear() to keep its buffers.
class ChangeBatch {
 public:
  struct Op {
    enum class Kind : uint8_t { kPut, kErase };
    Kind kind = Kind::kPut;
    Record record;  // kErase uses only collection and id
    std::optional<Expect> expect;
  };

  // Inserts or replaces the row (collection, id) with `record`.
  void Put(Record record, std::optional<Expect> expect = std::nullopt);
  // Removes the row (collection, id) entirely; absent rows are a no-op.
  void Erase(std::string collection, RecordId id,
             std::optional<Expect> expect = std::nullopt);
  // Sets local metadata `key` (e.g. a checkpoint) in the same transaction.
  void SetMeta(std::string key, std::string value);
  // Makes Apply check `fence` in its transaction and fail with kLeaseLost
  // (applying nothing) unless the lease is live. Only stores whose Database
  // has a shared lock (NewSyncLock) check it; the others ignore it, their
  // lock being in-process, where the caller's SyncLock::Check under its
  // per-account mutex already fences the write.
  void RequireLease(LeaseFence fence) { lease_ = std::move(fence); }

  void Clear() noexcept;
  bool empty() const noexcept { return ops_.empty() && meta_.empty(); }
  size_t size() const noexcept { return ops_.size(); }

  const std::vector<Op>& ops() const noexcept { return ops_; }
  const std::vector<std::pair<std::string, std::string>>& meta()
      const noexcept {
    return meta_;
  }
  const std::optional<LeaseFence>& lease() const noexcept { return lease_; }

 private:
  std::vector<Op> ops_;
  std::vector<std::pair<std::string, std::string>> meta_;
  std::optional<LeaseFence> lease_;
};

// Iterates manifest entries of one collection in ascending id order.
// Usage: for (; it->Valid(); it->Next()) use(it->entry()); then check
// it->status(). Writes to the store during a scan are allowed: the iterator
// yields each id at most once and never goes backwards; whether it sees a
// write made ahead of its position is unspecified.
class ManifestIterator {
 public:
  ManifestIterator() = default;
  ManifestIterator(const ManifestIterator&) = delete;
  ManifestIterator& operator=(const ManifestIterator&) = delete;
  virtual ~ManifestIterator();

  virtual bool Valid() const noexcept = 0;
  // REQUIRES: Valid(). The reference is good until the next Next().
  virtual const ManifestEntry& entry() const noexcept = 0;
  // REQUIRES: Valid()
  virtual void Next() noexcept = 0;
  // OK unless the scan stopped on an error (then Valid() is false).
  virtual Status status() const noexcept = 0;
};

struct ScanOptions {
  IdRange range;  // Default: every id.
  // Yield tombstones (deleted rows) too. Default: true.
  bool include_tombstones = true;
};

// Thread safety: all methods may be called concurrently.
// Errors: never throws; failures come back as Status.
class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  virtual ~Store();

  // Applies every op of `batch` in order, atomically: on any error
  // (including a failed Expect, kConflict) nothing is applied.
  // Stores keep payload bytes as given and never parse them.
  // Errors: kConflict, kInvalidArgument (a bad collection name),
  // kUnavailable (another process holds the write lock too long; retry),
  // kIOError, kCorruption.
  virtual Status Apply(const WriteOptions& options,
                       const ChangeBatch& batch) noexcept = 0;

  // Scans `collection`'s manifest in id order (see ManifestIterator). Every
  // row that exists unchanged for the whole scan is yielded. An unknown
  // collection yields an empty scan; a bad name an iterator whose status()
  // is kInvalidArgument. Never returns nullptr.
  virtual std::unique_ptr<ManifestIterator> Scan(
      std::string_view collection, const ScanOptions& options) noexcept = 0;

  // Calls `fn` for each id of `ids` that has a row (tombstones included),
  // in the order of `ids` (a repeated id once per occurrence); missing ids
  // are skipped. The Record reference is valid only during the call; `fn`
  // may call the store. Errors: kInvalidArgument (a bad collection name),
  // kUnavailable, kIOError, kCorruption.
  virtual Status Get(std::string_view collection, std::span<const RecordId> ids,
                     FunctionRef<void(const Record&)> fn) noexcept = 0;

  // Names of the collections that have at least one row, sorted.
  virtual Result<std::vector<std::string>> Collections() noexcept = 0;

  // Local metadata set through ChangeBatch::SetMeta; nullopt if unset.
  virtual Result<std::optional<std::string>> GetMeta(
      std::string_view key) noexcept = 0;

  // Calls `fn` for each row of `collection` (tombstones included) whose
  // `base` is greater than `after`, in ascending `base` order, stopping
  // after `limit` rows. On a server store `base` holds the account write
  // sequence of the row's last write (see tombstones.h), so this is
  // "everything written after sequence `after`"; a row rewritten twice
  // appears once, at its last sequence. Time proportional to the rows
  // yielded (an index on (account, collection, base)). The default is
  // correct but reads the whole collection; the built-in stores override
  // it. Rows with equal `base` come in id order. The Record reference is
  // valid only during the call; `fn` may call the store (nothing is held
  // while it runs). A row rewritten during the call may come again at its
  // new base. An unknown collection yields nothing. Errors: as Get.
  virtual Status ScanSince(std::string_view collection, Timestamp after,
                           size_t limit,
                           FunctionRef<void(const Record&)> fn) noexcept;

  // Calls `fn` for each row of `collection` whose state is not
  // SyncState::kSynced (created, changed or deleted on this device and not
  // yet acknowledged), in ascending id order, payload included. Time
  // proportional to the number of such rows (an index or side table kept
  // in the same transaction as the write). The default is correct but
  // reads the whole collection; the built-in stores override it. The
  // Record reference is valid only during the call; `fn` may call the
  // store (nothing is held while it runs). An unknown collection yields
  // nothing. Errors: as Get.
  virtual Status ScanUnsynced(std::string_view collection,
                              FunctionRef<void(const Record&)> fn) noexcept;
  // Calls `fn(key, value)` for each metadata entry whose key starts with
  // `prefix`, in bytewise key order; the views are valid only during the
  // call, and `fn` must not call the store. An entry set to "" is listed
  // too. Errors: kNotSupported (the default, for stores written before this
  // method), kIOError, kCorruption.
  virtual Status ScanMeta(
      std::string_view prefix,
      FunctionRef<void(std::string_view key, std::string_view value)>
          fn) noexcept;

  // Stamps the writes this store captured by itself, without a version
  // (the triggers on an app's own tables, docs/mapped-tables.md): calls
  // `stamp` once per such write with everything a local write's stamp
  // needs (every LocalWrite field; `now` is when the write was captured,
  // `replica` this store's meta::kReplica, made here if missing) and keeps
  // the version it returns, all in one transaction. The engine calls it
  // with its policy's StampLocal before it reads rows to plan or push, so
  // a captured write carries the version data its policy needs, as a
  // Replica::Put does. `stamp` must not call the store. A store that
  // captures nothing (the default) returns OK at once.
  // Errors: kUnavailable, kIOError, kCorruption, kInvalidArgument (a
  // captured row that cannot be read as a record).
  virtual Status StampCaptured(
      const WriteOptions& options,
      FunctionRef<Version(const LocalWrite&)> stamp) noexcept;

  // Convenience: one record, or nullopt.
  Result<std::optional<Record>> GetOne(std::string_view collection,
                                       const RecordId& id) noexcept;
};

// One physical database holding the isolated stores of many accounts.
class Database {
 public:
  Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  virtual ~Database();

  // Returns the store of `account` (created on first write). Stores of two
  // accounts never see each other's rows. The Store must not outlive the
  // Database. Errors: kInvalidArgument for an empty account name.
  virtual Result<std::shared_ptr<Store>> OpenAccount(
      std::string_view account) noexcept = 0;

  // A SyncLock whose leases live in this database, shared by every process
  // that opens it (several `syncstack serve` over one PostgreSQL), and
  // whose SyncLock::Fence makes this database's Apply check the lease in
  // the write's own transaction. nullptr (the default): the database has
  // no shared lock; one process serving it uses NewMemorySyncLock.
  // `clock` must outlive the lock; the lock must not outlive the Database.
  virtual std::unique_ptr<SyncLock> NewSyncLock(
      Clock& clock, std::chrono::milliseconds lease);

  // Removes `account` for good, in ONE transaction: every row (records and
  // tombstones) of every collection, every metadata entry, and its lease in
  // the shared lock, if the database has one (the holder's next fenced
  // write fails with kLeaseLost); and in the same transaction sets the
  // metadata of `ledger_meta` on the store of account `ledger` (the user
  // list's entries that end the account's tokens). On an error nothing
  // changes. Stores of `account` opened before stay valid and see an empty
  // account; the account may be written again afterwards (a new account of
  // the same name). Removing an account without data only sets the
  // ledger's metadata.
  // REQUIRES-like checks, answered with kInvalidArgument: non-empty
  // `account` and `ledger`, `ledger` != `account`, and `ledger_meta`
  // holding metadata only (no record ops).
  // Errors: kInvalidArgument, kNotSupported (the default, for databases
  // written before this method), kUnavailable, kIOError.
  virtual Status RemoveAccount(std::string_view account,
                               std::string_view ledger,
                               const ChangeBatch& ledger_meta) noexcept;
};

// Checks RemoveAccount's arguments (see there). Errors: kInvalidArgument.
Status ValidateRemoveAccount(std::string_view account, std::string_view ledger,
                             const ChangeBatch& ledger_meta);

// The account name a device uses for its own records.
inline constexpr std::string_view kLocalAccount = "local";

// Forwards every call to a target Store; override what you decorate.
// The target must outlive the wrapper.
class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store& target) : target_(target) {}
  Store& target() const noexcept { return target_; }

  Status Apply(const WriteOptions& options,
               const ChangeBatch& batch) noexcept override {
    return target_.Apply(options, batch);
  }
  std::unique_ptr<ManifestIterator> Scan(
      std::string_view collection,
      const ScanOptions& options) noexcept override {
    return target_.Scan(collection, options);
  }
  Status Get(std::string_view collection, std::span<const RecordId> ids,
             FunctionRef<void(const Record&)> fn) noexcept override {
    return target_.Get(collection, ids, fn);
  }
  Result<std::vector<std::string>> Collections() noexcept override {
    return target_.Collections();
  }
  Result<std::optional<std::string>> GetMeta(
      std::string_view key) noexcept override {
    return target_.GetMeta(key);
  }
  Status ScanSince(std::string_view collection, Timestamp after, size_t limit,
                   FunctionRef<void(const Record&)> fn) noexcept override {
    return target_.ScanSince(collection, after, limit, fn);
  }
  Status ScanUnsynced(std::string_view collection,
                      FunctionRef<void(const Record&)> fn) noexcept override {
    return target_.ScanUnsynced(collection, fn);
  }
  Status ScanMeta(std::string_view prefix,
                  FunctionRef<void(std::string_view, std::string_view)>
                      fn) noexcept override {
    return target_.ScanMeta(prefix, fn);
  }
  Status StampCaptured(
      const WriteOptions& options,
      FunctionRef<Version(const LocalWrite&)> stamp) noexcept override {
    return target_.StampCaptured(options, stamp);
  }

 private:
  Store& target_;
};

// Calls `fn` for every row of `collection` in id order, payload included
// (tombstones as `options` says), reading `slice` ids at a time so memory
// stays bounded by the slice. Errors: those of Scan and Get.
Status ScanRecords(Store& store, std::string_view collection,
                   const ScanOptions& options,
                   FunctionRef<void(const Record&)> fn, size_t slice = 1024);

// An iterator that yields nothing but `status` (for errors and empty scans).
std::unique_ptr<ManifestIterator> NewErrorIterator(Status status);

// Checks a collection name: [A-Za-z_][A-Za-z0-9_]{0,63}.
Status ValidateCollectionName(std::string_view name);

}  // namespace syncstack
