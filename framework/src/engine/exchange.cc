// Exchange and apply: the plan's operations go to the server in bounded
// synchronise calls, and each answer is applied in one local transaction
// that carries the data and its sync state together. Deletes by absence
// and dropped tombstones need no call (ApplyLocalOnly).
#include <map>
#include <set>

#include "engine/figures.h"
#include "engine/run.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::engine {

struct SyncRun::Outgoing {
  SyncRequest request;
  // Where each collection's list sits in the request's lists.
  std::map<uint32_t, size_t> add_at, update_at, del_at, get_at, delv_at;
  std::map<RowKey, Record> pushed;  // the rows as sent
  std::map<RowKey, const PlanOp*> sent;
  size_t bytes = 0;  // payload bytes so far
};

struct SyncRun::Answer {
  std::map<RowKey, const WireRecord*> got;
  std::set<RowKey> deleted;  // the server showed its tombstone
  std::map<RowKey, const Stamp*> stamped;
  std::map<RowKey, Kept> conflicts;
};

namespace {

// A local delete the server acknowledged, as the device keeps it.
Record AcknowledgedDelete(const Record& row) {
  Record tombstone = row;
  tombstone.state = SyncState::kSynced;
  tombstone.deleted = true;
  tombstone.payload.clear();
  return tombstone;
}

// The list of `lists` for collection `c`, added on first use.
template <typename Lists>
auto& ListFor(Lists& lists, std::map<uint32_t, size_t>& at, uint32_t c,
              const std::vector<std::string>& names) {
  auto [pos, inserted] = at.try_emplace(c, lists.size());
  if (inserted) lists.emplace_back().collection = names[c];
  return lists[pos->second];
}

// The server's record as a synced local row.
Record ServerRecord(const std::string& collection, const WireRecord& w) {
  Record r;
  r.collection = collection;
  r.id = w.id;
  r.version = Version{w.last_update, w.version};
  r.base = w.last_update;
  r.state = SyncState::kSynced;
  r.payload = w.payload;
  return r;
}

}  // namespace

Status SyncRun::ReadRows(const std::vector<const PlanOp*>& ops, RowMap& rows) {
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

void SyncRun::NoteSkipped(const PlanOp& op) {
  report_.skipped_local_edits++;
  skipped_in_.insert(op.collection);
}

Status SyncRun::ApplyLocalOnly(size_t begin, size_t end) {
  std::vector<const PlanOp*> ops;
  for (size_t i = begin; i < end; ++i) ops.push_back(&plan_.ops[i]);
  RowMap rows;
  ChangeBatch batch;
  for (int attempt = 0;; ++attempt) {
    SYNCSTACK_RETURN_IF_ERROR(ReadRows(ops, rows));
    batch.Clear();
    for (const PlanOp* op : ops) {
      const Record* row = Row(rows, *op);
      if (!Unchanged(row, *op)) {
        NoteSkipped(*op);
        continue;
      }
      batch.Erase(names_[op->collection], op->id, ExpectRow(row));
    }
    if (batch.empty()) return Status::Ok();
    PendingFigures figures;
    SYNCSTACK_RETURN_IF_ERROR(TrackFigures(batch, &rows, figures));
    Status s = store_.Apply(options_.write, batch);
    if (s.ok()) CommitFigures(figures);
    if (s.code() != Status::Code::kConflict || attempt >= 5) return s;
  }
}

void SyncRun::AddToRequest(const PlanOp& op, const Record* row, Outgoing& out) {
  auto key = std::make_pair(op.collection, op.id);
  SyncRequest& request = out.request;
  out.sent[key] = &op;
  switch (op.action) {
    case Action::kGetNew:
    case Action::kPull:
      ListFor(request.get, out.get_at, op.collection, names_)
          .ids.push_back(op.id);
      break;
    case Action::kPushDelete:
      ListFor(request.del, out.del_at, op.collection, names_)
          .ids.push_back(op.id);
      // The delete's own version, so that the server orders it by when it
      // was made, not by when it arrived (last-write-wins needs the
      // timestamp as much as version vectors need their counters).
      if (!row->version.extra.empty() ||
          row->version.timestamp != kNoTimestamp) {
        ListFor(request.delete_versions, out.delv_at, op.collection, names_)
            .stamps.push_back(
                Stamp{op.id, row->version.timestamp, row->version.extra});
      }
      out.pushed[key] = *row;
      break;
    case Action::kPushAdd:
    case Action::kPushUpdate: {
      auto& list =
          op.action == Action::kPushAdd
              ? ListFor(request.add, out.add_at, op.collection, names_)
              : ListFor(request.update, out.update_at, op.collection, names_);
      list.records.push_back(WireRecord{op.id, row->version.timestamp,
                                        row->payload, row->version.extra});
      out.bytes += row->payload.size();
      out.pushed[key] = *row;
      break;
    }
    case Action::kDeleteHere:
    case Action::kDropTombstone:
      break;
  }
}

void SyncRun::BuildRequest(const std::vector<const PlanOp*>& ops,
                           const RowMap& rows, size_t begin, Outgoing& out,
                           size_t& next) {
  out.request.want_versions = true;
  out.request.want_tombstones = true;  // a get missing from the answer is kept
  next = begin;
  for (const PlanOp* op : ops) {
    const Record* row = Row(rows, *op);
    bool carries_payload =
        op->action == Action::kPushAdd || op->action == Action::kPushUpdate;
    if (out.bytes > 0 && carries_payload && row != nullptr &&
        out.bytes + row->payload.size() > options_.batch_bytes) {
      break;  // the rest goes in the next call
    }
    ++next;
    if (!Unchanged(row, *op)) {
      NoteSkipped(*op);
      continue;
    }
    AddToRequest(*op, row, out);
  }
}

SyncRun::Answer SyncRun::IndexAnswer(const SyncResponse& response) const {
  Answer answer;
  for (const auto& c : response.get) {
    auto i = name_index_.find(c.collection);
    if (i == name_index_.end()) continue;
    for (const auto& r : c.records) answer.got[{i->second, r.id}] = &r;
  }
  for (const auto& c : response.stamps) {
    auto i = name_index_.find(c.collection);
    if (i == name_index_.end()) continue;
    for (const auto& s : c.stamps) answer.stamped[{i->second, s.id}] = &s;
  }
  for (const auto& c : response.tombstones) {
    auto i = name_index_.find(c.collection);
    if (i == name_index_.end()) continue;
    for (const auto& s : c.stamps) answer.deleted.insert({i->second, s.id});
  }
  for (const auto& c : response.conflicts) {
    auto i = name_index_.find(c.collection);
    if (i == name_index_.end()) continue;
    for (const auto& n : c.conflicts) {
      answer.conflicts[{i->second, n.id}] = n.kept;
    }
  }
  return answer;
}

bool SyncRun::ApplyOne(const PlanOp& op, const Record* row, const Outgoing& out,
                       const Answer& answer, ChangeBatch& batch) {
  auto key = std::make_pair(op.collection, op.id);
  const std::string& collection = names_[op.collection];
  auto g = answer.got.find(key);
  auto k = answer.conflicts.find(key);
  auto p = out.pushed.find(key);
  if (p == out.pushed.end()) {  // a get
    if (!Unchanged(row, op)) return false;
    if (g != answer.got.end()) {
      batch.Put(ServerRecord(collection, *g->second), ExpectRow(row));
    } else if (row != nullptr && op.state == SyncState::kSynced &&
               answer.deleted.contains(key)) {
      // Deleted on the server since the manifest was made (proven by its
      // tombstone: a record merely missing from the answer is kept).
      batch.Erase(collection, op.id, ExpectRow(row));
    }
    return true;
  }
  const Record& as_sent = p->second;
  bool untouched = row != nullptr && row->state == as_sent.state &&
                   row->deleted == as_sent.deleted &&
                   row->version.timestamp == as_sent.version.timestamp &&
                   row->payload == as_sent.payload;
  if (k != answer.conflicts.end() && k->second != Kept::kClient) {
    // The server kept (or merged into) its own version.
    if (op.conflict >= 0) report_.conflicts[op.conflict].kept = k->second;
    if (!untouched) return false;  // a newer local edit stays dirty
    if (g != answer.got.end()) {
      batch.Put(ServerRecord(collection, *g->second), ExpectRow(row));
    } else if (answer.deleted.contains(key)) {
      batch.Erase(collection, op.id, ExpectRow(row));  // server: deleted
    } else {
      return false;  // the server's version did not come: stays dirty
    }
    return true;
  }
  if (op.conflict >= 0) report_.conflicts[op.conflict].kept = Kept::kClient;
  if (op.action == Action::kPushDelete) {
    // The tombstone stays, synced, so that a delete the server loses (a
    // restore from a backup) can be pushed again; applications never see it.
    if (untouched) batch.Put(AcknowledgedDelete(*row), ExpectRow(row));
    return true;
  }
  auto s = answer.stamped.find(key);
  if (s == answer.stamped.end()) return true;  // not acknowledged: dirty
  if (row == nullptr) return true;             // removed here meanwhile
  Record updated = *row;
  updated.base = s->second->last_update;
  if (untouched) {
    updated.state = SyncState::kSynced;
    updated.version = Version{s->second->last_update, s->second->version};
  } else {
    if (updated.state == SyncState::kCreated) {
      updated.state = SyncState::kChanged;  // the server has it now
    }
    // Edited here on top of the version just acknowledged: its extra
    // bytes are kept beside the row (figures.h).
    batch.SetMeta(meta::AcknowledgedExtra(collection, op.id.ToString()),
                  EncodeAcknowledgedExtra(s->second->version));
    updated.version =
        Rebased(*row, as_sent, s->second->last_update, s->second->version);
  }
  batch.Put(std::move(updated), ExpectRow(row));
  return true;
}

Version SyncRun::Rebased(const Record& row, const Record& as_sent,
                         Timestamp last_update,
                         const std::string& version) const {
  // A policy that stamps an edit with its base, not with the device's
  // clock (server-clock: "b<seq>"), gives a write made on top of the pushed
  // one during the call the pushed write's version: it only differs in its
  // payload or deleted flag (which is how it is told apart and kept dirty).
  // Its base is now the server's stamp of the pushed write; left as it was,
  // the next push would name a stale base and lose to this device's own
  // acknowledged write. So it is stamped again on top of the stamp.
  if (row.version != as_sent.version) return row.version;
  const Version acknowledged{last_update, version};
  LocalWrite w;
  w.previous = &acknowledged;
  w.now = row.version.timestamp;
  w.deleted = row.deleted;
  w.payload = row.payload;
  w.previous_payload = as_sent.payload;
  return policy_->StampLocal(w);
}

Status SyncRun::ApplyAnswer(const Outgoing& out, const Answer& answer) {
  std::vector<const PlanOp*> sent_ops;
  for (const auto& [key, op] : out.sent) sent_ops.push_back(op);
  RowMap rows;
  ChangeBatch batch;
  for (int attempt = 0;; ++attempt) {
    SYNCSTACK_RETURN_IF_ERROR(ReadRows(sent_ops, rows));
    batch.Clear();
    std::vector<const PlanOp*> skipped;
    for (const PlanOp* op : sent_ops) {
      if (!ApplyOne(*op, Row(rows, *op), out, answer, batch)) {
        skipped.push_back(op);
      }
    }
    PendingFigures figures;
    SYNCSTACK_RETURN_IF_ERROR(TrackFigures(batch, &rows, figures));
    Status s =
        batch.empty() ? Status::Ok() : store_.Apply(options_.write, batch);
    if (s.ok()) {
      CommitFigures(figures);
      for (const PlanOp* op : skipped) NoteSkipped(*op);
      return Status::Ok();
    }
    if (s.code() != Status::Code::kConflict || attempt >= 5) return s;
  }
}

void SyncRun::NoteUnforeseen(const Outgoing& out, const Answer& answer) {
  // E.g. a write the policy ordered before the server's version.
  for (const auto& [key, kept] : answer.conflicts) {
    auto op = out.sent.find(key);
    if (op != out.sent.end() && op->second->conflict >= 0) continue;
    ConflictRecord c;
    c.collection = names_[key.first];
    c.id = key.second;
    c.what = "the server kept another version";
    c.kept = kept;
    report_.conflicts.push_back(std::move(c));
  }
}

Status SyncRun::AskForTheRest(SyncResponse& response) {
  while (!response.get_left.empty()) {
    SyncRequest request;
    request.get = std::move(response.get_left);
    request.want_versions = true;
    request.want_tombstones = true;
    SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
    auto start = SteadyClock::now();
    auto more = remote_.Synchronise(request, schema_);
    network_ += Since(start);
    if (!more.ok()) {
      return more.status().WithContext("asking for the rest of an answer");
    }
    report_.synchronise_calls++;
    if (more->get.empty() && !more->get_left.empty()) {
      return Status::Corruption(
          "the server left every record of an answer out (_get_left)");
    }
    for (auto& c : more->get) response.get.push_back(std::move(c));
    for (auto& c : more->tombstones) {
      response.tombstones.push_back(std::move(c));
    }
    response.get_left = std::move(more->get_left);
  }
  return Status::Ok();
}

Status SyncRun::Exchange(size_t begin, size_t end, size_t& next) {
  std::vector<const PlanOp*> ops;
  for (size_t i = begin; i < end; ++i) ops.push_back(&plan_.ops[i]);
  // An app write captured since the plan is stamped before it is read to
  // be pushed: it goes with its policy's version, or is skipped as changed
  // meanwhile. (Not before applying an answer: a write captured during the
  // call keeps its provisional stamp, so it reads as changed and stays
  // dirty for the next run.)
  SYNCSTACK_RETURN_IF_ERROR(StampCaptured());
  RowMap rows;
  SYNCSTACK_RETURN_IF_ERROR(ReadRows(ops, rows));
  Outgoing out;
  BuildRequest(ops, rows, begin, out, next);
  if (out.sent.empty()) return Status::Ok();

  SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
  auto response = remote_.Synchronise(out.request, schema_);
  if (!response.ok()) return response.status();
  report_.synchronise_calls++;
  SYNCSTACK_RETURN_IF_ERROR(AskForTheRest(*response));
  const Answer answer = IndexAnswer(*response);
  SYNCSTACK_RETURN_IF_ERROR(ApplyAnswer(out, answer));
  NoteUnforeseen(out, answer);
  // A write stamped back in time: the server restamped it (this device's
  // clock was ahead of its bound, SyncServiceOptions::max_clock_ahead).
  if (policy_->traits().server_stamps) return Status::Ok();
  for (const auto& [key, stamp] : answer.stamped) {
    auto p = out.pushed.find(key);
    if (p != out.pushed.end() &&
        stamp->last_update < p->second.version.timestamp) {
      report_.restamped++;
    }
  }
  return Status::Ok();
}

}  // namespace syncstack::engine
