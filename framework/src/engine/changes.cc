// The changes mode (SyncMode::kChanges): the server's feed of what was
// written after the device's checkpoint (GET /v1/changes) is applied page
// by page, the device's own unsynced rows come from Store::ScanUnsynced,
// and only where the two meet does the planner decide (the conflict
// policy). Nothing here iterates the whole collection; the figures
// (figures.h) check the result at O(1) afterwards (VerifyPhase).
#include <algorithm>
#include <map>

#include "engine/bookkeeping.h"
#include "engine/figures.h"
#include "engine/run.h"
#include "syncstack/metadata_keys.h"

namespace syncstack::engine {
namespace {

// The server's record as a synced local row.
Record FeedRecord(const std::string& collection, const WireRecord& w) {
  Record r;
  r.collection = collection;
  r.id = w.id;
  r.version = Version{w.last_update, w.version};
  r.base = w.last_update;
  r.state = SyncState::kSynced;
  r.payload = w.payload;
  return r;
}

// Keeps the last entry per id (a row rewritten while the page was read
// may come twice), in id order.
void LastPerId(std::vector<ChangeEntry>& entries) {
  std::stable_sort(entries.begin(), entries.end(),
                   [](const ChangeEntry& a, const ChangeEntry& b) {
                     return a.record.id < b.record.id;
                   });
  std::vector<ChangeEntry> kept;
  kept.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() &&
        entries[i + 1].record.id == entries[i].record.id) {
      continue;
    }
    kept.push_back(std::move(entries[i]));
  }
  entries = std::move(kept);
}

bool ById(const ManifestEntry& a, const ManifestEntry& b) {
  return a.id < b.id;
}

ManifestEntry EntryOf(const Record& r) {
  return ManifestEntry{r.id, r.version, r.deleted, r.state, r.base};
}

// meta::AcknowledgedExtra entries by key.
using EntriesSet = std::map<std::string, std::string, std::less<>>;

// The entries `batch`'s writer set itself (ApplyOne).
EntriesSet EntriesSetIn(const ChangeBatch& batch) {
  EntriesSet out;
  for (const auto& [key, value] : batch.meta()) {
    if (key.starts_with(meta::kAcknowledgedExtraPrefix)) out[key] = value;
  }
  return out;
}

// TrackChange for `op`, a write to collection `name` replacing `before`;
// adds the row's entry to `batch` when it changes. The entry is kept
// whether or not a figure is: ScanFigure reads it.
Result<AcknowledgedChange> TrackOp(Store& store, const std::string& name,
                                   const ChangeBatch::Op& op,
                                   const Record* before,
                                   const EntriesSet& set_here,
                                   ChangeBatch& batch) {
  const Record* after =
      op.kind == ChangeBatch::Op::Kind::kPut ? &op.record : nullptr;
  std::string key;
  const std::string* set = nullptr;
  if (!set_here.empty()) {
    key = meta::AcknowledgedExtra(name, op.record.id.ToString());
    auto it = set_here.find(key);
    if (it != set_here.end()) set = &it->second;
  }
  SYNCSTACK_ASSIGN_OR_RETURN(
      AcknowledgedChange change,
      TrackChange(store, name, op.record.id, before, after, set));
  if (change.entry) {
    if (key.empty())
      key = meta::AcknowledgedExtra(name, op.record.id.ToString());
    batch.SetMeta(std::move(key), std::move(*change.entry));
    change.entry.reset();
  }
  return change;
}

}  // namespace

Result<std::optional<ChangesPage>> SyncRun::FetchChanges(uint32_t index,
                                                         uint64_t after,
                                                         Pulled& out) {
  SYNCSTACK_RETURN_IF_ERROR(RenewLockIfDue());
  SYNCSTACK_ASSIGN_OR_RETURN(SyncMark mark, ReadSyncMark(store_));
  auto start = SteadyClock::now();
  auto page =
      remote_.Changes(names_[index], after, kChangesPageEntries, mark.history);
  network_ += Since(start);
  if (page.ok()) return std::optional<ChangesPage>(std::move(*page));
  const Status& s = page.status();
  if (s.code() == Status::Code::kGone) {
    out.refused = true;
    // The server's own words, without the client's "changes: " context.
    std::string_view message = s.message();
    if (message.starts_with("changes: ")) message.remove_prefix(9);
    out.refusal = std::string(message);
    return std::optional<ChangesPage>();
  }
  if (s.code() == Status::Code::kNotFound ||
      s.code() == Status::Code::kNotSupported) {
    out.unsupported = true;
    return std::optional<ChangesPage>();
  }
  return s;
}

Status SyncRun::ApplyFeed(uint32_t index, std::vector<ChangeEntry>& entries,
                          Pulled& out) {
  const std::string& name = names_[index];
  LastPerId(entries);
  std::vector<const ChangeEntry*> direct;
  std::vector<RecordId> ids;
  for (const ChangeEntry& e : entries) {
    highest_seen_ = std::max(highest_seen_, e.record.last_update);
    ManifestEntry probe;
    probe.id = e.record.id;
    if (std::binary_search(out.unsynced.begin(), out.unsynced.end(), probe,
                           ById)) {
      out.contested.push_back(e);
    } else {
      direct.push_back(&e);
      ids.push_back(e.record.id);
    }
  }
  if (direct.empty()) return Status::Ok();
  RowMap rows;
  ChangeBatch batch;
  for (int attempt = 0;; ++attempt) {
    rows.clear();
    SYNCSTACK_RETURN_IF_ERROR(store_.Get(name, ids, [&](const Record& r) {
      rows.emplace(std::make_pair(index, r.id), r);
    }));
    batch.Clear();
    CaseCounts cases;
    std::vector<const ChangeEntry*> now_unsynced;
    for (const ChangeEntry* e : direct) {
      auto it = rows.find({index, e->record.id});
      const Record* row = it == rows.end() ? nullptr : &it->second;
      if (row != nullptr && row->state != SyncState::kSynced) {
        now_unsynced.push_back(e);  // written here since ScanUnsynced
        continue;
      }
      if (e->deleted) {
        if (row != nullptr && !row->deleted) {
          batch.Erase(name, row->id, ExpectRow(row));
          cases.deleted_here++;
        }
        continue;
      }
      Record server = FeedRecord(name, e->record);
      if (row != nullptr && !row->deleted && row->base == server.base &&
          row->version == server.version) {
        cases.unchanged++;  // e.g. this device's own write coming back
        continue;
      }
      (row == nullptr ? cases.fetched_new : cases.pulled)++;
      batch.Put(std::move(server), ExpectRow(row));
    }
    PendingFigures figures;
    SYNCSTACK_RETURN_IF_ERROR(TrackFigures(batch, &rows, figures));
    Status s =
        batch.empty() ? Status::Ok() : store_.Apply(options_.write, batch);
    if (s.ok()) {
      CommitFigures(figures);
      AddCases(report_.cases, cases);
      for (const ChangeEntry* e : now_unsynced) {
        out.contested.push_back(*e);
        out.unsynced.push_back(EntryOf(rows.at({index, e->record.id})));
      }
      std::sort(out.unsynced.begin(), out.unsynced.end(), ById);
      return Status::Ok();
    }
    if (s.code() != Status::Code::kConflict || attempt >= 5) return s;
  }
}

Status SyncRun::ReadFeedTo(uint32_t index, uint64_t after, FeedPoint& point,
                           Pulled& pulled) {
  point.last = after;
  while (true) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<ChangesPage> page,
                               FetchChanges(index, point.last, pulled));
    if (!page) return Status::Ok();
    report_.changes_pulled += page->changes.size();
    SYNCSTACK_RETURN_IF_ERROR(ApplyFeed(index, page->changes, pulled));
    point.last = std::max(point.last, page->last);
    point.seq = page->seq;
    point.count = page->count;
    point.fingerprint = page->fingerprint;
    if (!page->more) return Status::Ok();
  }
}

Status SyncRun::PullChanges(uint32_t index, uint64_t after, Pulled& out) {
  const std::string& name = names_[index];
  SYNCSTACK_RETURN_IF_ERROR(EnsureFigure(index));
  SYNCSTACK_RETURN_IF_ERROR(store_.ScanUnsynced(
      name, [&](const Record& r) { out.unsynced.push_back(EntryOf(r)); }));
  FeedPoint point;
  SYNCSTACK_RETURN_IF_ERROR(ReadFeedTo(index, after, point, out));
  if (!out.refused && !out.unsupported) fed_[index] = point;
  return Status::Ok();
}

Status SyncRun::PlanChanges(uint32_t index, Pulled& pulled) {
  LastPerId(pulled.contested);
  std::vector<Stamp> remote;
  std::vector<RecordId> lacks;
  for (ChangeEntry& e : pulled.contested) {
    if (e.deleted) {
      lacks.push_back(e.record.id);
    } else {
      remote.push_back(Stamp{e.record.id, e.record.last_update,
                             std::move(e.record.version)});
    }
  }
  pulled.contested.clear();
  SYNCSTACK_ASSIGN_OR_RETURN(SetFingerprint * figure, Figure(index));
  const uint64_t acknowledged = figure != nullptr ? figure->count : 0;
  PlanInput input;
  input.collection = index;
  input.name = names_[index];
  input.policy = policy_;
  input.changes = true;
  input.lacks = lacks;
  input.restricted = LocalCounts{acknowledged, acknowledged};
  input.guard =
      DeleteGuard{options_.max_delete_share, options_.max_delete_floor,
                  options_.allow_mass_delete};
  ListedEntries entries(std::move(remote));
  EntryIterator local(pulled.unsynced);
  PlanTally tally;
  Status s = PlanCollection(input, local, entries, plan_, &tally);
  items_[index] += tally.items;
  synced_local_[index] += tally.synced_local;  // for CheckDeleteGuards
  return s;
}

// --- Figures
// ------------------------------------------------------------------

Result<SetFingerprint*> SyncRun::Figure(uint32_t index) {
  auto it = figures_.find(index);
  if (it == figures_.end()) {
    SYNCSTACK_ASSIGN_OR_RETURN(std::optional<SetFingerprint> kept,
                               ReadFigure(store_, names_[index]));
    it = figures_.emplace(index, kept).first;
  }
  return it->second ? &*it->second : nullptr;
}

Status SyncRun::EnsureFigure(uint32_t index) {
  SYNCSTACK_ASSIGN_OR_RETURN(SetFingerprint * figure, Figure(index));
  if (figure != nullptr) return Status::Ok();
  reasons_.push_back(names_[index] +
                     ": no fingerprint kept here yet: counted by one scan");
  return RebuildFigure(index);
}

Status SyncRun::RebuildFigure(uint32_t index) {
  SYNCSTACK_ASSIGN_OR_RETURN(SetFingerprint figure,
                             ScanFigure(store_, names_[index]));
  ChangeBatch batch;
  batch.SetMeta(meta::DeviceFingerprint(names_[index]), figure.Encode());
  SYNCSTACK_RETURN_IF_ERROR(store_.Apply(options_.write, batch));
  figures_[index] = figure;
  return Status::Ok();
}

Status SyncRun::TrackFigures(ChangeBatch& batch, const RowMap* rows,
                             PendingFigures& pending) {
  pending.clear();
  const EntriesSet set_here = EntriesSetIn(batch);
  for (const ChangeBatch::Op& op : batch.ops()) {
    auto named = name_index_.find(op.record.collection);
    if (named == name_index_.end()) continue;
    const uint32_t index = named->second;
    const Record* before = nullptr;
    if (rows != nullptr) {
      auto row = rows->find({index, op.record.id});
      if (row != rows->end()) before = &row->second;
    }
    SYNCSTACK_ASSIGN_OR_RETURN(
        AcknowledgedChange change,
        TrackOp(store_, names_[index], op, before, set_here, batch));
    auto slot = pending.find(index);
    if (slot == pending.end()) {
      SYNCSTACK_ASSIGN_OR_RETURN(SetFingerprint * kept, Figure(index));
      if (kept == nullptr) continue;  // none kept: nothing to update
      slot = pending.emplace(index, *kept).first;
    }
    if (!slot->second) continue;  // no longer exact
    if (change.exact) {
      Replace(*slot->second, op.record.id, change);
    } else {
      slot->second.reset();
    }
  }
  for (const auto& [index, figure] : pending) {
    batch.SetMeta(meta::DeviceFingerprint(names_[index]),
                  figure ? figure->Encode() : std::string());
  }
  return Status::Ok();
}

void SyncRun::CommitFigures(PendingFigures& pending) {
  for (auto& [index, figure] : pending) figures_[index] = std::move(figure);
  pending.clear();
}

}  // namespace syncstack::engine
