#include "syncstack/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <future>
#include <map>
#include <thread>
#include <unordered_map>

#include "syncstack/metadata_keys.h"
#include "syncstack/reconcile/reconcile.h"

namespace syncstack {
namespace {

using SteadyClock = std::chrono::steady_clock;

std::chrono::microseconds Since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
      SteadyClock::now() - start);
}

enum class Action : uint8_t {
  kGetNew,         // case 1: only on the server
  kPull,           // case 2: the server's version wins
  kPushUpdate,     // case 2: the local version wins (or the server decides)
  kPushAdd,        // case 3: created offline
  kPushDelete,     // deleted locally
  kDeleteHere,     // case 3: synced before, gone from the server
  kDropTombstone,  // deleted on both sides
};

bool IsLocalOnly(Action a) noexcept {
  return a == Action::kDeleteHere || a == Action::kDropTombstone;
}

// One planned operation, with the local row as it was when planned.
struct PlanOp {
  uint32_t collection = 0;
  Action action = Action::kGetNew;
  RecordId id;
  bool local_exists = false;
  SyncState state = SyncState::kSynced;
  bool deleted = false;
  Timestamp local_ts = kNoTimestamp;
  int32_t conflict = -1;  // index into report.conflicts, or -1
};

// True if `row` (nullptr: absent) is still what `op` planned against.
bool Unchanged(const Record* row, const PlanOp& op) noexcept {
  if (!op.local_exists) return row == nullptr;
  return row != nullptr && row->state == op.state &&
         row->deleted == op.deleted && row->version.timestamp == op.local_ts;
}

// Whether a local row stands for a record the server had when this device
// last heard of it (base: the server's last_update then). Reconciliation
// compares exactly these (id, base) with the server's live (id,
// last_update).
bool IsServerItem(const ManifestEntry& e) noexcept {
  return e.base != kNoTimestamp &&
         !(e.state == SyncState::kSynced && e.deleted);
}

// The server's manifest entries of one collection, in ascending id order.
class RemoteEntries {
 public:
  virtual ~RemoteEntries() = default;
  // nullptr at the end (or after an error: see status()).
  virtual const Stamp* Peek() = 0;
  virtual void Next() = 0;
  virtual Status status() const = 0;
};

// The paged manifest (GET /v1/manifest?collection=...), fetched a page at a
// time as the merge-join reaches its end: memory stays one page.
class PagedEntries final : public RemoteEntries {
 public:
  PagedEntries(RemoteClient& remote, std::string collection, size_t page_size,
               std::chrono::microseconds& network, Timestamp& highest_seen)
      : remote_(remote),
        collection_(std::move(collection)),
        page_size_(page_size),
        network_(network),
        highest_seen_(highest_seen) {}

  const Stamp* Peek() override {
    while (pos_ == page_.entries.size()) {
      if (done_ || !status_.ok()) return nullptr;
      auto start = std::chrono::steady_clock::now();
      std::optional<RecordId> after;
      if (!page_.entries.empty()) after = page_.entries.back().id;
      auto next = remote_.ManifestPageAfter(collection_, after, page_size_);
      network_ += std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - start);
      if (!next.ok()) {
        status_ = next.status();
        return nullptr;
      }
      done_ = !next->more;
      page_ = std::move(*next);
      pos_ = 0;
      for (const Stamp& e : page_.entries) {
        highest_seen_ = std::max(highest_seen_, e.last_update);
      }
    }
    return &page_.entries[pos_];
  }
  void Next() override { ++pos_; }
  Status status() const override { return status_; }
  uint64_t seq() const noexcept { return page_.seq; }

 private:
  RemoteClient& remote_;
  std::string collection_;
  size_t page_size_;
  std::chrono::microseconds& network_;
  Timestamp& highest_seen_;
  ManifestPage page_;
  size_t pos_ = 0;
  bool done_ = false;
  Status status_;
};

// Entries already in memory (the server's side of reconciled differences).
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

// What the device learnt of the server by reconciliation: the entries that
// differ (`remote`), and the ids whose server record is gone (`lacks`,
// sorted). Every other server item is as the device last saw it.
struct Reconciled {
  std::vector<Stamp> remote;
  std::vector<RecordId> lacks;
  // Gathered by the scan that made the device's items, so planning need not
  // scan again: the local rows the plan needs (changed here, or among the
  // differences) in id order, and counts over every local row.
  bool has_local = false;
  std::vector<ManifestEntry> local;
  uint64_t synced_local = 0;  // synced, not deleted
  uint64_t local_items = 0;   // server items and created rows
};

// A ManifestIterator over entries in memory (ascending ids).
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

// The local rows of one batch, re-read right before each apply attempt.
using RowMap = std::map<std::pair<uint32_t, RecordId>, Record>;

class Run {
 public:
  Run(Store& store, Transport& transport, const ConflictPolicy& policy,
      Schema& schema, const SyncOptions& options, SyncObserver* observer)
      : store_(store),
        remote_(transport),
        policy_(&policy),
        schema_(schema),
        options_(options),
        observer_(observer) {}

  Result<SyncReport> Go();

 private:
  Status PlanAll();
  // Plans one collection against `remote`. With `reconciled`, `remote`
  // holds only the differing entries, and a local server item missing
  // from it is taken as unchanged on the server.
  Status PlanCollection(uint32_t index, RemoteEntries& remote,
                        const Reconciled* reconciled = nullptr);
  // The mode for collection `index` and why.
  struct LastSync {
    bool known = false;
    uint64_t items = 0;
    uint64_t seq = 0;
    Timestamp time = kNoTimestamp;
  };
  LastSync ReadLastSync(const std::string& name);
  // Streams a first sync's records straight into the store, in batches
  // that each carry a checkpoint. Sets *done when the whole collection is
  // in; *changed when the server may have moved on meanwhile.
  Status ColdSync(uint32_t index, bool* done, bool* changed);
  // Finds the differences by reconciliation. Sets *gave_up (and returns
  // OK) when it stopped paying: more bytes than `budget`.
  Status Reconcile(uint32_t index, uint64_t budget, Reconciled& out,
                   bool* gave_up);
  Status PlanFull(uint32_t index);
  Status PlanOne(uint32_t index);
  int32_t NoteConflict(uint32_t collection, const RecordId& id,
                       const char* what);
  Status ApplyLocalOnly(size_t begin, size_t end);
  Status Exchange(size_t begin, size_t end, size_t& next);
  Status ReadRows(const std::vector<const PlanOp*>& ops, RowMap& rows);
  Status RenewLockIfDue();
  // The device's clock: the options', or the system's.
  Clock& DeviceClock() const {
    return options_.clock ? *options_.clock : SystemClock();
  }
  // Takes or renews the lock, telling the server this device's clock.
  // Sends the tombstone mark too (0: no complete sync yet); the first
  // answer's sequence becomes the mark if the run completes, and its
  // _resync makes the run a full resync.
  Result<LockResponse> Lock() {
    Clock& clock = DeviceClock();
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> mark,
                               store_.GetMeta(meta::kSyncMark));
    auto lease =
        remote_.Lock(options_.device, nullptr,
                     options_.send_clock ? clock.Now() : kNoTimestamp,
                     mark ? std::strtoll(mark->c_str(), nullptr, 10) : 0);
    if (lease.ok() && lease->clock_offset_ms != kNoTimestamp) {
      report_.clock_offset_ms = lease->clock_offset_ms;
    }
    if (lease.ok() && lease->seq >= 0 && first_seq_ < 0) {
      first_seq_ = lease->seq;
      resync_ = report_.resynced = lease->resync;
    }
    return lease;
  }
  void Progress(SyncProgress::Phase phase, uint64_t done, uint64_t total);
  const Record* Row(const RowMap& rows, const PlanOp& op) const {
    auto it = rows.find({op.collection, op.id});
    return it == rows.end() ? nullptr : &it->second;
  }

  Store& store_;
  RemoteClient remote_;
  const ConflictPolicy* policy_;  // the engine's, or the one adopted
  Schema& schema_;
  const SyncOptions& options_;
  SyncObserver* observer_;

  SyncReport report_;
  std::vector<std::string> names_;  // collections, by index
  std::map<std::string, uint32_t, std::less<>> name_index_;  // the inverse
  std::vector<PlanOp> plan_;
  SteadyClock::time_point renew_at_;
  std::chrono::milliseconds lease_length_{0};
  Timestamp highest_seen_ = kNoTimestamp;       // in the manifest
  std::map<std::string, std::string> id_keys_;  // the server's, by name
  uint64_t server_seq_ = 0;  // the account's write sequence at the start
  std::chrono::microseconds network_{0};  // of planning
  std::vector<std::string> reasons_;      // "<collection>: <mode> (<why>)"
  bool server_versions_known_ = true;     // false while planning reconciled
  bool used_full_ = false, used_reconcile_ = false;
  std::vector<uint64_t> items_;  // server items here per collection, after
  uint64_t exchange_done_ = 0;
  uint64_t exchange_total_ = 0;
  int64_t first_seq_ = -1;  // the server's sequence at the first lock
  bool resync_ = false;     // tombstones this device may need are gone
};

void Run::Progress(SyncProgress::Phase phase, uint64_t done, uint64_t total) {
  if (observer_ == nullptr) return;
  observer_->OnProgress(SyncProgress{phase, done, total});
}

int32_t Run::NoteConflict(uint32_t collection, const RecordId& id,
                          const char* what) {
  ConflictRecord c;
  c.collection = names_[collection];
  c.id = id;
  c.what = what;
  report_.conflicts.push_back(std::move(c));
  return static_cast<int32_t>(report_.conflicts.size() - 1);
}

Status Run::RenewLockIfDue() {
  if (!options_.lock || SteadyClock::now() < renew_at_) return Status::Ok();
  auto lease = Lock();
  if (!lease.ok()) return lease.status().WithContext("renewing the lock");
  lease_length_ = std::chrono::seconds(lease->expires_in);
  renew_at_ = SteadyClock::now() + lease_length_ / 2;
  return Status::Ok();
}

// Merge-joins the server's entries (ascending ids) with a local scan.
Status Run::PlanCollection(uint32_t index, RemoteEntries& remote,
                           const Reconciled* reconciled) {
  const std::string& name = names_[index];
  const bool restricted = reconciled != nullptr && reconciled->has_local;
  std::unique_ptr<ManifestIterator> it =
      restricted ? std::make_unique<EntryIterator>(reconciled->local)
                 : store_.Scan(name, ScanOptions{});
  uint64_t synced_local = 0;
  uint64_t deletes_by_absence = 0;
  CaseCounts& cases = report_.cases;

  auto emit = [&](Action action, const RecordId& id, const ManifestEntry* l,
                  int32_t conflict = -1) {
    PlanOp op;
    op.collection = index;
    op.action = action;
    op.id = id;
    if (l != nullptr) {
      op.local_exists = true;
      op.state = l->state;
      op.deleted = l->deleted;
      op.local_ts = l->version.timestamp;
    }
    op.conflict = conflict;
    plan_.push_back(op);
  };

  Stamp implied;  // a reconciled server item that did not change
  std::optional<RecordId> last_remote;
  while (true) {
    const ManifestEntry* l = it->Valid() ? &it->entry() : nullptr;
    const Stamp* s = remote.Peek();
    if (s != nullptr) {
      if (last_remote && !(*last_remote < s->id)) {
        return Status::InvalidArgument("manifest of \"" + name +
                                       "\": ids out of order at " +
                                       s->id.ToString());
      }
    }
    if (l == nullptr && s == nullptr) break;
    if (l == nullptr || (s != nullptr && s->id < l->id)) {
      emit(Action::kGetNew, s->id, nullptr);  // case 1
      cases.fetched_new++;
      items_[index]++;
      last_remote = s->id;
      remote.Next();
      continue;
    }
    if (!restricted && (IsServerItem(*l) || l->state == SyncState::kCreated)) {
      items_[index]++;
    }
    bool from_remote = s != nullptr && s->id == l->id;
    if (!from_remote && reconciled != nullptr && IsServerItem(*l) &&
        !std::binary_search(reconciled->lacks.begin(), reconciled->lacks.end(),
                            l->id)) {
      implied = Stamp{l->id, l->base, std::string()};
      s = &implied;
    }
    if (l->state == SyncState::kSynced && !l->deleted) ++synced_local;
    if (s == nullptr || l->id < s->id) {  // case 3: only local
      switch (l->state) {
        case SyncState::kCreated:
          emit(Action::kPushAdd, l->id, l);
          cases.pushed_adds++;
          break;
        case SyncState::kChanged:
          if (resync_) {
            // Its tombstone may be gone: pushing would resurrect it.
            emit(Action::kDeleteHere, l->id, l,
                 NoteConflict(index, l->id,
                              "edited here, deleted on the server "
                              "(tombstone collected)"));
            cases.deleted_here++;
            break;
          }
          // Edited here, deleted on the server: the server's policy decides.
          emit(
              Action::kPushUpdate, l->id, l,
              NoteConflict(index, l->id, "edited here, deleted on the server"));
          cases.pushed_updates++;
          break;
        case SyncState::kDeleted:
          if (l->base != kNoTimestamp) {
            // Deleted here and on the server too. The server's tombstone
            // may be older than this delete, and a device that edited the
            // record in between must still lose to this, the later delete:
            // push it, the server's policy orders the two (found by
            // tests/faults).
            emit(Action::kPushDelete, l->id, l);
            cases.pushed_deletes++;
          } else {
            // Never acknowledged and not on the server: nothing to tell.
            emit(Action::kDropTombstone, l->id, l);
            cases.dropped_tombstones++;
          }
          break;
        case SyncState::kSynced:
          if (l->deleted) break;  // a server-side tombstone row: ignore
          emit(Action::kDeleteHere, l->id, l);
          cases.deleted_here++;
          deletes_by_absence++;
          break;
      }
      it->Next();
      continue;
    }
    // case 2: on both sides.
    Version server_version{s->last_update, s->version};
    bool server_moved = s->last_update != l->base;
    switch (l->state) {
      case SyncState::kSynced:
        if (l->deleted || server_moved) {
          emit(Action::kPull, l->id, l);
          cases.pulled++;
        } else {
          cases.unchanged++;
        }
        break;
      case SyncState::kCreated:
      case SyncState::kChanged:
      case SyncState::kDeleted: {
        bool deleted = l->state == SyncState::kDeleted;
        Action push = deleted                           ? Action::kPushDelete
                      : l->state == SyncState::kCreated ? Action::kPushAdd
                                                        : Action::kPushUpdate;
        if (!server_moved && l->state != SyncState::kCreated) {
          emit(push, l->id, l);
        } else if (!server_versions_known_) {
          // Reconciled: the server's version data is not known here, so
          // the server's policy decides (it answers with its record if it
          // keeps it).
          const char* what = l->state == SyncState::kCreated
                                 ? "created here and on the server"
                             : deleted ? "deleted here, edited on the server"
                                       : "edited on both sides";
          int32_t conflict = NoteConflict(index, l->id, what);
          emit(push, l->id, l, conflict);
          report_.conflicts[conflict].kept = Kept::kClient;
        } else {
          const char* what = l->state == SyncState::kCreated
                                 ? "created here and on the server"
                             : deleted ? "deleted here, edited on the server"
                                       : "edited on both sides";
          int32_t conflict = NoteConflict(index, l->id, what);
          Order order = policy_->Compare(l->version, server_version);
          if (order == Order::kBefore) {
            emit(Action::kPull, l->id, l, conflict);
            report_.conflicts[conflict].kept = Kept::kServer;
            cases.pulled++;
            break;
          }
          emit(push, l->id, l, conflict);
          report_.conflicts[conflict].kept = Kept::kClient;
        }
        if (push == Action::kPushDelete) {
          cases.pushed_deletes++;
        } else if (push == Action::kPushAdd) {
          cases.pushed_adds++;
        } else {
          cases.pushed_updates++;
        }
        break;
      }
    }
    if (from_remote) {
      last_remote = s->id;
      remote.Next();
    }
    it->Next();
  }
  SYNCSTACK_RETURN_IF_ERROR(remote.status());
  SYNCSTACK_RETURN_IF_ERROR(it->status());
  if (restricted) {
    synced_local = reconciled->synced_local;
    items_[index] += reconciled->local_items;
  }

  // The mass-deletion guard (a truncated or wrongly filtered manifest must
  // not wipe the device).
  if (!options_.allow_mass_delete &&
      deletes_by_absence > options_.max_delete_floor &&
      static_cast<double>(deletes_by_absence) >
          options_.max_delete_share * static_cast<double>(synced_local)) {
    return Status::Aborted(
        "stopped before deleting " + std::to_string(deletes_by_absence) +
        " of " + std::to_string(synced_local) + " synced records of \"" + name +
        "\" that the server no longer lists; nothing was changed. " +
        "If that is right, sync again allowing mass deletion");
  }
  return Status::Ok();
}

// Planning constants (docs/decisions/sync-modes.md).
constexpr size_t kManifestPageEntries = 50000;
constexpr size_t kColdPageRecords = 10000;
// Below this many records a manifest costs less than a reconciliation's
// three round trips.
constexpr uint64_t kReconcileMinItems = 1000;
// Bytes per binary manifest entry; the items a reconciliation ends by
// listing (ReconcileOptions::list_threshold) and what listing one such
// range costs (bench/reconcile at n = 1M: 768 kB for 1,000 scattered
// differences; 19.9 MB for 100,000, several sharing a range).
constexpr uint64_t kManifestEntryBytes = 24;
constexpr double kReconcileLeafItems = 32;
constexpr double kReconcileLeafBytes = 850;
// A device away longer than this starts with the manifest.
constexpr Timestamp kReconcileMaxAgeMs = 30LL * 24 * 3600 * 1000;

Run::LastSync Run::ReadLastSync(const std::string& name) {
  LastSync last;
  auto text = store_.GetMeta(meta::SyncLast(name));
  if (!text.ok() || !text->has_value()) return last;
  unsigned long long items = 0, seq = 0;
  long long time = 0;
  if (std::sscanf((*text)->c_str(), "%llu %llu %lld", &items, &seq, &time) !=
      3) {
    return last;
  }
  last.known = true;
  last.items = items;
  last.seq = seq;
  last.time = time;
  return last;
}

Status Run::ColdSync(uint32_t index, bool* done, bool* changed) {
  const std::string& name = names_[index];
  const std::string key = meta::ColdCheckpoint(name);
  *done = false;
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> mark,
                             store_.GetMeta(key));
  std::optional<RecordId> after;
  if (mark && !mark->empty()) {
    auto id = RecordId::Parse(*mark);
    if (!id.ok()) return id.status().WithContext("checkpoint " + key);
    after = *id;
    *changed = true;  // the server may have moved since the first run
    report_.cold_batches_resumed++;
  }
  // The next page is fetched while this one is applied: the server reads
  // and the device writes at the same time.
  auto fetch = [this, &name](std::optional<RecordId> from) {
    return std::async(std::launch::async, [this, &name, from] {
      return remote_.RecordsPageAfter(name, from, kColdPageRecords);
    });
  };
  SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
  auto pending = fetch(after);
  ChangeBatch batch;
  while (true) {
    auto start = SteadyClock::now();
    auto page = pending.get();
    network_ += Since(start);
    if (!page.ok()) return page.status();
    if (page->more && !page->records.empty()) {
      SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
      pending = fetch(page->records.back().id);
    }
    if (page->seq != server_seq_) *changed = true;
    batch.Clear();
    for (WireRecord& w : page->records) {
      Record r;
      r.collection = name;
      r.id = w.id;
      r.version = Version{w.last_update, std::move(w.version)};
      r.base = w.last_update;
      r.state = SyncState::kSynced;
      r.payload = std::move(w.payload);
      highest_seen_ = std::max(highest_seen_, r.version.timestamp);
      batch.Put(std::move(r), Expect{});  // must still be absent here
    }
    if (!page->records.empty()) after = page->records.back().id;
    const bool last = !page->more;
    // The checkpoint commits with the batch: a later run goes on from here.
    batch.SetMeta(key, last || !after ? std::string() : after->ToString());
    Status s = store_.Apply(options_.write, batch);
    if (s.code() == Status::Code::kConflict) {
      // The app wrote one of these ids meanwhile: plan the rest the usual
      // way, which never overwrites an app write.
      ChangeBatch clear;
      clear.SetMeta(key, std::string());
      return store_.Apply(options_.write, clear);
    }
    SYNCSTACK_RETURN_IF_ERROR(s);
    report_.cold_records += page->records.size();
    report_.cases.fetched_new += page->records.size();  // case 1, in bulk
    Progress(SyncProgress::Phase::kFetch, report_.cold_records, 0);
    if (last) {
      *done = true;
      return Status::Ok();
    }
  }
}

Status Run::Reconcile(uint32_t index, uint64_t budget, Reconciled& out,
                      bool* gave_up) {
  const std::string& name = names_[index];
  *gave_up = false;
  std::vector<ReconcileItem> items;
  auto it = store_.Scan(name, ScanOptions{});
  for (; it->Valid(); it->Next()) {
    const ManifestEntry& e = it->entry();
    const bool item = IsServerItem(e);
    if (item) items.push_back(ReconcileItem{e.id, e.base, 0});
    if (e.state == SyncState::kSynced && !e.deleted) out.synced_local++;
    if (item || e.state == SyncState::kCreated) out.local_items++;
    if (e.state != SyncState::kSynced) out.local.push_back(e);  // changed
  }
  SYNCSTACK_RETURN_IF_ERROR(it->status());
  it.reset();
  auto source = NewSortedItemSource(std::move(items));
  ReconcileClient client(*source);
  std::string message = client.Initiate();
  uint64_t bytes = 0;
  while (!message.empty()) {
    bytes += message.size();
    auto start = SteadyClock::now();
    auto answer = remote_.Reconcile(name, std::move(message));
    network_ += Since(start);
    if (!answer.ok()) return answer.status();
    bytes += answer->size();
    if (bytes > budget) {
      *gave_up = true;
      return Status::Ok();
    }
    auto next = client.Process(*answer);
    if (!next.ok()) return next.status().WithContext("reconcile answer");
    message = std::move(*next);
  }
  for (const Difference& d : client.differences()) {
    if (d.theirs) {
      out.remote.push_back(Stamp{d.id, d.theirs->timestamp, std::string()});
      highest_seen_ = std::max(highest_seen_, d.theirs->timestamp);
    } else {
      out.lacks.push_back(d.id);
    }
  }
  auto by_id = [](const Stamp& a, const Stamp& b) { return a.id < b.id; };
  std::sort(out.remote.begin(), out.remote.end(), by_id);
  std::sort(out.lacks.begin(), out.lacks.end());
  // The local rows of the differing ids (the changed ones are in already).
  std::vector<RecordId> wanted;
  for (const Difference& d : client.differences()) wanted.push_back(d.id);
  std::sort(wanted.begin(), wanted.end());
  // Read now, so a row the app changed since the scan is planned as it is.
  std::vector<ManifestEntry> fresh;
  SYNCSTACK_RETURN_IF_ERROR(store_.Get(name, wanted, [&](const Record& r) {
    fresh.push_back(ManifestEntry{r.id, r.version, r.deleted, r.state, r.base});
  }));
  std::erase_if(out.local, [&](const ManifestEntry& e) {
    return std::binary_search(wanted.begin(), wanted.end(), e.id);
  });
  out.local.insert(out.local.end(), std::make_move_iterator(fresh.begin()),
                   std::make_move_iterator(fresh.end()));
  std::sort(out.local.begin(), out.local.end(),
            [](const ManifestEntry& a, const ManifestEntry& b) {
              return a.id < b.id;
            });
  out.has_local = true;
  return Status::Ok();
}

Status Run::PlanFull(uint32_t index) {
  PagedEntries entries(remote_, names_[index], kManifestPageEntries, network_,
                       highest_seen_);
  return PlanCollection(index, entries);
}

Status Run::PlanOne(uint32_t index) {
  const std::string& name = names_[index];
  auto note = [&](SyncMode mode, const std::string& why) {
    (mode == SyncMode::kReconcile ? used_reconcile_ : used_full_) = true;
    reasons_.push_back(name + ": " + std::string(SyncModeName(mode)) + " (" +
                       why + ")");
  };
  // The planner of a reconciled (or freshly streamed) collection.
  auto plan_reconciled = [&](Reconciled& reconciled) {
    server_versions_known_ = false;
    ListedEntries entries(std::move(reconciled.remote));
    reconciled.remote.clear();
    Status s = PlanCollection(index, entries, &reconciled);
    server_versions_known_ = true;
    return s;
  };

  // A first sync (or the rest of an interrupted one) streams the records
  // themselves (auto only).
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> checkpoint,
                             store_.GetMeta(meta::ColdCheckpoint(name)));
  bool empty_here = false;
  {
    auto it = store_.Scan(name, ScanOptions{});
    empty_here = !it->Valid();
    SYNCSTACK_RETURN_IF_ERROR(it->status());
  }
  const bool first_sync = options_.mode == SyncMode::kAuto &&
                          (empty_here || (checkpoint && !checkpoint->empty()));
  if (resync_ && !first_sync) {
    // Tombstones this device may need are gone: compare everything (a
    // first sync has nothing to resurrect).
    note(SyncMode::kFull, "full resync: tombstones were collected");
    return PlanFull(index);
  }
  if (options_.mode == SyncMode::kFull) {
    note(SyncMode::kFull, "asked for");
    return PlanFull(index);
  }
  if (options_.mode == SyncMode::kReconcile) {
    Reconciled reconciled;
    bool gave_up = false;
    SYNCSTACK_RETURN_IF_ERROR(
        Reconcile(index, UINT64_MAX, reconciled, &gave_up));
    note(SyncMode::kReconcile, "asked for");
    return plan_reconciled(reconciled);
  }
  if (first_sync) {
    bool done = false, changed = false;
    SYNCSTACK_RETURN_IF_ERROR(ColdSync(index, &done, &changed));
    if (!done) {
      note(SyncMode::kFull, "a first sync met a local write");
      return PlanFull(index);
    }
    if (changed) {
      note(SyncMode::kFull,
           "first sync resumed or the server changed during it: " +
               std::to_string(report_.cold_records) + " records streamed");
      return PlanFull(index);
    }
    // Nothing moved on the server while streaming: only local writes made
    // meanwhile are left.
    note(SyncMode::kFull,
         "first sync: " + std::to_string(report_.cold_records) +
             " records streamed");
    Reconciled nothing;
    return plan_reconciled(nothing);
  }

  LastSync last = ReadLastSync(name);
  Clock& clock = DeviceClock();
  if (!last.known) {
    note(SyncMode::kFull, "no complete sync recorded");
    return PlanFull(index);
  }
  if (last.items < kReconcileMinItems) {
    note(SyncMode::kFull,
         "small collection: " + std::to_string(last.items) + " records");
    return PlanFull(index);
  }
  if (clock.Now() - last.time > kReconcileMaxAgeMs) {
    note(SyncMode::kFull, "last complete sync over 30 days ago");
    return PlanFull(index);
  }
  if (server_seq_ < last.seq) {
    note(SyncMode::kFull, "the server's write sequence went back");
    return PlanFull(index);
  }
  const uint64_t writes = server_seq_ - last.seq;
  const uint64_t manifest_bytes = last.items * kManifestEntryBytes;
  // Reconciliation's cost: the ranges of about 32 items that hold at least
  // one of `writes` scattered differences, each listed once.
  const double leaves =
      std::max(1.0, static_cast<double>(last.items) / kReconcileLeafItems);
  const double differing =
      leaves * (1.0 - std::exp(-static_cast<double>(writes) / leaves));
  const double estimate = differing * kReconcileLeafBytes + 4096;
  if (estimate >= static_cast<double>(manifest_bytes)) {
    note(SyncMode::kFull, std::to_string(writes) +
                              " server writes since the last sync: the "
                              "manifest is cheaper");
    return PlanFull(index);
  }
  Reconciled reconciled;
  bool gave_up = false;
  SYNCSTACK_RETURN_IF_ERROR(
      Reconcile(index, manifest_bytes, reconciled, &gave_up));
  if (gave_up) {
    note(SyncMode::kFull,
         "reconciliation passed the manifest's size; fell back");
    return PlanFull(index);
  }
  note(SyncMode::kReconcile,
       std::to_string(writes) + " server writes since the last sync");
  return plan_reconciled(reconciled);
}

Status Run::PlanAll() {
  auto start = SteadyClock::now();
  auto list = remote_.ListCollections();
  network_ += Since(start);
  if (!list.ok()) return list.status();
  server_seq_ = list->seq;
  std::vector<std::string> names = options_.collections;
  for (const auto& c : list->collections) {
    if (!c.id_key.empty()) {
      auto known = schema_.IdKey(c.name);
      if (!known.ok() || *known != c.id_key) schema_.Set(c.name, c.id_key);
    }
    if (options_.collections.empty()) names.push_back(c.name);
  }
  if (options_.collections.empty()) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::vector<std::string> local,
                               store_.Collections());
    names.insert(names.end(), local.begin(), local.end());
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  names_ = names;
  items_.assign(names_.size(), 0);
  for (uint32_t i = 0; i < names_.size(); ++i) name_index_[names_[i]] = i;
  for (uint32_t i = 0; i < names_.size(); ++i) {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(names_[i]));
    SYNCSTACK_RETURN_IF_ERROR(PlanOne(i));
    Progress(SyncProgress::Phase::kPlan, i + 1, names_.size());
  }
  report_.mode =
      used_full_ || !used_reconcile_ ? SyncMode::kFull : SyncMode::kReconcile;
  for (const auto& reason : reasons_) {
    if (!report_.mode_reason.empty()) report_.mode_reason += "; ";
    report_.mode_reason += reason;
  }
  return Status::Ok();
}

Status Run::ReadRows(const std::vector<const PlanOp*>& ops, RowMap& rows) {
  rows.clear();
  std::map<uint32_t, std::vector<RecordId>> ids;
  for (const PlanOp* op : ops) ids[op->collection].push_back(op->id);
  for (auto& [collection, list] : ids) {
    SYNCSTACK_RETURN_IF_ERROR(
        store_.Get(names_[collection], list, [&](const Record& r) {
          rows.emplace(std::make_pair(collection, r.id), r);
        }));
  }
  return Status::Ok();
}

// Deletes by absence and dropped tombstones: no server call needed.
Status Run::ApplyLocalOnly(size_t begin, size_t end) {
  std::vector<const PlanOp*> ops;
  for (size_t i = begin; i < end; ++i) ops.push_back(&plan_[i]);
  RowMap rows;
  ChangeBatch batch;
  for (int attempt = 0;; ++attempt) {
    SYNCSTACK_RETURN_IF_ERROR(ReadRows(ops, rows));
    batch.Clear();
    for (const PlanOp* op : ops) {
      const Record* row = Row(rows, *op);
      if (!Unchanged(row, *op)) {
        report_.skipped_local_edits++;
        continue;
      }
      batch.Erase(names_[op->collection], op->id, ExpectRow(row));
    }
    if (batch.empty()) return Status::Ok();
    Status s = store_.Apply(options_.write, batch);
    if (s.code() != Status::Code::kConflict || attempt >= 5) return s;
  }
}

// Sends plan_[begin, end) (cut short by the byte budget: `next` is where it
// stopped) in one synchronise call and applies the answer locally.
Status Run::Exchange(size_t begin, size_t end, size_t& next) {
  std::vector<const PlanOp*> ops;
  for (size_t i = begin; i < end; ++i) ops.push_back(&plan_[i]);
  RowMap rows;
  SYNCSTACK_RETURN_IF_ERROR(ReadRows(ops, rows));

  // Build the request from the rows as they are now; skip what the app
  // changed since planning (the next run sees it).
  SyncRequest request;
  request.want_versions = true;
  std::map<uint32_t, size_t> add_at, update_at, del_at, get_at, delv_at;
  auto list_for = [&](auto& lists, std::map<uint32_t, size_t>& at,
                      uint32_t c) -> auto& {
    auto [pos, inserted] = at.try_emplace(c, lists.size());
    if (inserted) lists.emplace_back().collection = names_[c];
    return lists[pos->second];
  };
  std::map<std::pair<uint32_t, RecordId>, Record> pushed;  // as sent
  std::map<std::pair<uint32_t, RecordId>, const PlanOp*> sent;
  size_t bytes = 0;
  next = begin;
  for (const PlanOp* op : ops) {
    const Record* row = Row(rows, *op);
    bool carries_payload =
        op->action == Action::kPushAdd || op->action == Action::kPushUpdate;
    if (bytes > 0 && carries_payload && row != nullptr &&
        bytes + row->payload.size() > options_.batch_bytes) {
      break;  // the rest goes in the next call
    }
    ++next;
    if (!Unchanged(row, *op)) {
      report_.skipped_local_edits++;
      continue;
    }
    auto key = std::make_pair(op->collection, op->id);
    sent[key] = op;
    switch (op->action) {
      case Action::kGetNew:
      case Action::kPull:
        list_for(request.get, get_at, op->collection).ids.push_back(op->id);
        break;
      case Action::kPushDelete:
        list_for(request.del, del_at, op->collection).ids.push_back(op->id);
        // The delete's own version, so that the server orders it by when
        // it was made, not by when it arrived (last-write-wins needs the
        // timestamp as much as version vectors need their counters).
        if (!row->version.extra.empty() ||
            row->version.timestamp != kNoTimestamp) {
          list_for(request.delete_versions, delv_at, op->collection)
              .stamps.push_back(
                  Stamp{op->id, row->version.timestamp, row->version.extra});
        }
        pushed[key] = *row;
        break;
      case Action::kPushAdd:
      case Action::kPushUpdate: {
        auto& list = op->action == Action::kPushAdd
                         ? list_for(request.add, add_at, op->collection)
                         : list_for(request.update, update_at, op->collection);
        list.records.push_back(WireRecord{op->id, row->version.timestamp,
                                          row->payload, row->version.extra});
        bytes += row->payload.size();
        pushed[key] = *row;
        break;
      }
      case Action::kDeleteHere:
      case Action::kDropTombstone:
        break;
    }
  }
  if (sent.empty()) return Status::Ok();

  SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
  auto answer = remote_.Synchronise(request, schema_);
  if (!answer.ok()) return answer.status();
  report_.synchronise_calls++;

  // Index the answer.
  const auto& index = name_index_;
  std::map<std::pair<uint32_t, RecordId>, const WireRecord*> got;
  std::map<std::pair<uint32_t, RecordId>, const Stamp*> stamped;
  std::map<std::pair<uint32_t, RecordId>, Kept> conflicts;
  for (const auto& c : answer->get) {
    auto i = index.find(c.collection);
    if (i == index.end()) continue;
    for (const auto& r : c.records) got[{i->second, r.id}] = &r;
  }
  for (const auto& c : answer->stamps) {
    auto i = index.find(c.collection);
    if (i == index.end()) continue;
    for (const auto& s : c.stamps) stamped[{i->second, s.id}] = &s;
  }
  for (const auto& c : answer->conflicts) {
    auto i = index.find(c.collection);
    if (i == index.end()) continue;
    for (const auto& n : c.conflicts) conflicts[{i->second, n.id}] = n.kept;
  }

  // Apply it in one local transaction, guarded row by row against
  // concurrent app writes; on a lost race re-read and rebuild.
  std::vector<const PlanOp*> sent_ops;
  for (const auto& [key, op] : sent) sent_ops.push_back(op);
  ChangeBatch batch;
  for (int attempt = 0;; ++attempt) {
    SYNCSTACK_RETURN_IF_ERROR(ReadRows(sent_ops, rows));
    batch.Clear();
    uint64_t skipped = 0;
    for (const PlanOp* op : sent_ops) {
      auto key = std::make_pair(op->collection, op->id);
      const std::string& collection = names_[op->collection];
      const Record* row = Row(rows, *op);
      auto server_record = [&](const WireRecord& w) {
        Record r;
        r.collection = collection;
        r.id = w.id;
        r.version = Version{w.last_update, w.version};
        r.base = w.last_update;
        r.state = SyncState::kSynced;
        r.payload = w.payload;
        return r;
      };
      auto g = got.find(key);
      auto k = conflicts.find(key);
      auto p = pushed.find(key);
      if (p == pushed.end()) {  // a get
        if (!Unchanged(row, *op)) {
          ++skipped;
        } else if (g != got.end()) {
          batch.Put(server_record(*g->second), ExpectRow(row));
        } else if (row != nullptr && op->state == SyncState::kSynced) {
          // Deleted on the server since the manifest was made.
          batch.Erase(collection, op->id, ExpectRow(row));
        }
        continue;
      }
      const Record& as_sent = p->second;
      bool untouched = row != nullptr && row->state == as_sent.state &&
                       row->deleted == as_sent.deleted &&
                       row->version.timestamp == as_sent.version.timestamp &&
                       row->payload == as_sent.payload;
      if (k != conflicts.end() && k->second != Kept::kClient) {
        // The server kept (or merged into) its own version.
        if (op->conflict >= 0) {
          report_.conflicts[op->conflict].kept = k->second;
        }
        if (!untouched) {
          ++skipped;  // a newer local edit stays dirty for the next run
        } else if (g != got.end()) {
          batch.Put(server_record(*g->second), ExpectRow(row));
        } else {
          batch.Erase(collection, op->id, ExpectRow(row));  // server: deleted
        }
        continue;
      }
      if (op->conflict >= 0)
        report_.conflicts[op->conflict].kept = Kept::kClient;
      if (op->action == Action::kPushDelete) {
        if (untouched) batch.Erase(collection, op->id, ExpectRow(row));
        continue;
      }
      auto s = stamped.find(key);
      if (s == stamped.end()) continue;  // not acknowledged: stays dirty
      if (row == nullptr) continue;      // removed here meanwhile
      Record updated = *row;
      updated.base = s->second->last_update;
      if (untouched) {
        updated.state = SyncState::kSynced;
        updated.version = Version{s->second->last_update, s->second->version};
      } else if (updated.state == SyncState::kCreated) {
        updated.state = SyncState::kChanged;  // the server has it now
      }
      batch.Put(std::move(updated), ExpectRow(row));
    }
    Status s =
        batch.empty() ? Status::Ok() : store_.Apply(options_.write, batch);
    if (s.ok()) {
      report_.skipped_local_edits += skipped;
      break;
    }
    if (s.code() != Status::Code::kConflict || attempt >= 5) return s;
  }

  // Conflicts the server found that planning did not foresee (e.g. a write
  // the policy ordered before the server's version).
  for (const auto& [key, kept] : conflicts) {
    auto op = sent.find(key);
    if (op != sent.end() && op->second->conflict >= 0) continue;
    ConflictRecord c;
    c.collection = names_[key.first];
    c.id = key.second;
    c.what = "the server kept another version";
    c.kept = kept;
    report_.conflicts.push_back(std::move(c));
  }
  return Status::Ok();
}

Result<SyncReport> Run::Go() {
  auto start = SteadyClock::now();
  auto phase = start;
  Progress(SyncProgress::Phase::kLock, 0, 1);
  SYNCSTACK_RETURN_IF_ERROR(remote_.Login(options_.user, options_.password));
  const std::string& named = remote_.server_policy();
  if (!named.empty() && named != policy_->name() && options_.adopt_policy) {
    if (const ConflictPolicy* adopted = options_.adopt_policy(named)) {
      policy_ = adopted;
    }
  }
  if (options_.check_policy && !named.empty() && named != policy_->name()) {
    return Status::InvalidArgument(
        "the server resolves conflicts with policy \"" + named +
        "\" but this device uses \"" + std::string(policy_->name()) + "\"");
  }

  struct Unlocker {
    RemoteClient* remote = nullptr;
    ~Unlocker() {
      if (remote != nullptr) (void)remote->Unlock();
    }
  } unlocker;
  if (options_.lock) {
    auto give_up_at = SteadyClock::now() + options_.lock_wait;
    auto lease = Lock();
    // Poll at most every 2 s: the holder may release before its lease ends.
    while (!lease.ok() && lease.status().code() == Status::Code::kLocked &&
           SteadyClock::now() < give_up_at) {
      int64_t retry_after =
          std::clamp<int64_t>(remote_.last_retry_after(), 1, 2);
      std::this_thread::sleep_until(std::min(
          give_up_at, SteadyClock::now() + std::chrono::seconds(retry_after)));
      lease = Lock();
    }
    if (!lease.ok()) return lease.status();
    unlocker.remote = &remote_;
    lease_length_ = std::chrono::seconds(lease->expires_in);
    renew_at_ = SteadyClock::now() + lease_length_ / 2;
  }
  Progress(SyncProgress::Phase::kLock, 1, 1);
  report_.lock_time = Since(phase);

  phase = SteadyClock::now();
  Progress(SyncProgress::Phase::kFetch, 0, 1);
  // Fetching and planning interleave (pages, reconciliation rounds and
  // streamed first syncs): fetch_time is the time waiting for the server.
  SYNCSTACK_RETURN_IF_ERROR(PlanAll());
  Progress(SyncProgress::Phase::kFetch, 1, 1);
  report_.fetch_time = network_;
  // Remember id keys the manifest taught, for `ls` and later runs, and
  // the highest stamp seen, for policies that stamp after it (hlc).
  {
    ChangeBatch notes;
    auto stored = store_.GetMeta(meta::kSchema);
    std::string json = schema_.ToJson();
    if (stored.ok() && (!stored->has_value() || **stored != json)) {
      notes.SetMeta(std::string(meta::kSchema), json);
    }
    if (policy_->traits().uses_highest_seen && highest_seen_ != kNoTimestamp) {
      SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> seen,
                                 store_.GetMeta(meta::kPolicySeen));
      if (!seen || std::strtoll(seen->c_str(), nullptr, 10) < highest_seen_) {
        notes.SetMeta(std::string(meta::kPolicySeen),
                      std::to_string(highest_seen_));
      }
    }
    if (!notes.empty()) {
      SYNCSTACK_RETURN_IF_ERROR(store_.Apply(options_.write, notes));
    }
  }
  // Local-only work first, then the exchange, each in plan order.
  std::stable_partition(plan_.begin(), plan_.end(), [](const PlanOp& op) {
    return IsLocalOnly(op.action);
  });
  report_.plan_time = Since(phase) - network_;

  phase = SteadyClock::now();
  exchange_total_ = plan_.size();
  Progress(SyncProgress::Phase::kExchange, 0, exchange_total_);
  size_t i = 0;
  const size_t per_call = std::max<size_t>(1, options_.batch_records);
  while (i < plan_.size() && IsLocalOnly(plan_[i].action)) {
    size_t end = i;
    while (end < plan_.size() && end - i < per_call &&
           IsLocalOnly(plan_[end].action)) {
      ++end;
    }
    SYNCSTACK_RETURN_IF_ERROR(ApplyLocalOnly(i, end));
    exchange_done_ += end - i;
    Progress(SyncProgress::Phase::kExchange, exchange_done_, exchange_total_);
    i = end;
  }
  while (i < plan_.size()) {
    size_t end = std::min(plan_.size(), i + per_call);
    size_t next = i;
    SYNCSTACK_RETURN_IF_ERROR(Exchange(i, end, next));
    exchange_done_ += next - i;
    Progress(SyncProgress::Phase::kExchange, exchange_done_, exchange_total_);
    i = next;
  }
  report_.exchange_time = Since(phase);

  // The run is complete: remember, per collection, how many records the
  // server had and its write sequence, to choose the next run's mode.
  {
    const CaseCounts& c = report_.cases;
    uint64_t seq = server_seq_;
    if (c.pushed_adds + c.pushed_updates + c.pushed_deletes > 0 ||
        !options_.lock) {
      auto list = remote_.ListCollections();
      if (list.ok()) seq = list->seq;
    }
    Clock& clock = DeviceClock();
    ChangeBatch marks;
    for (uint32_t c_i = 0; c_i < names_.size(); ++c_i) {
      marks.SetMeta(meta::SyncLast(names_[c_i]),
                    std::to_string(items_[c_i]) + " " + std::to_string(seq) +
                        " " + std::to_string(clock.Now()));
    }
    if (!marks.empty()) {
      SYNCSTACK_RETURN_IF_ERROR(store_.Apply(options_.write, marks));
    }
  }

  // A complete run of every collection has seen every write up to the
  // sequence of its first lock: that is the new tombstone mark.
  if (first_seq_ >= 0 && options_.collections.empty() &&
      report_.skipped_local_edits == 0) {
    ChangeBatch mark;
    mark.SetMeta(std::string(meta::kSyncMark), std::to_string(first_seq_));
    SYNCSTACK_RETURN_IF_ERROR(store_.Apply(options_.write, mark));
  }

  // Release now (an error here is harmless: the lease expires by itself).
  if (unlocker.remote != nullptr) {
    unlocker.remote = nullptr;
    (void)remote_.Unlock();
  }
  report_.traffic = remote_.traffic();
  report_.total_time = Since(start);
  Progress(SyncProgress::Phase::kDone, 1, 1);
  return std::move(report_);
}

}  // namespace

std::string_view SyncModeName(SyncMode mode) noexcept {
  switch (mode) {
    case SyncMode::kAuto:
      return "auto";
    case SyncMode::kFull:
      return "full";
    case SyncMode::kReconcile:
      return "reconcile";
  }
  return "unknown";
}

SyncEngine::SyncEngine(Store& store, Transport& transport,
                       const ConflictPolicy& policy, Schema schema) noexcept
    : store_(store),
      transport_(transport),
      policy_(policy),
      schema_(std::move(schema)) {}

Result<SyncReport> SyncEngine::Run(const SyncOptions& options,
                                   SyncObserver* observer) {
  try {
    class Run run(store_, transport_, policy_, schema_, options, observer);
    return run.Go();
  } catch (const std::exception& e) {
    return Status::Unavailable(std::string("sync: ") + e.what());
  }
}

}  // namespace syncstack
