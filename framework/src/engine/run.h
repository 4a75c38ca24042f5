// Private: one sync run (SyncEngine::Run), the orchestration around the
// pure parts. Go() walks the phases: login, lock, plan every collection
// (choose a mode, then learn the server's side by manifest, reconciliation
// or a streamed first sync, and merge-join it with the local rows), apply
// the local-only work, exchange the rest in bounded batches, and record
// what the next run needs.
//
// Where each part lives (framework/src/engine/):
//   run.cc               Go and its phases, mode dispatch, the lock
//   plan.h, plan.cc      the pure planner (the three cases)
//   mode.h, mode.cc      the pure choice of a mode, with its reason
//   paged_entries.*      the server's manifest, page by page
//   first_sync.cc        ColdSync: a first sync streamed into the store
//   reconcile_driver.cc  Reconcile: the differences by reconciliation
//   exchange.cc          synchronise calls and applying their answers
//   bookkeeping.*        sync/last, sync/mark, schema, policy/seen
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/mode.h"
#include "engine/plan.h"
#include "syncstack/engine.h"
#include "syncstack/fingerprint.h"
#include "syncstack/pages.h"
#include "syncstack/reconcile/reconcile.h"
#include "syncstack/remote.h"

namespace syncstack::engine {

using SteadyClock = std::chrono::steady_clock;

inline std::chrono::microseconds Since(SteadyClock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(
      SteadyClock::now() - start);
}

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
  LocalCounts counts;
};

// What pulling one collection's changes feed learnt.
struct Pulled {
  // The server refused the checkpoint (410): its message.
  bool refused = false;
  std::string refusal;
  // The server has no feed (an older server or transport).
  bool unsupported = false;
  // The rows unsynced here (ScanUnsynced), by id, and the feed's entries
  // for them (the rest of the feed is applied already).
  std::vector<ManifestEntry> unsynced;
  std::vector<ChangeEntry> contested;
};

// A collection synced by the changes feed: where its feed was read to and
// the server's figures there.
struct FeedPoint {
  uint64_t last = 0;  // the last sequence consumed
  uint64_t seq = 0;   // the account's sequence with the last page
  uint64_t count = 0;
  uint64_t fingerprint = 0;
};

// The local rows of one batch, re-read right before each apply attempt.
using RowKey = std::pair<uint32_t, RecordId>;
using RowMap = std::map<RowKey, Record>;

class SyncRun {
 public:
  // Every reference must outlive the run.
  SyncRun(Store& store, Transport& transport, const ConflictPolicy& policy,
          Schema& schema, const SyncOptions& options, SyncObserver* observer)
      : store_(store),
        remote_(transport),
        policy_(&policy),
        schema_(schema),
        options_(options),
        observer_(observer) {}

  // The whole run; see SyncEngine::Run.
  Result<SyncReport> Go();

 private:
  // Releases the server's lock when the run ends early.
  struct Unlocker {
    RemoteClient* remote = nullptr;
    ~Unlocker() {
      if (remote != nullptr) (void)remote->Unlock();
    }
  };
  // A synchronise request being built, and what it carries.
  struct Outgoing;
  // A synchronise answer, indexed by (collection, id).
  struct Answer;

  // --- run.cc: the phases of Go --------------------------------------------
  // The phases of Go, in order; Go drops a kept login token on a 401.
  Result<SyncReport> Steps();
  // Logs in (or presents the login token kept for this user and server,
  // kept_login.h) and settles the conflict policy to plan with.
  Status LogIn();
  // Has the store stamp the writes it captured without a version (an
  // app's own tables) with the policy planned with (Store::StampCaptured).
  Status StampCaptured();
  // Logs in with the password and keeps the token if options_.server is
  // set.
  Status LogInWithPassword();
  // Adopts or checks the policy the server named at login.
  Status SettlePolicy();
  // Runs `call` (a first authenticated request); when it answers 401 and
  // the token was a kept one not yet accepted, drops it, logs in with the
  // password and runs `call` once more.
  template <typename Call>
  auto Authenticated(Call call) -> decltype(call());
  // Takes the lock (waiting up to options_.lock_wait) unless told not to.
  Status TakeLock(Unlocker& unlocker);
  // Plans every collection, then the metadata the plan taught.
  Status PlanPhase();
  // Runs the plan: local-only work first, then the exchange.
  Status ExchangePhase();
  // Records what the next run needs (sync/last, sync/mark, sync/history),
  // in one transaction.
  Status RecordCompletion();
  // After the exchange: compares each changes-mode collection's figure
  // with the server's and reconciles those that differ, in this run.
  Status VerifyPhase();
  // Plans and exchanges again the collections of `redo`, each with the
  // mode chosen from its inputs.
  Status RedoPhase(const std::vector<std::pair<uint32_t, ModeInputs>>& redo);

  // --- run.cc: planning ------------------------------------------------------
  Status PlanAll();
  // The collections of this run, sorted; teaches schema_ the server's keys.
  Status ChooseCollections(const CollectionList& list);
  Status PlanOne(uint32_t index);
  Result<ModeInputs> GatherModeInputs(uint32_t index);
  // Plans collection `index` the way `choice` says.
  Status Follow(uint32_t index, const ModeChoice& choice);
  Status PlanFull(uint32_t index);
  Status PlanReconciled(uint32_t index, Reconciled& reconciled);
  // Plans one collection against `remote` (see PlanCollection).
  Status PlanWith(uint32_t index, ManifestIterator& local,
                  RemoteEntries& remote, const Reconciled* reconciled);
  void NoteMode(uint32_t index, const ModeChoice& choice);
  // Sets the report's mode and reasons from what planning used.
  void NoteReportMode();
  // Whether this run pushed anything.
  bool Pushed() const;

  // --- changes.cc ------------------------------------------------------------
  // Reads the feed of collection `index` after `after` and applies it,
  // but for the rows unsynced here (out.contested); records the FeedPoint.
  Status PullChanges(uint32_t index, uint64_t after, Pulled& out);
  // One page of the feed; nullopt when refused or absent (see `out`).
  Result<std::optional<ChangesPage>> FetchChanges(uint32_t index,
                                                  uint64_t after, Pulled& out);
  // Applies the entries of one page for rows synced (or absent) here, in
  // one transaction; the others go to `out.contested`.
  Status ApplyFeed(uint32_t index, std::vector<ChangeEntry>& entries,
                   Pulled& out);
  // Plans the unsynced rows against the feed's entries for them.
  Status PlanChanges(uint32_t index, Pulled& pulled);
  // Reads (and applies) the feed after `after` up to its end, leaving the
  // server's figures there in `point`.
  Status ReadFeedTo(uint32_t index, uint64_t after, FeedPoint& point,
                    Pulled& pulled);

  // --- figures: the device's count + fingerprint (figures.h) -----------------
  // nullopt: the figure stops being exact and is dropped.
  using PendingFigures = std::map<uint32_t, std::optional<SetFingerprint>>;
  // The figure of collection `index` as kept (nullptr: none kept).
  Result<SetFingerprint*> Figure(uint32_t index);
  // The figure, initialised by one scan if none is kept.
  Status EnsureFigure(uint32_t index);
  // Updates the figures for `batch`'s ops (each replacing the row `rows`
  // holds for it; nullptr: none) into `pending` and adds them to `batch`,
  // with the rows' kept acknowledged extra bytes (figures.h, TrackChange).
  Status TrackFigures(ChangeBatch& batch, const RowMap* rows,
                      PendingFigures& pending);
  // Keeps `pending` once its batch applied.
  void CommitFigures(PendingFigures& pending);
  // Rebuilds the figure of `index` by one scan and keeps it.
  Status RebuildFigure(uint32_t index);

  // --- first_sync.cc ---------------------------------------------------------
  // Streams a first sync's records straight into the store, in batches
  // that each carry a checkpoint.
  Result<FirstSyncOutcome> ColdSync(uint32_t index);

  // --- reconcile_driver.cc ---------------------------------------------------
  // Finds the differences by reconciliation. Sets *gave_up (and returns
  // OK) when it stopped paying: more bytes than `budget`.
  Status Reconcile(uint32_t index, uint64_t budget, Reconciled& out,
                   bool* gave_up);
  // Scans the local rows: the items to reconcile, and out.local / counts.
  Status ScanForReconcile(const std::string& name,
                          std::vector<ReconcileItem>& items, Reconciled& out);
  // Rereads the local rows of the differing ids into out.local.
  Status RereadDiffering(const std::string& name,
                         const std::vector<Difference>& differences,
                         Reconciled& out);

  // --- absence_proof.cc ------------------------------------------------------
  // Asks the server to prove the deletes planned only because its list
  // lacked a synced record (PlanOp::by_absence): a tombstone not older than
  // the device's copy confirms one; without it the server lost the record,
  // which is pushed again as created. docs/decisions/server-restore.md.
  Status ProveAbsences();
  // The mass-deletion guard on the deletes the server proved (after
  // ProveAbsences). Errors: kAborted (nothing was changed).
  Status CheckDeleteGuards() const;

  // --- exchange.cc -----------------------------------------------------------
  Status ApplyLocalOnly(size_t begin, size_t end);
  // Sends plan_.ops[begin, end) (cut short by the byte budget: `next` is
  // where it stopped) in one synchronise call and applies the answer.
  Status Exchange(size_t begin, size_t end, size_t& next);
  // Adds the ops to `out` from the rows as they are now, skipping what the
  // app changed since planning (the next run sees it).
  void BuildRequest(const std::vector<const PlanOp*>& ops, const RowMap& rows,
                    size_t begin, Outgoing& out, size_t& next);
  void AddToRequest(const PlanOp& op, const Record* row, Outgoing& out);
  // Asks again for the records an answer left out (`_get_left`, over the
  // server's byte bound) until `response` holds them all.
  Status AskForTheRest(SyncResponse& response);
  Answer IndexAnswer(const SyncResponse& response) const;
  // Applies the answer in one local transaction, guarded row by row
  // against concurrent app writes; on a lost race re-reads and rebuilds.
  Status ApplyAnswer(const Outgoing& out, const Answer& answer);
  // Adds the local change for one sent op to `batch`; false if the row
  // changed here meanwhile and stays for the next run.
  bool ApplyOne(const PlanOp& op, const Record* row, const Outgoing& out,
                const Answer& answer, ChangeBatch& batch);
  // The version of `row`, written here while `as_sent` was being pushed,
  // once the server stamped the pushed write (`last_update`, `version`):
  // its own if the policy told the two writes apart, else stamped again
  // with the stamp as its previous version.
  Version Rebased(const Record& row, const Record& as_sent,
                  Timestamp last_update, const std::string& version) const;
  // Counts `op` as skipped: its row changed here since the plan (an app
  // write, or the store's own cascade); it stays for the next run.
  void NoteSkipped(const PlanOp& op);
  // Conflicts the server found that planning did not foresee.
  void NoteUnforeseen(const Outgoing& out, const Answer& answer);
  Status ReadRows(const std::vector<const PlanOp*>& ops, RowMap& rows);
  const Record* Row(const RowMap& rows, const PlanOp& op) const {
    auto it = rows.find({op.collection, op.id});
    return it == rows.end() ? nullptr : &it->second;
  }

  // --- run.cc: the lock and progress -----------------------------------------
  // Takes or renews the lock, telling the server this device's clock.
  // Sends the tombstone mark too (0: no complete sync yet); the first
  // answer's sequence becomes the mark if the run completes, and its
  // _resync makes the run a full resync.
  Result<LockResponse> Lock();
  Status RenewLockIfDue();
  // The device's clock: the options', or the system's.
  Clock& DeviceClock() const {
    return options_.clock ? *options_.clock : SystemClock();
  }
  void Progress(SyncProgress::Phase phase, uint64_t done, uint64_t total);

  Store& store_;
  RemoteClient remote_;
  const ConflictPolicy* policy_;  // the engine's, or the one adopted
  Schema& schema_;
  const SyncOptions& options_;
  SyncObserver* observer_;

  SyncReport report_;
  std::vector<std::string> names_;  // collections, by index
  std::map<std::string, uint32_t, std::less<>> name_index_;  // the inverse
  // ops and case counts; its conflicts become report_.conflicts
  Plan plan_;
  SteadyClock::time_point renew_at_;
  std::chrono::milliseconds lease_length_{0};
  Timestamp highest_seen_ = kNoTimestamp;  // in the manifest
  uint64_t server_seq_ = 0;  // the account's write sequence at the start
  std::chrono::microseconds network_{0};  // of planning
  std::vector<std::string> reasons_;      // "<collection>: <mode> (<why>)"
  bool used_full_ = false, used_reconcile_ = false, used_changes_ = false;
  std::vector<uint64_t> synced_local_;  // synced rows here per collection
  // The device's figures, loaded on first use (nullopt: none kept).
  std::map<uint32_t, std::optional<SetFingerprint>> figures_;
  std::map<uint32_t, FeedPoint> fed_;  // changes-mode collections
  // Collections with an op skipped as changed here meanwhile (NoteSkipped).
  std::set<uint32_t> skipped_in_;
  // Collections planned as a resync, or as after a restore, because the
  // changes feed refused their checkpoint.
  std::set<uint32_t> resync_here_, restored_here_;
  // The collection list read after this run's writes, for RecordCompletion.
  std::optional<Result<CollectionList>> after_writes_;
  std::vector<uint64_t> items_;  // server items here per collection, after
  uint64_t exchange_done_ = 0;
  uint64_t exchange_total_ = 0;
  int64_t first_seq_ = -1;      // the server's sequence at the first lock
  bool resync_ = false;         // tombstones this device may need are gone
  std::string latest_history_;  // the last history point the server gave
  bool restored_ = false;       // the server's history went back
  // The run presents a kept login token the server has not accepted yet.
  bool token_unconfirmed_ = false;
};

}  // namespace syncstack::engine
