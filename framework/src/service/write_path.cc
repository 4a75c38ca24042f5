// The write path: synchronise.json. A request is validated whole, every
// write is decided by the conflict policy against the stored record (or an
// earlier write of the same request), and everything it changes — rows,
// the write sequence, each collection's count and fingerprint, the conflict
// journal, its idempotency key — commits
// in one store transaction under the lease's fence.
#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>
#include <unordered_set>

#include "history.h"
#include "service/collection_figure.h"
#include "service/journal.h"
#include "service/service_impl.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/tombstones.h"

namespace syncstack {
namespace service {
namespace {

template <class T>
using ByCollection = std::map<std::string, T, std::less<>>;

// The rows a request touches as the store held them before it.
using StoredRows = ByCollection<std::map<RecordId, Record>>;

// What an attempt's decisions report to the client, per collection and id.
struct Decisions {
  ByCollection<std::map<RecordId, Kept>> conflicts;
  ByCollection<std::map<RecordId, Version>> stamps;
};

DeleteVersions DeleteVersionsOf(const SyncRequest& request) {
  DeleteVersions out;
  for (const auto& c : request.delete_versions) {
    for (const auto& st : c.stamps) {
      out[{c.collection, st.id}] = Version{st.last_update, st.version};
    }
  }
  return out;
}

// Reads every record `request` touches, per collection, once: into
// `state` (which the decisions then change) and `before` (kept as read).
Status ReadTouched(Store& store, const SyncRequest& request,
                   PendingWrites& state, StoredRows& before) {
  auto note = [&](const std::string& c, const RecordId& id) {
    state[c].try_emplace(id);
  };
  for (const auto* list : {&request.add, &request.update}) {
    for (const auto& c : *list) {
      for (const auto& r : c.records) note(c.collection, r.id);
    }
  }
  for (const auto& c : request.del) {
    for (const auto& id : c.ids) note(c.collection, id);
  }
  std::vector<RecordId> ids;
  for (auto& [collection, rows] : state) {
    ids.clear();
    for (auto& [id, p] : rows) ids.push_back(id);
    SYNCSTACK_RETURN_IF_ERROR(store.Get(collection, ids, [&](const Record& r) {
      rows[r.id].row = r;
      before[collection].emplace(r.id, r);
    }));
  }
  return Status::Ok();
}

// A write that changes nothing and reports nothing.
bool IsNoOp(const Record* cur, bool deleted, const WireRecord* incoming,
            const Version* sent) {
  // Deleting what is not there changes nothing, unless the delete carries
  // its version and the record is a tombstone: a later delete must move
  // the tombstone's version, or an edit made between the two deletes
  // would win over the later one (found by tests/faults).
  if (deleted) return cur == nullptr || (cur->deleted && sent == nullptr);
  // A write without a timestamp that changes nothing is a no-op, so a
  // seed client's retried request applies once.
  return cur != nullptr && !cur->deleted && sent == nullptr &&
         cur->payload == incoming->payload;
}

// The row `resolution` stores (nullopt: none) and, in `kept`, the
// conflict it reports (nullopt: none).
std::optional<Record> ResolvedRow(Resolution& resolution, const Record* cur,
                                  const Version& stamped, bool deleted,
                                  std::string_view payload,
                                  std::optional<Kept>& kept) {
  using Outcome = Resolution::Outcome;
  std::optional<Record> row;
  switch (resolution.outcome) {
    case Outcome::kSame:
      break;
    case Outcome::kKeepServer:
      kept = Kept::kServer;
      if (resolution.has_version && resolution.version != cur->version) {
        row = *cur;  // the server's write, under a new version
        row->version = std::move(resolution.version);
      }
      break;
    case Outcome::kTakeClient:
      if (resolution.conflict) kept = Kept::kClient;
      row.emplace();
      row->deleted = deleted;
      row->version =
          resolution.has_version ? std::move(resolution.version) : stamped;
      if (!deleted) row->payload = std::string(payload);
      break;
    case Outcome::kMerged:
      kept = Kept::kMerged;
      row.emplace();
      row->version = std::move(resolution.version);
      row->payload = std::move(resolution.payload);
      break;
  }
  return row;
}

JournalSide SideOf(const Version& version, bool deleted,
                   std::string_view payload) {
  JournalSide side;
  side.version = version;
  side.deleted = deleted;
  if (!deleted) side.payload = std::string(payload);
  return side;
}

// Takes `row` as the record's new state in this request.
void TakeRow(Record row, const Record* cur, std::string_view collection,
             const RecordId& id, WriteContext& ctx, Pending& p) {
  ++ctx.sequence;
  // Server rows keep the sequence of the write that made them in `base`
  // (unused on the server otherwise), so that tombstone collection knows
  // which devices have seen a delete.
  row.base = static_cast<Timestamp>(ctx.sequence);
  // The manifest shows only last_update, so a stored change must move it:
  // a write that won a tie (or a merge) goes after what it replaces.
  if (cur != nullptr && row.version.timestamp <= cur->version.timestamp) {
    row.version.timestamp = cur->version.timestamp + 1;
  }
  row.collection = std::string(collection);
  row.id = id;
  p.row = std::move(row);
  p.touched = true;
}

// `sent`, or its copy in `storage` restamped with the server's clock when
// it is stamped later than ctx.latest (a device clock far ahead), so that a
// wrong clock cannot win by it. The new stamp is when the write was made on
// the server's clock (the stamp less the device's estimated clock offset)
// if that is known and not in the future, else now. Counts restamps in ctx.
const Version* WithinClockBound(const Version* sent, WriteContext& ctx,
                                Version& storage) {
  if (sent == nullptr || sent->timestamp == kNoTimestamp ||
      ctx.latest == kNoTimestamp || sent->timestamp <= ctx.latest) {
    return sent;
  }
  ++ctx.restamped;
  ctx.latest_restamped = std::max(ctx.latest_restamped, sent->timestamp);
  storage = *sent;
  storage.timestamp = ctx.now;
  if (ctx.clock_offset != kNoTimestamp && ctx.clock_offset > 0) {
    const Timestamp made = sent->timestamp - ctx.clock_offset;
    if (made >= 0 && made < ctx.now) storage.timestamp = made;
  }
  return &storage;
}

// Decides one incoming write against the record's current state (the
// store's, or an earlier write of this request). `sent` is the version the
// client sent (nullptr: none). Returns the conflict outcome when the write
// is to be reported: the policy kept the server's version, merged, or took
// the client's write but flagged a real conflict. Every reported conflict
// is added to ctx.journal.
std::optional<Kept> Decide(const ConflictPolicy& policy, Pending& p,
                           const RecordId& id, std::string_view collection,
                           bool deleted, const WireRecord* incoming,
                           const Version* sent, WriteContext& ctx) {
  const Record* cur = p.row ? &*p.row : nullptr;
  if (IsNoOp(cur, deleted, incoming, sent)) return std::nullopt;
  Version restamped;
  sent = WithinClockBound(sent, ctx, restamped);
  std::string_view payload =
      incoming != nullptr ? std::string_view(incoming->payload) : "";
  IncomingWrite write;
  write.proposed = sent;
  write.current = cur ? &cur->version : nullptr;
  write.server_now = ctx.now;
  write.sequence = ctx.sequence + 1;
  write.device = ctx.device;
  write.deleted = deleted;
  write.payload = payload;
  write.latest = ctx.latest;
  Version stamped = policy.StampIncoming(write);
  Resolution resolution;
  if (cur == nullptr) {
    resolution.outcome = Resolution::Outcome::kTakeClient;
  } else {
    resolution =
        policy.Resolve(WriteView{cur->version, cur->deleted, cur->payload},
                       WriteView{stamped, deleted, payload, sent});
  }
  if (resolution.outcome == Resolution::Outcome::kSame) return std::nullopt;
  std::optional<Kept> kept;
  std::optional<Record> row =
      ResolvedRow(resolution, cur, stamped, deleted, payload, kept);
  if (kept && ctx.journal != nullptr) {
    ConflictJournalEntry entry{
        ctx.now,
        std::string(policy.name()),
        std::string(collection),
        id,
        std::string(ctx.device),
        ctx.clock_offset,
        *kept,
        SideOf(cur->version, cur->deleted, cur->payload),
        SideOf(sent != nullptr ? *sent : stamped, deleted, payload)};
    ctx.journal->push_back(std::move(entry));
  }
  if (row) TakeRow(std::move(*row), cur, collection, id, ctx, p);
  return kept;
}

// The latest device stamp taken as sent at `now`; kNoTimestamp: no bound.
Timestamp LatestDeviceStamp(Timestamp now, std::chrono::milliseconds bound) {
  if (bound < std::chrono::milliseconds::zero() ||
      bound.count() >= std::numeric_limits<Timestamp>::max() - now) {
    return kNoTimestamp;
  }
  return now + bound.count();
}

// Decides every write of `request` in request order: add, update, delete.
Decisions DecideAll(const ConflictPolicy& policy, const SyncRequest& request,
                    const DeleteVersions& delete_versions, PendingWrites& state,
                    WriteContext& ctx) {
  Decisions d;
  for (const auto* list : {&request.add, &request.update}) {
    for (const auto& c : *list) {
      for (const auto& r : c.records) {
        Pending& p = state[c.collection][r.id];
        Version sent{r.last_update, r.version};
        bool has_sent = r.last_update != kNoTimestamp || !r.version.empty();
        auto kept = Decide(policy, p, r.id, c.collection, false, &r,
                           has_sent ? &sent : nullptr, ctx);
        // The last write of an id in this request decides its note.
        d.conflicts[c.collection].erase(r.id);
        d.stamps[c.collection].erase(r.id);
        if (kept) d.conflicts[c.collection][r.id] = *kept;
        if (kept != Kept::kServer && p.row && !p.row->deleted) {
          d.stamps[c.collection][r.id] = p.row->version;
        }
      }
    }
  }
  for (const auto& c : request.del) {
    for (const auto& id : c.ids) {
      Pending& p = state[c.collection][id];
      auto v = delete_versions.find({c.collection, id});
      auto kept =
          Decide(policy, p, id, c.collection, true, nullptr,
                 v != delete_versions.end() ? &v->second : nullptr, ctx);
      if (kept) d.conflicts[c.collection][id] = *kept;
      d.stamps[c.collection].erase(id);
    }
  }
  return d;
}

// The answer's stamps and conflicts (its get comes after the commit).
void FillAnswer(const Decisions& d, bool want_versions,
                SyncResponse& response) {
  for (const auto& [collection, list] : d.stamps) {
    if (list.empty()) continue;
    CollectionStamps out;
    out.collection = collection;
    for (const auto& [id, v] : list) {
      out.stamps.push_back(
          Stamp{id, v.timestamp, want_versions ? v.extra : std::string()});
    }
    response.stamps.push_back(std::move(out));
  }
  for (const auto& [collection, notes] : d.conflicts) {
    if (notes.empty()) continue;
    CollectionConflicts out;
    out.collection = collection;
    for (const auto& [id, kept] : notes) {
      out.conflicts.push_back(ConflictNote{id, kept});
    }
    response.conflicts.push_back(std::move(out));
  }
}

// A put for every row the decisions changed, expecting the row as read.
ChangeBatch BatchFor(const PendingWrites& state, const StoredRows& before) {
  ChangeBatch batch;
  for (const auto& [collection, rows] : state) {
    for (const auto& [id, p] : rows) {
      if (!p.touched) continue;
      auto b = before.find(collection);
      const Record* old = nullptr;
      if (b != before.end()) {
        auto r = b->second.find(id);
        if (r != b->second.end()) old = &r->second;
      }
      batch.Put(*p.row, ExpectRow(old));
    }
  }
  return batch;
}

// The ids whose records go in an answer's get: those `request` asks for
// plus, for every write the policy did not take as sent, the server's
// version, each once, per collection in the order asked.
ByCollection<std::vector<RecordId>> WantedIds(const SyncRequest& request,
                                              const SyncResponse& response) {
  ByCollection<std::vector<RecordId>> wanted;
  ByCollection<std::unordered_set<RecordId, RecordIdHash>> seen;
  auto want = [&](const std::string& collection, const RecordId& id) {
    if (seen[collection].insert(id).second) wanted[collection].push_back(id);
  };
  for (const auto& c : request.get) {
    for (const auto& id : c.ids) want(c.collection, id);
  }
  for (const auto& c : response.conflicts) {
    for (const auto& note : c.conflicts) want(c.collection, note.id);
  }
  return wanted;
}

// Fills response.get with the records WantedIds names, deleted ones left
// out (with `want_tombstones`, their tombstones go to response.tombstones).
// The records' payload stops at `byte_budget`: once it is reached (an
// answer always holds at least one record), the ids not answered go to
// response.get_left, for the client to ask again (docs/protocol.md).
Status AnswerGets(Store& store, const SyncRequest& request,
                  SyncResponse& response, size_t byte_budget) {
  const bool versions = request.want_versions;
  response.get.clear();
  response.tombstones.clear();
  response.get_left.clear();
  size_t bytes = 0;
  bool full = false;
  for (auto& [collection, ids] : WantedIds(request, response)) {
    CollectionRecords out{.collection = collection, .records = {}};
    CollectionStamps gone{.collection = collection, .stamps = {}};
    CollectionIds left{.collection = collection, .ids = {}};
    SYNCSTACK_RETURN_IF_ERROR(store.Get(collection, ids, [&](const Record& r) {
      const std::string extra = versions ? r.version.extra : std::string();
      if (r.deleted) {
        if (request.want_tombstones) {
          gone.stamps.push_back(Stamp{r.id, r.version.timestamp, extra});
        }
      } else if (full) {
        left.ids.push_back(r.id);
      } else {
        out.records.push_back(
            WireRecord{r.id, r.version.timestamp, r.payload, extra});
        bytes += r.payload.size() + extra.size();
        full = bytes >= byte_budget;
      }
    }));
    if (!out.records.empty()) response.get.push_back(std::move(out));
    if (!gone.stamps.empty()) response.tombstones.push_back(std::move(gone));
    if (!left.ids.empty()) response.get_left.push_back(std::move(left));
  }
  return Status::Ok();
}

// The answer to a repeat of an applied request: the first answer's stamps
// and conflicts (`stored`) with a fresh get.
Result<SyncResponse> RepeatedAnswer(Store& store, const SyncRequest& request,
                                    std::string_view stored,
                                    const Schema& schema, size_t byte_budget) {
  auto first = DecodeSyncResponse(stored, schema);
  if (!first.ok()) return first.status().WithContext("stored answer");
  SYNCSTACK_RETURN_IF_ERROR(AnswerGets(store, request, *first, byte_budget));
  return std::move(*first);
}

}  // namespace
}  // namespace service

Result<SyncResponse> SyncService::Impl::Synchronise(
    std::string_view account, const SyncRequest& request,
    std::string_view lease, std::string_view idempotency_key) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, StoreFor(account));
  // One writer per account in this process; the Expect on every write
  // catches writers in other processes (then the whole request is redone).
  auto account_mutex = MutexFor(account);
  std::lock_guard<std::mutex> guard(*account_mutex);

  service::WriteCall call{.account = account,
                          .request = request,
                          .lease = lease,
                          .idempotency_key = idempotency_key};
  // A repeat of a request already applied: answer as the first time (its
  // stamps and conflicts, recorded with its writes), apply nothing. A
  // different request under the same key is refused.
  if (!idempotency_key.empty()) {
    call.request_hash = service::RequestHash(request, schema);
    SYNCSTACK_ASSIGN_OR_RETURN(
        call.slot, service::FindIdempotencyKey(*store, idempotency_key));
    SYNCSTACK_RETURN_IF_ERROR(service::CheckSameRequest(
        call.slot, idempotency_key, call.request_hash));
    if (call.slot.answer) {
      return service::RepeatedAnswer(*store, request, *call.slot.answer, schema,
                                     options.max_body);
    }
  }
  // The device behind this request (the lease holder) and its clock.
  if (!lease.empty()) {
    auto holder = lock.Check(account, lease);
    if (!holder.ok()) return holder.status();
    call.device = holder->device;
  }
  call.clock_offset = ClockOffset(std::string(account), call.device);
  call.delete_versions = service::DeleteVersionsOf(request);
  for (int attempt = 0;; ++attempt) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<SyncResponse> answer,
                               WriteOnce(*store, call, attempt < 5));
    if (answer) return std::move(*answer);
  }
}

Result<std::optional<SyncResponse>> SyncService::Impl::WriteOnce(
    Store& store, const service::WriteCall& call, bool may_retry) {
  service::PendingWrites state;
  service::StoredRows before;
  SYNCSTACK_RETURN_IF_ERROR(
      service::ReadTouched(store, call.request, state, before));
  SYNCSTACK_RETURN_IF_ERROR(CheckHorizon(store, call.device));

  std::vector<ConflictJournalEntry> journal;
  service::WriteContext ctx;
  ctx.now = clock.Now();
  ctx.device = call.device;
  ctx.clock_offset = call.clock_offset;
  ctx.journal = &journal;
  ctx.latest = service::LatestDeviceStamp(ctx.now, options.max_clock_ahead);
  SYNCSTACK_ASSIGN_OR_RETURN(ctx.sequence, AccountSequence(store));
  const uint64_t first_sequence = ctx.sequence;
  const service::Decisions decisions = service::DecideAll(
      policy, call.request, call.delete_versions, state, ctx);
  SyncResponse response;
  service::FillAnswer(decisions, call.request.want_versions, response);

  ChangeBatch batch = service::BatchFor(state, before);
  if (ctx.sequence != first_sequence) {
    batch.SetMeta(std::string(meta::kSequence), std::to_string(ctx.sequence));
    // The new sequence's history token, with the writes (a restored backup
    // brings back the tokens it had, not these).
    history::Record(batch, ctx.sequence, history::NewToken());
    // Each written collection's count and fingerprint, with the writes.
    SYNCSTACK_RETURN_IF_ERROR(
        service::UpdateFigures(store, state, before, batch));
  }
  if (!journal.empty()) {
    // The conflict journal, in the resolution's own transaction.
    SYNCSTACK_RETURN_IF_ERROR(service::AppendToJournal(
        store, journal, options.journal_retention, batch));
    LogConflicts(call, decisions.conflicts);
  }
  if (!call.idempotency_key.empty() && !batch.empty()) {
    service::RecordIdempotencyKey(call.slot, call.idempotency_key,
                                  call.request_hash, response, schema, batch);
  }
  if (!call.lease.empty()) SYNCSTACK_RETURN_IF_ERROR(Fence(call, batch));
  if (!batch.empty()) {
    const auto apply_start = std::chrono::steady_clock::now();
    Status s = store.Apply(WriteOptions{}, batch);
    observer.OnStoreApply(std::chrono::steady_clock::now() - apply_start);
    if (s.code() == Status::Code::kConflict && may_retry) {
      return std::optional<SyncResponse>();
    }
    SYNCSTACK_RETURN_IF_ERROR(s);
    item_caches.Wrote(call.account, state, first_sequence, ctx.sequence);
    ObserveWrites(state, before, decisions.conflicts);
  }
  if (ctx.restamped > 0) {
    Log("restamped " + std::to_string(ctx.restamped) + " write(s) to " +
        std::string(call.account) + " from \"" + call.device +
        "\": stamped up to " +
        std::to_string((ctx.latest_restamped - ctx.now) / 1000) +
        " s ahead of the server's clock (max_clock_ahead " +
        std::to_string(options.max_clock_ahead.count() / 1000) + " s)");
  }
  // The answer's get is read after the writes.
  SYNCSTACK_RETURN_IF_ERROR(
      service::AnswerGets(store, call.request, response, options.max_body));
  return std::optional<SyncResponse>(std::move(response));
}

Status SyncService::Impl::Fence(const service::WriteCall& call,
                                ChangeBatch& batch) {
  // The lease must be live when the write commits. Another device granted
  // the lock now cannot write before this one is done (it needs this
  // account's write lock, held here). A lock shared by several processes
  // also has the store re-check the lease inside the write's transaction
  // (SyncLock::Fence).
  auto live = lock.Check(call.account, call.lease);
  if (!live.ok()) return live.status();
  lock.Fence(*live, batch);
  return Status::Ok();
}

void SyncService::Impl::ObserveWrites(
    const service::PendingWrites& state, const service::StoredRows& before,
    const std::map<std::string, std::map<RecordId, Kept>, std::less<>>&
        conflicts) noexcept {
  uint64_t counts[3] = {0, 0, 0};  // by WriteKind
  for (const auto& [collection, rows] : state) {
    auto stored = before.find(collection);
    for (const auto& [id, p] : rows) {
      if (!p.touched || !p.row) continue;
      const Record* old = nullptr;
      if (stored != before.end()) {
        auto r = stored->second.find(id);
        if (r != stored->second.end()) old = &r->second;
      }
      const bool was_live = old != nullptr && !old->deleted;
      WriteKind kind = p.row->deleted ? WriteKind::kDelete
                       : was_live     ? WriteKind::kUpdate
                                      : WriteKind::kAdd;
      ++counts[static_cast<int>(kind)];
    }
  }
  for (WriteKind kind :
       {WriteKind::kAdd, WriteKind::kUpdate, WriteKind::kDelete}) {
    uint64_t n = counts[static_cast<int>(kind)];
    if (n > 0) observer.OnRecordsWritten(kind, n);
  }
  uint64_t resolved = 0;
  for (const auto& [collection, notes] : conflicts) resolved += notes.size();
  if (resolved > 0) observer.OnConflicts(policy.name(), resolved);
}

void SyncService::Impl::LogConflicts(
    const service::WriteCall& call,
    const std::map<std::string, std::map<RecordId, Kept>, std::less<>>&
        conflicts) {
  for (const auto& [collection, notes] : conflicts) {
    for (const auto& [id, kept] : notes) {
      Log("conflict on " + std::string(call.account) + ":" + collection + "/" +
          id.ToString() + " from \"" + call.device + "\": kept " +
          std::string(KeptName(kept)));
    }
  }
}

}  // namespace syncstack
