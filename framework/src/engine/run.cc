#include "engine/run.h"

#include <algorithm>
#include <thread>

#include "engine/bookkeeping.h"
#include "engine/figures.h"
#include "engine/kept_login.h"
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
  (choice.mode == SyncMode::kReconcile ? used_reconcile_
   : choice.mode == SyncMode::kChanges ? used_changes_
                                       : used_full_) = true;
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
  input.resync = resync_ || resync_here_.contains(index);
  input.restored = restored_ || restored_here_.contains(index);
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
  SYNCSTACK_ASSIGN_OR_RETURN(SetFingerprint * figure, Figure(index));
  if (figure != nullptr && figure->count > 0) {
    in.empty_here = false;  // the figure counts rows kept here
  } else {
    // Opening a scan reads a page of entries: only when the figure does
    // not already tell.
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
  if (choice.resync) resync_here_.insert(index);
  if (choice.restored) restored_here_.insert(index);
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
    case Approach::kChanges: {
      Pulled pulled;
      SYNCSTACK_RETURN_IF_ERROR(PullChanges(index, choice.after, pulled));
      if (pulled.refused || pulled.unsupported) {
        SYNCSTACK_ASSIGN_OR_RETURN(ModeInputs inputs, GatherModeInputs(index));
        inputs.blocked = pulled.refused ? ChangesBlocked::kRefused
                                        : ChangesBlocked::kUnsupported;
        inputs.blocked_why = pulled.refusal;
        if (pulled.refused) {
          if (!report_.changes_refused.empty()) {
            report_.changes_refused += "; ";
          }
          report_.changes_refused += names_[index] + ": " + pulled.refusal;
        }
        return Follow(index, ChooseMode(inputs));
      }
      NoteMode(index, choice);
      return PlanChanges(index, pulled);
    }
    case Approach::kReconcile: {
      Reconciled reconciled;
      bool gave_up = false;
      SYNCSTACK_RETURN_IF_ERROR(
          Reconcile(index, choice.budget, reconciled, &gave_up));
      if (gave_up) return Follow(index, AfterReconcileGaveUp(choice));
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
  auto list = Authenticated([this] { return remote_.ListCollections(); });
  network_ += Since(start);
  if (!list.ok()) return list.status();
  server_seq_ = list->seq;
  SYNCSTACK_RETURN_IF_ERROR(ChooseCollections(*list));
  for (uint32_t i = 0; i < names_.size(); ++i) {
    SYNCSTACK_RETURN_IF_ERROR(ValidateCollectionName(names_[i]));
    SYNCSTACK_RETURN_IF_ERROR(PlanOne(i));
    Progress(SyncProgress::Phase::kPlan, i + 1, names_.size());
  }
  NoteReportMode();
  return Status::Ok();
}

void SyncRun::NoteReportMode() {
  report_.mode = used_full_        ? SyncMode::kFull
                 : used_reconcile_ ? SyncMode::kReconcile
                 : used_changes_   ? SyncMode::kChanges
                                   : SyncMode::kFull;
  report_.mode_reason.clear();
  for (const auto& reason : reasons_) {
    if (!report_.mode_reason.empty()) report_.mode_reason += "; ";
    report_.mode_reason += reason;
  }
}

// --- The phases of a run
// ------------------------------------------------------

Status SyncRun::LogIn() {
  auto start = SteadyClock::now();
  std::optional<KeptLogin> kept;
  if (!options_.server.empty()) kept = ReadKeptLogin(store_);
  if (kept &&
      Reusable(*kept, options_.user, options_.server, DeviceClock().Now())) {
    remote_.UseToken(std::move(kept->token), std::move(kept->policy));
    token_unconfirmed_ = report_.login_reused = true;
  } else {
    SYNCSTACK_RETURN_IF_ERROR(LogInWithPassword());
  }
  report_.login_time = Since(start);
  return SettlePolicy();
}

Status SyncRun::LogInWithPassword() {
  token_unconfirmed_ = report_.login_reused = false;
  SYNCSTACK_RETURN_IF_ERROR(remote_.Login(options_.user, options_.password));
  if (options_.server.empty() || remote_.token_expires_in() <= 0) {
    return Status::Ok();
  }
  KeptLogin login;
  login.user = options_.user;
  login.server = options_.server;
  login.policy = remote_.server_policy();
  login.token = remote_.token();
  login.issued_at = DeviceClock().Now();
  login.expires_at = login.issued_at + remote_.token_expires_in() * 1000;
  return WriteKeptLogin(store_, options_.write, login);
}

template <typename Call>
auto SyncRun::Authenticated(Call call) -> decltype(call()) {
  auto answer = call();
  if (token_unconfirmed_ && !answer.ok() &&
      answer.status().code() == Status::Code::kUnauthorized) {
    SYNCSTACK_RETURN_IF_ERROR(DropKeptLogin(store_, options_.write));
    SYNCSTACK_RETURN_IF_ERROR(LogInWithPassword());
    SYNCSTACK_RETURN_IF_ERROR(SettlePolicy());
    answer = call();
  }
  if (answer.ok()) token_unconfirmed_ = false;
  return answer;
}

Status SyncRun::SettlePolicy() {
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

Status SyncRun::StampCaptured() {
  const ConflictPolicy& policy = *policy_;
  return store_.StampCaptured(options_.write, [&policy](const LocalWrite& w) {
    return policy.StampLocal(w);
  });
}

Status SyncRun::TakeLock(Unlocker& unlocker) {
  if (!options_.lock) return Status::Ok();
  auto give_up_at = SteadyClock::now() + options_.lock_wait;
  auto lease = Authenticated([this] { return Lock(); });
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
    // A collection whose feed checkpoint the server refused as restored.
    if (proven[c] == 0 || restored_here_.contains(static_cast<uint32_t>(c))) {
      continue;
    }
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
  exchange_total_ = exchange_done_ + ops.size();  // a redo adds its own
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
  report_.exchange_time += Since(phase);
  return Status::Ok();
}

Status SyncRun::RecordCompletion() {
  // The run is complete: remember, per collection, how many records the
  // server had and its write sequence, to choose the next run's mode.
  const CaseCounts& c = report_.cases;
  uint64_t seq = server_seq_;
  if (c.pushed_adds + c.pushed_updates + c.pushed_deletes > 0 ||
      !options_.lock) {
    auto list =
        after_writes_ ? std::move(*after_writes_) : remote_.ListCollections();
    if (list.ok()) {
      // Without the lock others may have written meanwhile: only the
      // sequence at the start is known to be seen through.
      if (options_.lock) seq = list->seq;
      // The history point after this run's own writes (the lock keeps
      // others out), so that a restore to before them is noticed.
      if (!list->history.empty()) latest_history_ = list->history;
    }
  }
  // One transaction (one fsync) for all of it.
  ChangeBatch batch;
  AddLastSync(batch, names_, items_, seq, DeviceClock());
  // A complete run of every collection has seen every write up to the
  // sequence of its first lock: that is the new tombstone mark.
  if (first_seq_ >= 0 && options_.collections.empty() &&
      report_.skipped_local_edits == 0) {
    AddSyncMark(batch, first_seq_);
  }
  // The history point after this run's writes (restores are noticed).
  if (!latest_history_.empty()) AddHistoryPoint(batch, latest_history_);
  if (batch.empty()) return Status::Ok();
  return store_.Apply(options_.write, batch);
}

bool SyncRun::Pushed() const {
  const CaseCounts& c = report_.cases;
  return c.pushed_adds + c.pushed_updates + c.pushed_deletes > 0;
}

Status SyncRun::VerifyPhase() {
  if (fed_.empty()) return Status::Ok();
  std::vector<std::pair<uint32_t, ModeInputs>> redo;
  std::optional<uint64_t> now_seq;
  if (Pushed() && options_.lock) {
    // The lock kept others out: after this run's own writes the feed is
    // empty, and one short read gives the server's figures.
    auto start = SteadyClock::now();
    after_writes_ = remote_.ListCollections();
    network_ += Since(start);
    if (after_writes_->ok()) now_seq = (*after_writes_)->seq;
  }
  for (auto& [index, point] : fed_) {
    // An op skipped because its row changed here meanwhile leaves that
    // row's acknowledged version behind the server's when the feed had
    // brought the server's newer version or delete of it (e.g. a child the
    // mapped store deleted with a pulled parent, its planned push of an
    // edit then skipped): not comparable now; the next run pushes it.
    if (skipped_in_.contains(index)) continue;
    if (Pushed() || !options_.lock) {
      // Others may have written too (no lock): read on from where the
      // feed was read to, this run's own writes coming back unchanged.
      Pulled more;
      SYNCSTACK_RETURN_IF_ERROR(
          store_.ScanUnsynced(names_[index], [&](const Record& r) {
            more.unsynced.push_back(
                ManifestEntry{r.id, r.version, r.deleted, r.state, r.base});
          }));
      SYNCSTACK_RETURN_IF_ERROR(
          ReadFeedTo(index, now_seq.value_or(point.last), point, more));
      if (more.refused || more.unsupported || !more.contested.empty()) {
        continue;  // not comparable now; the next run sees it
      }
    }
    SYNCSTACK_ASSIGN_OR_RETURN(SetFingerprint * figure, Figure(index));
    if (figure == nullptr) continue;  // dropped: rebuilt by the next run
    if (figure->count == point.count && figure->sum == point.fingerprint) {
      continue;
    }
    const std::string why =
        "device " + DescribeFigure(figure->count, figure->sum) + ", server " +
        DescribeFigure(point.count, point.fingerprint);
    if (!report_.fingerprint_mismatch.empty()) {
      report_.fingerprint_mismatch += "; ";
    }
    report_.fingerprint_mismatch += names_[index] + ": " + why;
    SYNCSTACK_ASSIGN_OR_RETURN(ModeInputs inputs, GatherModeInputs(index));
    inputs.blocked = ChangesBlocked::kMismatch;
    inputs.blocked_why = why;
    redo.emplace_back(index, std::move(inputs));
  }
  if (redo.empty()) return Status::Ok();
  return RedoPhase(redo);
}

Status SyncRun::RedoPhase(
    const std::vector<std::pair<uint32_t, ModeInputs>>& redo) {
  plan_ = Plan{};
  for (const auto& [index, inputs] : redo) {
    items_[index] = 0;
    SYNCSTACK_RETURN_IF_ERROR(Follow(index, ChooseMode(inputs)));
  }
  SYNCSTACK_RETURN_IF_ERROR(ProveAbsences());
  for (auto& c : plan_.conflicts) report_.conflicts.push_back(std::move(c));
  // The plan's conflict indexes now point past the report's first ones.
  const int32_t shift =
      static_cast<int32_t>(report_.conflicts.size() - plan_.conflicts.size());
  for (PlanOp& op : plan_.ops) {
    if (op.conflict >= 0) op.conflict += shift;
  }
  plan_.conflicts.clear();
  AddCases(report_.cases, plan_.cases);
  std::stable_partition(
      plan_.ops.begin(), plan_.ops.end(),
      [](const PlanOp& op) { return IsLocalOnly(op.action); });
  SYNCSTACK_RETURN_IF_ERROR(ExchangePhase());
  // The figure was wrong (or the rows were): count it again, once.
  for (const auto& [index, inputs] : redo) {
    SYNCSTACK_RETURN_IF_ERROR(RebuildFigure(index));
  }
  NoteReportMode();
  return Status::Ok();
}

Result<SyncReport> SyncRun::Go() {
  auto report = Steps();
  if (!report.ok() && report.status().code() == Status::Code::kUnauthorized &&
      !options_.server.empty()) {
    // The server refused the token mid-run (expired, revoked): the next run
    // logs in with the password.
    (void)DropKeptLogin(store_, options_.write);
  }
  return report;
}

Result<SyncReport> SyncRun::Steps() {
  auto start = SteadyClock::now();
  Progress(SyncProgress::Phase::kLock, 0, 1);
  SYNCSTACK_RETURN_IF_ERROR(LogIn());
  Unlocker unlocker;
  SYNCSTACK_RETURN_IF_ERROR(TakeLock(unlocker));
  Progress(SyncProgress::Phase::kLock, 1, 1);
  report_.lock_time = Since(start);
  // After login: the policy is the one planned with.
  SYNCSTACK_RETURN_IF_ERROR(StampCaptured());

  SYNCSTACK_RETURN_IF_ERROR(PlanPhase());
  SYNCSTACK_RETURN_IF_ERROR(ExchangePhase());
  auto verify = SteadyClock::now();
  SYNCSTACK_RETURN_IF_ERROR(VerifyPhase());
  auto finish = SteadyClock::now();
  report_.verify_time = Since(verify);
  SYNCSTACK_RETURN_IF_ERROR(RecordCompletion());

  // Release now (an error here is harmless: the lease expires by itself).
  if (unlocker.remote != nullptr) {
    unlocker.remote = nullptr;
    (void)remote_.Unlock();
  }
  report_.finish_time = Since(finish);
  report_.traffic = remote_.traffic();
  report_.total_time = Since(start);
  Progress(SyncProgress::Phase::kDone, 1, 1);
  return std::move(report_);
}

}  // namespace syncstack::engine
