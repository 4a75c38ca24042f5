#include "engine/run.h"

#include <algorithm>
#include <thread>

#include "engine/bookkeeping.h"
#include "engine/paged_entries.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::engine {

void SyncRun::Progress(SyncProgress::Phase phase, uint64_t done,
                       uint64_t total) {
  if (observer_ == nullptr) return;
  observer_->OnProgress(SyncProgress{phase, done, total});
}

// --- The lock
// -----------------------------------------------------------------

namespace {

// Gives `remote` the device secret `store` keeps, unless it has one.
Status LoadDeviceSecret(Store& store, RemoteClient& remote) {
  if (!remote.device_secret().empty()) return Status::Ok();
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> secret,
                             store.GetMeta(meta::kDeviceSecret));
  if (secret) remote.set_device_secret(std::move(*secret));
  return Status::Ok();
}

// Keeps a new device secret from the lock's answer for later runs.
Status KeepDeviceSecret(Store& store, const WriteOptions& options,
                        const std::string& secret) {
  ChangeBatch batch;
  batch.SetMeta(std::string(meta::kDeviceSecret), secret);
  return store.Apply(options, batch).WithContext("keeping the device secret");
}

}  // namespace

Result<LockResponse> SyncRun::Lock() {
  Clock& clock = DeviceClock();
  SYNCSTACK_ASSIGN_OR_RETURN(SyncMark mark, ReadSyncMark(store_));
  SYNCSTACK_RETURN_IF_ERROR(LoadDeviceSecret(store_, remote_));
  auto lease = remote_.Lock(options_.device, nullptr,
                            options_.send_clock ? clock.Now() : kNoTimestamp,
                            mark.seq, mark.history);
  if (lease.ok() && !lease->device_secret.empty()) {
    SYNCSTACK_RETURN_IF_ERROR(
        KeepDeviceSecret(store_, options_.write, lease->device_secret));
  }
  if (lease.ok() && lease->clock_offset_ms != kNoTimestamp) {
    report_.clock_offset_ms = lease->clock_offset_ms;
  }
  if (lease.ok() && !lease->history.empty()) latest_history_ = lease->history;
  if (lease.ok() && lease->seq >= 0 && first_seq_ < 0) {
    first_seq_ = lease->seq;
    resync_ = report_.resynced = lease->resync;
    restored_ = report_.server_restored = lease->restored;
  }
  return lease;
}

Status SyncRun::RenewLockIfDue() {
  if (!options_.lock || SteadyClock::now() < renew_at_) return Status::Ok();
  auto lease = Lock();
  if (!lease.ok()) return lease.status().WithContext("renewing the lock");
  lease_length_ = std::chrono::seconds(lease->expires_in);
  renew_at_ = SteadyClock::now() + lease_length_ / 2;
  return Status::Ok();
}

// --- Planning
// -----------------------------------------------------------------

void SyncRun::NoteMode(uint32_t index, const ModeChoice& choice) {
  (choice.mode == SyncMode::kReconcile ? used_reconcile_ : used_full_) = true;
  reasons_.push_back(names_[index] + ": " +
                     std::string(SyncModeName(choice.mode)) + " (" +
                     choice.reason + ")");
}

Status SyncRun::PlanWith(uint32_t index, ManifestIterator& local,
                         RemoteEntries& remote, const Reconciled* reconciled) {
  PlanInput input;
  input.collection = index;
  input.name = names_[index];
  input.policy = policy_;
  input.resync = resync_;
  input.restored = restored_;
  input.reconciled = reconciled != nullptr;
  if (reconciled != nullptr) {
    input.lacks = reconciled->lacks;
    if (reconciled->has_local) input.restricted = reconciled->counts;
  }
  // Absences are not deletes until the server proves them (a restored
  // server lost what it does not list): the guard counts proven deletes,
  // after the proof step (CheckDeleteGuards), not the planner's absences.
  input.guard.allow = true;
  PlanTally tally;
  Status s = PlanCollection(input, local, remote, plan_, &tally);
  items_[index] += tally.items;
  synced_local_[index] += tally.synced_local;
  return s;
}

Status SyncRun::PlanFull(uint32_t index) {
  PagedEntries entries(remote_, names_[index], kManifestPageEntries, network_,
                       highest_seen_);
  auto local = store_.Scan(names_[index], ScanOptions{});
  return PlanWith(index, *local, entries, nullptr);
}

// A reconciled (or freshly streamed) collection: `reconciled.remote` holds
// only the differing entries.
Status SyncRun::PlanReconciled(uint32_t index, Reconciled& reconciled) {
  ListedEntries entries(std::move(reconciled.remote));
  reconciled.remote.clear();
  if (reconciled.has_local) {
    EntryIterator local(reconciled.local);
    return PlanWith(index, local, entries, &reconciled);
  }
  auto local = store_.Scan(names_[index], ScanOptions{});
  return PlanWith(index, *local, entries, &reconciled);
}

Result<ModeInputs> SyncRun::GatherModeInputs(uint32_t index) {
  const std::string& name = names_[index];
  ModeInputs in;
  in.asked = options_.mode;
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<std::string> checkpoint,
                             store_.GetMeta(meta::ColdCheckpoint(name)));
  in.first_sync_pending = checkpoint && !checkpoint->empty();
  {
    auto it = store_.Scan(name, ScanOptions{});
    in.empty_here = !it->Valid();
    SYNCSTACK_RETURN_IF_ERROR(it->status());
  }
  in.resync = resync_;
  in.restored = restored_;
  in.last = ReadLastSync(store_, name);
  in.now = DeviceClock().Now();
  in.server_seq = server_seq_;
  return in;
}

Status SyncRun::PlanOne(uint32_t index) {
  SYNCSTACK_ASSIGN_OR_RETURN(ModeInputs inputs, GatherModeInputs(index));
  return Follow(index, ChooseMode(inputs));
}

Status SyncRun::Follow(uint32_t index, const ModeChoice& choice) {
  switch (choice.approach) {
    case Approach::kManifest:
      NoteMode(index, choice);
      return PlanFull(index);
    case Approach::kLocalOnly: {
      NoteMode(index, choice);
      Reconciled nothing;
      return PlanReconciled(index, nothing);
    }
    case Approach::kFirstSync: {
      SYNCSTACK_ASSIGN_OR_RETURN(FirstSyncOutcome outcome, ColdSync(index));
      return Follow(index, AfterFirstSync(outcome));
    }
    case Approach::kReconcile: {
      Reconciled reconciled;
      bool gave_up = false;
      SYNCSTACK_RETURN_IF_ERROR(
          Reconcile(index, choice.budget, reconciled, &gave_up));
      if (gave_up) return Follow(index, AfterReconcileGaveUp());
      NoteMode(index, choice);
      return PlanReconciled(index, reconciled);
    }
  }
  return Status::InvalidArgument("unknown sync approach");
}

Status SyncRun::ChooseCollections(const CollectionList& list) {
  std::vector<std::string> names = options_.collections;
  for (const auto& c : list.collections) {
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
  synced_local_.assign(names_.size(), 0);
  for (uint32_t i = 0; i < names_.size(); ++i) name_index_[names_[i]] = i;
  return Status::Ok();
}

Status SyncRun::PlanAll() {
  auto start = SteadyClock::now();
  auto list = remote_.ListCollections();
  network_ += Since(start);
  if (!list.ok()) return list.status();
  server_seq_ = list->seq;
  SYNCSTACK_RETURN_IF_ERROR(ChooseCollections(*list));
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

// --- The phases of a run
// ------------------------------------------------------

Status SyncRun::LogIn() {
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
  return Status::Ok();
}

Status SyncRun::TakeLock(Unlocker& unlocker) {
  if (!options_.lock) return Status::Ok();
  auto give_up_at = SteadyClock::now() + options_.lock_wait;
  auto lease = Lock();
  // Poll at most every 2 s: the holder may release before its lease ends.
  while (!lease.ok() && lease.status().code() == Status::Code::kLocked &&
         SteadyClock::now() < give_up_at) {
    int64_t retry_after = std::clamp<int64_t>(remote_.last_retry_after(), 1, 2);
    std::this_thread::sleep_until(std::min(
        give_up_at, SteadyClock::now() + std::chrono::seconds(retry_after)));
    lease = Lock();
  }
  if (!lease.ok()) return lease.status();
  unlocker.remote = &remote_;
  lease_length_ = std::chrono::seconds(lease->expires_in);
  renew_at_ = SteadyClock::now() + lease_length_ / 2;
  return Status::Ok();
}

Status SyncRun::CheckDeleteGuards() const {
  // After a restore the proven deletes are those made after the backup;
  // the user was told of the restore (report_.server_restored).
  if (options_.allow_mass_delete || restored_) return Status::Ok();
  std::vector<uint64_t> proven(names_.size(), 0);
  for (const PlanOp& op : plan_.ops) {
    if (op.action == Action::kDeleteHere) proven[op.collection]++;
  }
  const DeleteGuard guard{options_.max_delete_share, options_.max_delete_floor,
                          false};
  for (size_t c = 0; c < names_.size(); ++c) {
    if (proven[c] == 0) continue;
    SYNCSTACK_RETURN_IF_ERROR(CheckDeleteGuard(
        guard, names_[c], PlanTally{0, synced_local_[c], proven[c]}));
  }
  return Status::Ok();
}

Status SyncRun::PlanPhase() {
  auto phase = SteadyClock::now();
  Progress(SyncProgress::Phase::kFetch, 0, 1);
  // Fetching and planning interleave (pages, reconciliation rounds and
  // streamed first syncs): fetch_time is the time waiting for the server.
  SYNCSTACK_RETURN_IF_ERROR(PlanAll());
  SYNCSTACK_RETURN_IF_ERROR(ProveAbsences());
  SYNCSTACK_RETURN_IF_ERROR(CheckDeleteGuards());
  Progress(SyncProgress::Phase::kFetch, 1, 1);
  report_.fetch_time = network_;
  report_.conflicts = std::move(plan_.conflicts);
  plan_.conflicts.clear();
  AddCases(report_.cases, plan_.cases);  // to the streamed first syncs'
  SYNCSTACK_RETURN_IF_ERROR(WriteRunNotes(store_, options_.write, schema_,
                                          policy_->traits().uses_highest_seen,
                                          highest_seen_));
  // Local-only work first, then the exchange, each in plan order.
  std::stable_partition(
      plan_.ops.begin(), plan_.ops.end(),
      [](const PlanOp& op) { return IsLocalOnly(op.action); });
  report_.plan_time = Since(phase) - network_;
  return Status::Ok();
}

Status SyncRun::ExchangePhase() {
  auto phase = SteadyClock::now();
  const std::vector<PlanOp>& ops = plan_.ops;
  exchange_total_ = ops.size();
  Progress(SyncProgress::Phase::kExchange, 0, exchange_total_);
  size_t i = 0;
  const size_t per_call = std::max<size_t>(1, options_.batch_records);
  while (i < ops.size() && IsLocalOnly(ops[i].action)) {
    size_t end = i;
    while (end < ops.size() && end - i < per_call &&
           IsLocalOnly(ops[end].action)) {
      ++end;
    }
    SYNCSTACK_RETURN_IF_ERROR(ApplyLocalOnly(i, end));
    exchange_done_ += end - i;
    Progress(SyncProgress::Phase::kExchange, exchange_done_, exchange_total_);
    i = end;
  }
  while (i < ops.size()) {
    size_t end = std::min(ops.size(), i + per_call);
    size_t next = i;
    SYNCSTACK_RETURN_IF_ERROR(Exchange(i, end, next));
    exchange_done_ += next - i;
    Progress(SyncProgress::Phase::kExchange, exchange_done_, exchange_total_);
    i = next;
  }
  report_.exchange_time = Since(phase);
  return Status::Ok();
}

Status SyncRun::RecordCompletion() {
  // The run is complete: remember, per collection, how many records the
  // server had and its write sequence, to choose the next run's mode.
  const CaseCounts& c = report_.cases;
  uint64_t seq = server_seq_;
  if (c.pushed_adds + c.pushed_updates + c.pushed_deletes > 0 ||
      !options_.lock) {
    auto list = remote_.ListCollections();
    if (list.ok()) {
      seq = list->seq;
      // The history point after this run's own writes (the lock keeps
      // others out), so that a restore to before them is noticed.
      if (!list->history.empty()) latest_history_ = list->history;
    }
  }
  SYNCSTACK_RETURN_IF_ERROR(WriteLastSync(store_, options_.write, names_,
                                          items_, seq, DeviceClock()));
  // A complete run of every collection has seen every write up to the
  // sequence of its first lock: that is the new tombstone mark.
  if (first_seq_ >= 0 && options_.collections.empty() &&
      report_.skipped_local_edits == 0) {
    SYNCSTACK_RETURN_IF_ERROR(
        WriteSyncMark(store_, options_.write, first_seq_));
  }
  SYNCSTACK_RETURN_IF_ERROR(RecordHistoryPoint());
  return Status::Ok();
}

Status SyncRun::RecordHistoryPoint() {
  if (latest_history_.empty()) return Status::Ok();
  return WriteHistoryPoint(store_, options_.write, latest_history_);
}

Result<SyncReport> SyncRun::Go() {
  auto start = SteadyClock::now();
  Progress(SyncProgress::Phase::kLock, 0, 1);
  SYNCSTACK_RETURN_IF_ERROR(LogIn());
  Unlocker unlocker;
  SYNCSTACK_RETURN_IF_ERROR(TakeLock(unlocker));
  Progress(SyncProgress::Phase::kLock, 1, 1);
  report_.lock_time = Since(start);

  SYNCSTACK_RETURN_IF_ERROR(PlanPhase());
  SYNCSTACK_RETURN_IF_ERROR(ExchangePhase());
  SYNCSTACK_RETURN_IF_ERROR(RecordCompletion());

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

}  // namespace syncstack::engine
