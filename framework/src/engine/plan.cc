#include "engine/plan.h"

#include <algorithm>
#include <string>

namespace syncstack::engine {

bool IsLocalOnly(Action a) noexcept {
  return a == Action::kDeleteHere || a == Action::kDropTombstone;
}

bool Unchanged(const Record* row, const PlanOp& op) noexcept {
  if (!op.local_exists) return row == nullptr;
  return row != nullptr && row->state == op.state &&
         row->deleted == op.deleted && row->version.timestamp == op.local_ts;
}

bool IsServerItem(const ManifestEntry& e) noexcept {
  return e.base != kNoTimestamp &&
         !(e.state == SyncState::kSynced && e.deleted);
}

void AddCases(CaseCounts& to, const CaseCounts& from) noexcept {
  to.fetched_new += from.fetched_new;
  to.pulled += from.pulled;
  to.pushed_updates += from.pushed_updates;
  to.unchanged += from.unchanged;
  to.pushed_adds += from.pushed_adds;
  to.deleted_here += from.deleted_here;
  to.pushed_deletes += from.pushed_deletes;
  to.dropped_tombstones += from.dropped_tombstones;
  to.repushed += from.repushed;
}

Status CheckDeleteGuard(const DeleteGuard& guard, std::string_view name,
                        const PlanTally& tally) {
  if (guard.allow || tally.deletes_by_absence <= guard.floor ||
      static_cast<double>(tally.deletes_by_absence) <=
          guard.max_share * static_cast<double>(tally.synced_local)) {
    return Status::Ok();
  }
  return Status::Aborted(
      "stopped before deleting " + std::to_string(tally.deletes_by_absence) +
      " of " + std::to_string(tally.synced_local) + " synced records of \"" +
      std::string(name) + "\" that the server no longer lists; nothing was " +
      "changed. If that is right, sync again allowing mass deletion");
}

namespace {

// One collection's merge-join: each step looks at the next local entry and
// the next server entry and plans the lower id (both, when equal).
class CollectionPlanner {
 public:
  CollectionPlanner(const PlanInput& input, Plan& plan, PlanTally& tally)
      : in_(input), plan_(plan), tally_(tally) {}

  Status Join(ManifestIterator& local, RemoteEntries& remote);

 private:
  // Case 1: only on the server.
  void OnlyRemote(const Stamp& s);
  // Case 3: only on the device.
  void OnlyLocal(const ManifestEntry& l);
  // Case 2: on both sides.
  void Both(const ManifestEntry& l, const Stamp& s);
  // A row changed here (created, edited or deleted) that the server moved
  // too: the policy decides, or the server's policy when versions are not
  // known here. True when the server's version wins (a pull was planned).
  bool Conflicting(const ManifestEntry& l, const Stamp& s, Action push);
  // After a restore: whether the server's copy is older than what this
  // device holds synced, so the server lost the device's acknowledged write.
  bool ServerLost(const ManifestEntry& l, const Stamp& s) const;
  void Emit(Action action, const RecordId& id, const ManifestEntry* l,
            int32_t conflict = -1);
  int32_t NoteConflict(const RecordId& id, const char* what);

  const PlanInput& in_;
  Plan& plan_;
  PlanTally& tally_;
};

void CollectionPlanner::Emit(Action action, const RecordId& id,
                             const ManifestEntry* l, int32_t conflict) {
  PlanOp op;
  op.collection = in_.collection;
  op.action = action;
  op.id = id;
  if (l != nullptr) {
    op.local_exists = true;
    op.state = l->state;
    op.deleted = l->deleted;
    op.local_ts = l->version.timestamp;
  }
  op.conflict = conflict;
  plan_.ops.push_back(op);
}

int32_t CollectionPlanner::NoteConflict(const RecordId& id, const char* what) {
  ConflictRecord c;
  c.collection = std::string(in_.name);
  c.id = id;
  c.what = what;
  plan_.conflicts.push_back(std::move(c));
  return static_cast<int32_t>(plan_.conflicts.size() - 1);
}

bool CollectionPlanner::ServerLost(const ManifestEntry& l,
                                   const Stamp& s) const {
  if (!in_.restored || in_.reconciled) return false;
  const Version server_version{s.last_update, s.version};
  return in_.policy->Compare(l.version, server_version) == Order::kAfter;
}

void CollectionPlanner::OnlyRemote(const Stamp& s) {
  Emit(Action::kGetNew, s.id, nullptr);
  plan_.cases.fetched_new++;
  tally_.items++;
}

void CollectionPlanner::OnlyLocal(const ManifestEntry& l) {
  CaseCounts& cases = plan_.cases;
  switch (l.state) {
    case SyncState::kCreated:
      Emit(Action::kPushAdd, l.id, &l);
      cases.pushed_adds++;
      break;
    case SyncState::kChanged:
      if (in_.resync) {
        // Its tombstone may be gone: pushing would resurrect it.
        Emit(Action::kDeleteHere, l.id, &l,
             NoteConflict(l.id,
                          "edited here, deleted on the server "
                          "(tombstone collected)"));
        cases.deleted_here++;
        break;
      }
      // Edited here, deleted on the server: the server's policy decides.
      Emit(Action::kPushUpdate, l.id, &l,
           NoteConflict(l.id, "edited here, deleted on the server"));
      cases.pushed_updates++;
      break;
    case SyncState::kDeleted:
      if (l.base != kNoTimestamp) {
        // Deleted here and on the server too. The server's tombstone may be
        // older than this delete, and a device that edited the record in
        // between must still lose to this, the later delete: push it, the
        // server's policy orders the two (found by tests/faults).
        Emit(Action::kPushDelete, l.id, &l);
        cases.pushed_deletes++;
      } else {
        // Never acknowledged and not on the server: nothing to tell.
        Emit(Action::kDropTombstone, l.id, &l);
        cases.dropped_tombstones++;
      }
      break;
    case SyncState::kSynced:
      if (l.deleted) {
        // A delete the server acknowledged, kept to push again should the
        // server lose it; a full resync (tombstones collected) drops it.
        if (in_.resync) Emit(Action::kDropTombstone, l.id, &l);
        break;
      }
      // Past the horizon the collection itself is the proof; otherwise
      // the server must show its tombstone (ProveAbsences).
      Emit(Action::kDeleteHere, l.id, &l);
      plan_.ops.back().by_absence = !in_.resync && !in_.changes;
      cases.deleted_here++;
      tally_.deletes_by_absence++;
      break;
  }
}

void CollectionPlanner::Both(const ManifestEntry& l, const Stamp& s) {
  const bool server_moved = s.last_update != l.base;
  if (l.state == SyncState::kSynced) {
    if ((l.deleted || server_moved) && ServerLost(l, s)) {
      Emit(l.deleted ? Action::kPushDelete : Action::kPushUpdate, l.id, &l);
      (l.deleted ? plan_.cases.pushed_deletes : plan_.cases.pushed_updates)++;
      plan_.cases.repushed++;
    } else if (l.deleted || server_moved) {
      Emit(Action::kPull, l.id, &l);
      plan_.cases.pulled++;
    } else {
      plan_.cases.unchanged++;
    }
    return;
  }
  const Action push = l.state == SyncState::kDeleted   ? Action::kPushDelete
                      : l.state == SyncState::kCreated ? Action::kPushAdd
                                                       : Action::kPushUpdate;
  if (!server_moved && l.state != SyncState::kCreated) {
    Emit(push, l.id, &l);
  } else {
    if (Conflicting(l, s, push)) return;
  }
  if (push == Action::kPushDelete) {
    plan_.cases.pushed_deletes++;
  } else if (push == Action::kPushAdd) {
    plan_.cases.pushed_adds++;
  } else {
    plan_.cases.pushed_updates++;
  }
}

bool CollectionPlanner::Conflicting(const ManifestEntry& l, const Stamp& s,
                                    Action push) {
  const char* what =
      l.state == SyncState::kCreated   ? "created here and on the server"
      : l.state == SyncState::kDeleted ? "deleted here, edited on the server"
                                       : "edited on both sides";
  const int32_t conflict = NoteConflict(l.id, what);
  if (!in_.reconciled) {
    const Version server_version{s.last_update, s.version};
    if (in_.policy->Compare(l.version, server_version) == Order::kBefore) {
      Emit(Action::kPull, l.id, &l, conflict);
      plan_.conflicts[conflict].kept = Kept::kServer;
      plan_.cases.pulled++;
      return true;
    }
  }
  // Reconciled, the server's version data is not known here: the server's
  // policy decides (it answers with its record if it keeps it).
  Emit(push, l.id, &l, conflict);
  plan_.conflicts[conflict].kept = Kept::kClient;
  return false;
}

Status CollectionPlanner::Join(ManifestIterator& local, RemoteEntries& remote) {
  Stamp implied;  // a reconciled server item that did not change
  std::optional<RecordId> last_remote;
  while (true) {
    const ManifestEntry* l = local.Valid() ? &local.entry() : nullptr;
    const Stamp* s = remote.Peek();
    if (s != nullptr && last_remote && !(*last_remote < s->id)) {
      return Status::InvalidArgument("manifest of \"" + std::string(in_.name) +
                                     "\": ids out of order at " +
                                     s->id.ToString());
    }
    if (l == nullptr && s == nullptr) break;
    if (l == nullptr || (s != nullptr && s->id < l->id)) {
      OnlyRemote(*s);
      last_remote = s->id;
      remote.Next();
      continue;
    }
    if (!in_.restricted &&
        (IsServerItem(*l) || l->state == SyncState::kCreated)) {
      tally_.items++;
    }
    const bool from_remote = s != nullptr && s->id == l->id;
    if (!from_remote && (in_.reconciled || in_.changes) && IsServerItem(*l) &&
        !std::binary_search(in_.lacks.begin(), in_.lacks.end(), l->id)) {
      implied = Stamp{l->id, l->base, std::string()};
      s = &implied;
    }
    if (l->state == SyncState::kSynced && !l->deleted) ++tally_.synced_local;
    if (s == nullptr || l->id < s->id) {
      OnlyLocal(*l);
    } else {
      Both(*l, *s);
    }
    if (from_remote) {
      last_remote = s->id;
      remote.Next();
    }
    local.Next();
  }
  SYNCSTACK_RETURN_IF_ERROR(remote.status());
  return local.status();
}

}  // namespace

Status PlanCollection(const PlanInput& input, ManifestIterator& local,
                      RemoteEntries& remote, Plan& plan, PlanTally* tally) {
  PlanTally mine;
  PlanTally& counts = tally != nullptr ? *tally : mine;
  counts = PlanTally{};
  CollectionPlanner planner(input, plan, counts);
  SYNCSTACK_RETURN_IF_ERROR(planner.Join(local, remote));
  if (input.restricted) {
    counts.synced_local = input.restricted->synced_local;
    counts.items += input.restricted->local_items;
  }
  return CheckDeleteGuard(input.guard, input.name, counts);
}

}  // namespace syncstack::engine
