// Private: the sync engine's planner, a pure function of the two sides.
//
// Given one collection's local entries and the server's entries, both in
// ascending id order, and the conflict policy, PlanCollection emits the
// operations of the seed's three cases (see syncstack/engine.h):
//
//   only on the server -> fetch it (kGetNew)
//   on both sides      -> the newer wins, as the policy orders them
//   only local         -> push it if created offline, delete it here if it
//                         was synced before (the server deleted it)
//
// It reads entries only through the two iterators it is given and touches
// no store and no transport: whoever calls it does the paging (reading
// manifest pages from the server, rows from the store) behind them, and
// tests feed it vectors.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/engine.h"
#include "syncstack/store.h"

namespace syncstack::engine {

enum class Action : uint8_t {
  kGetNew,         // case 1: only on the server
  kPull,           // case 2: the server's version wins
  kPushUpdate,     // case 2: the local version wins (or the server decides)
  kPushAdd,        // case 3: created offline
  kPushDelete,     // deleted locally
  kDeleteHere,     // case 3: synced before, gone from the server
  kDropTombstone,  // deleted on both sides
};

// Actions done on the device alone, without asking the server.
bool IsLocalOnly(Action a) noexcept;

// One planned operation, with the local row as it was when planned.
struct PlanOp {
  uint32_t collection = 0;
  Action action = Action::kGetNew;
  RecordId id;
  bool local_exists = false;
  SyncState state = SyncState::kSynced;
  bool deleted = false;
  Timestamp local_ts = kNoTimestamp;
  int32_t conflict = -1;  // index into Plan::conflicts, or -1
  // kDeleteHere of a synced record only because the server's list lacks it:
  // the server must prove the delete before it is done (ProveAbsences).
  bool by_absence = false;

  friend bool operator==(const PlanOp&, const PlanOp&) = default;
};

// True if `row` (nullptr: absent) is still what `op` planned against.
bool Unchanged(const Record* row, const PlanOp& op) noexcept;

// Whether a local row stands for a record the server had when this device
// last heard of it (base: the server's last_update then). Reconciliation
// compares exactly these (id, base) with the server's live (id,
// last_update).
bool IsServerItem(const ManifestEntry& e) noexcept;

// What planning produced so far: PlanCollection appends to it, so one Plan
// gathers every collection of a run in order.
struct Plan {
  std::vector<PlanOp> ops;
  // The conflicts planning foresaw; PlanOp::conflict indexes them. `kept`
  // is the planner's expectation until the server answers.
  std::vector<ConflictRecord> conflicts;
  CaseCounts cases;
};

// Adds every count of `from` to `to`.
void AddCases(CaseCounts& to, const CaseCounts& from) noexcept;

// The server's entries of one collection, in ascending id order.
class RemoteEntries {
 public:
  virtual ~RemoteEntries() = default;
  // The current entry; nullptr at the end (or after an error: status()).
  // The pointer is good until Next().
  virtual const Stamp* Peek() = 0;
  // REQUIRES: Peek() != nullptr.
  virtual void Next() = 0;
  // OK unless reading stopped on an error.
  virtual Status status() const = 0;
};

// Entries already in memory (the server's side of reconciled differences,
// or a test's).
class ListedEntries final : public RemoteEntries {
 public:
  explicit ListedEntries(std::vector<Stamp> entries)
      : entries_(std::move(entries)) {}
  const Stamp* Peek() override {
    return pos_ < entries_.size() ? &entries_[pos_] : nullptr;
  }
  void Next() override { ++pos_; }
  Status status() const override { return Status::Ok(); }

 private:
  std::vector<Stamp> entries_;
  size_t pos_ = 0;
};

// A ManifestIterator over local entries in memory (ascending ids). The
// vector must outlive the iterator.
class EntryIterator final : public ManifestIterator {
 public:
  explicit EntryIterator(const std::vector<ManifestEntry>& entries)
      : entries_(entries) {}
  bool Valid() const noexcept override { return pos_ < entries_.size(); }
  const ManifestEntry& entry() const noexcept override {
    return entries_[pos_];
  }
  void Next() noexcept override { ++pos_; }
  Status status() const noexcept override { return Status::Ok(); }

 private:
  const std::vector<ManifestEntry>& entries_;
  size_t pos_ = 0;
};

// Counts over every local row of a collection, for a planner that is shown
// only some of them.
struct LocalCounts {
  uint64_t synced_local = 0;  // synced, not deleted
  uint64_t local_items = 0;   // server items and created rows
};

// The mass-deletion guard (SyncOptions::max_delete_share and friends): a
// truncated or wrongly filtered manifest must not wipe the device.
struct DeleteGuard {
  double max_share = 0.5;
  uint64_t floor = 10;
  bool allow = false;
};

// Everything but the entries that planning one collection depends on.
struct PlanInput {
  uint32_t collection = 0;                 // PlanOp::collection
  std::string_view name;                   // for conflicts and messages
  const ConflictPolicy* policy = nullptr;  // REQUIRES: not null
  // The server collected tombstones this device may need: a row edited
  // here but absent there is deleted here, not pushed.
  bool resync = false;
  // The server's history went back past this device's last complete sync:
  // a synced record whose acknowledged version the policy orders after the
  // server's copy was lost by the server and is pushed again.
  bool restored = false;
  // The server's entries are reconciled differences, without versions: a
  // local server item missing from them (and not in `lacks`) is unchanged
  // on the server, and a conflict goes to the server's policy.
  bool reconciled = false;
  // The server's entries are the changes feed's, with versions: as with
  // `reconciled`, a local server item missing from them (and not in
  // `lacks`) is unchanged on the server, but the policy compares versions
  // here; `lacks` are the feed's tombstones (proof enough to delete).
  bool changes = false;
  std::span<const RecordId> lacks;  // sorted; ids the server no longer has
  // When set, the local entries are only the rows planning needs (changed
  // here, or among the differences) and these count every local row.
  std::optional<LocalCounts> restricted;
  DeleteGuard guard;
};

// What PlanCollection learnt besides the plan.
struct PlanTally {
  uint64_t items = 0;  // server items on the device after this run
  uint64_t synced_local = 0;
  uint64_t deletes_by_absence = 0;
};

// Merge-joins `local` with `remote` and appends the collection's
// operations (in ascending id order), conflicts and case counts to `plan`.
// Errors: kInvalidArgument when the server's ids are out of order; either
// iterator's error; kAborted from CheckDeleteGuard (the ops stay appended:
// the caller drops the plan).
Status PlanCollection(const PlanInput& input, ManifestIterator& local,
                      RemoteEntries& remote, Plan& plan,
                      PlanTally* tally = nullptr);

// kAborted when deleting `tally.deletes_by_absence` records of `name` is
// more than the guard allows; OK otherwise.
Status CheckDeleteGuard(const DeleteGuard& guard, std::string_view name,
                        const PlanTally& tally);

}  // namespace syncstack::engine
