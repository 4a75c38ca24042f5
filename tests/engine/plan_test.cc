// The pure planner (framework/src/engine/plan.h): the seed's three cases,
// tombstones on either side, conflicts per policy, the order of the ops,
// reconciled input, the mass-deletion guard, and a randomized comparison
// with a brute-force model that looks every id up instead of merge-joining.
#include "engine/plan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>

#include "syncstack/policies/last_write_wins.h"

namespace syncstack::engine {
namespace {

RecordId Id(int n) {
  char text[40];
  std::snprintf(text, sizeof text, "%08x-0000-4000-8000-000000000000", n);
  return *RecordId::Parse(text);
}

// A local row; `base` is the server's last_update when last heard of.
ManifestEntry Local(int n, SyncState state, Timestamp ts, Timestamp base,
                    bool deleted = false) {
  return ManifestEntry{Id(n), Version{ts, {}}, deleted, state, base};
}

Stamp Server(int n, Timestamp last_update) {
  return Stamp{Id(n), last_update, std::string()};
}

bool SameCases(const CaseCounts& a, const CaseCounts& b) {
  return a.fetched_new == b.fetched_new && a.pulled == b.pulled &&
         a.pushed_updates == b.pushed_updates && a.unchanged == b.unchanged &&
         a.pushed_adds == b.pushed_adds && a.deleted_here == b.deleted_here &&
         a.pushed_deletes == b.pushed_deletes &&
         a.dropped_tombstones == b.dropped_tombstones;
}

// A policy that orders by a fixed answer, to show whose rule applies.
class FixedOrderPolicy final : public ConflictPolicy {
 public:
  explicit FixedOrderPolicy(Order order) : order_(order) {}
  std::string_view name() const noexcept override { return "fixed"; }
  Version StampLocal(const LocalWrite&) const override { return {}; }
  Version StampIncoming(const IncomingWrite&) const override { return {}; }
  Order Compare(const Version&, const Version&) const noexcept override {
    ++calls;
    return order_;
  }
  Resolution Resolve(const WriteView&, const WriteView&) const override {
    return {};
  }
  mutable int calls = 0;

 private:
  Order order_;
};

// Remote entries that fail after `good` of them.
class FailingEntries final : public RemoteEntries {
 public:
  FailingEntries(std::vector<Stamp> entries, size_t good)
      : entries_(std::move(entries)), good_(good) {}
  const Stamp* Peek() override {
    if (pos_ >= good_) {
      status_ = Status::Unavailable("page lost");
      return nullptr;
    }
    return pos_ < entries_.size() ? &entries_[pos_] : nullptr;
  }
  void Next() override { ++pos_; }
  Status status() const override { return status_; }

 private:
  std::vector<Stamp> entries_;
  size_t good_;
  size_t pos_ = 0;
  Status status_;
};

class PlanTest : public ::testing::Test {
 protected:
  PlanTest() : lww_(NewLastWriteWinsPolicy()) {
    input_.name = "todo";
    input_.policy = lww_.get();
  }

  // Plans one collection into plan_; returns the status.
  Status Run(std::vector<ManifestEntry> local, std::vector<Stamp> remote) {
    local_ = std::move(local);
    EntryIterator it(local_);
    ListedEntries entries(std::move(remote));
    return PlanCollection(input_, it, entries, plan_, &tally_);
  }

  // The only op planned (fails the test if there is not exactly one).
  PlanOp Only() {
    EXPECT_EQ(plan_.ops.size(), 1u);
    return plan_.ops.empty() ? PlanOp{} : plan_.ops[0];
  }

  std::unique_ptr<ConflictPolicy> lww_;
  PlanInput input_;
  std::vector<ManifestEntry> local_;
  Plan plan_;
  PlanTally tally_;
};

// --- Case 1: only on the server ----------------------------------------------

TEST_F(PlanTest, OnlyOnTheServerIsFetched) {
  ASSERT_TRUE(Run({}, {Server(1, 100)}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kGetNew);
  EXPECT_EQ(op.id, Id(1));
  EXPECT_FALSE(op.local_exists);
  EXPECT_EQ(op.conflict, -1);
  EXPECT_EQ(plan_.cases.fetched_new, 1u);
  EXPECT_EQ(tally_.items, 1u);
}

// --- Case 2: on both sides
// ----------------------------------------------------

TEST_F(PlanTest, SyncedAndUnmovedIsUnchanged) {
  ASSERT_TRUE(
      Run({Local(1, SyncState::kSynced, 100, 100)}, {Server(1, 100)}).ok());
  EXPECT_TRUE(plan_.ops.empty());
  EXPECT_EQ(plan_.cases.unchanged, 1u);
  EXPECT_EQ(tally_.items, 1u);
  EXPECT_EQ(tally_.synced_local, 1u);
}

TEST_F(PlanTest, SyncedAndMovedOnTheServerIsPulled) {
  ASSERT_TRUE(
      Run({Local(1, SyncState::kSynced, 100, 100)}, {Server(1, 200)}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kPull);
  EXPECT_TRUE(op.local_exists);
  EXPECT_EQ(op.state, SyncState::kSynced);
  EXPECT_EQ(op.local_ts, 100);
  EXPECT_EQ(plan_.cases.pulled, 1u);
  EXPECT_TRUE(plan_.conflicts.empty());
}

TEST_F(PlanTest, LocalSyncedTombstoneTheServerListsIsPulled) {
  // A tombstone row the server still lists (it was re-created there).
  ASSERT_TRUE(
      Run({Local(1, SyncState::kSynced, 100, 100, true)}, {Server(1, 100)})
          .ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kPull);
  EXPECT_TRUE(op.deleted);
  EXPECT_EQ(tally_.synced_local, 0u);
}

TEST_F(PlanTest, EditedHereOnlyIsPushedWithoutConflict) {
  ASSERT_TRUE(
      Run({Local(1, SyncState::kChanged, 150, 100)}, {Server(1, 100)}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kPushUpdate);
  EXPECT_EQ(op.conflict, -1);
  EXPECT_EQ(plan_.cases.pushed_updates, 1u);
}

TEST_F(PlanTest, DeletedHereOnlyIsPushedWithoutConflict) {
  ASSERT_TRUE(
      Run({Local(1, SyncState::kDeleted, 150, 100, true)}, {Server(1, 100)})
          .ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kPushDelete);
  EXPECT_EQ(op.conflict, -1);
  EXPECT_EQ(plan_.cases.pushed_deletes, 1u);
}

TEST_F(PlanTest, EditedOnBothSidesTheNewerWinsByThePolicy) {
  // Local older than the server's write: last-write-wins pulls.
  ASSERT_TRUE(
      Run({Local(1, SyncState::kChanged, 150, 100)}, {Server(1, 200)}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kPull);
  ASSERT_EQ(op.conflict, 0);
  EXPECT_EQ(plan_.conflicts[0].what, "edited on both sides");
  EXPECT_EQ(plan_.conflicts[0].kept, Kept::kServer);
  EXPECT_EQ(plan_.conflicts[0].collection, "todo");
  EXPECT_EQ(plan_.conflicts[0].id, Id(1));
  EXPECT_EQ(plan_.cases.pulled, 1u);
  EXPECT_EQ(plan_.cases.pushed_updates, 0u);

  // Local newer: pushed, the client's version expected to stay.
  plan_ = Plan{};
  ASSERT_TRUE(
      Run({Local(1, SyncState::kChanged, 250, 100)}, {Server(1, 200)}).ok());
  op = Only();
  EXPECT_EQ(op.action, Action::kPushUpdate);
  ASSERT_EQ(op.conflict, 0);
  EXPECT_EQ(plan_.conflicts[0].kept, Kept::kClient);
  EXPECT_EQ(plan_.cases.pushed_updates, 1u);
}

TEST_F(PlanTest, EqualVersionsInAConflictArePushed) {
  // kEqual is not kBefore: the server's policy settles it on the push.
  ASSERT_TRUE(
      Run({Local(1, SyncState::kChanged, 200, 100)}, {Server(1, 200)}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kPushUpdate);
  EXPECT_EQ(plan_.conflicts.at(0).kept, Kept::kClient);
}

TEST_F(PlanTest, ThePlanningPolicyDecidesConflicts) {
  for (Order order :
       {Order::kBefore, Order::kAfter, Order::kEqual, Order::kConcurrent}) {
    SCOPED_TRACE(static_cast<int>(order));
    FixedOrderPolicy policy(order);
    input_.policy = &policy;
    plan_ = Plan{};
    ASSERT_TRUE(
        Run({Local(1, SyncState::kChanged, 999, 100)}, {Server(1, 1)}).ok());
    EXPECT_EQ(policy.calls, 1);
    EXPECT_EQ(Only().action,
              order == Order::kBefore ? Action::kPull : Action::kPushUpdate);
  }
}

TEST_F(PlanTest, CreatedOnBothSidesIsAConflictEvenUnmoved) {
  // A created row has no base: the server's entry is always "moved".
  ASSERT_TRUE(
      Run({Local(1, SyncState::kCreated, 50, kNoTimestamp)}, {Server(1, 100)})
          .ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kPull);
  EXPECT_EQ(plan_.conflicts.at(0).what, "created here and on the server");
  plan_ = Plan{};
  ASSERT_TRUE(
      Run({Local(1, SyncState::kCreated, 150, kNoTimestamp)}, {Server(1, 100)})
          .ok());
  EXPECT_EQ(Only().action, Action::kPushAdd);
  EXPECT_EQ(plan_.cases.pushed_adds, 1u);
}

TEST_F(PlanTest, DeletedHereEditedOnTheServerIsAConflict) {
  ASSERT_TRUE(
      Run({Local(1, SyncState::kDeleted, 150, 100, true)}, {Server(1, 200)})
          .ok());
  EXPECT_EQ(Only().action, Action::kPull);
  EXPECT_EQ(plan_.conflicts.at(0).what, "deleted here, edited on the server");
  plan_ = Plan{};
  ASSERT_TRUE(
      Run({Local(1, SyncState::kDeleted, 300, 100, true)}, {Server(1, 200)})
          .ok());
  EXPECT_EQ(Only().action, Action::kPushDelete);
  EXPECT_EQ(plan_.cases.pushed_deletes, 1u);
}

// --- Case 3: only local ------------------------------------------------------

TEST_F(PlanTest, CreatedOfflineIsAdded) {
  ASSERT_TRUE(Run({Local(1, SyncState::kCreated, 50, kNoTimestamp)}, {}).ok());
  EXPECT_EQ(Only().action, Action::kPushAdd);
  EXPECT_EQ(plan_.cases.pushed_adds, 1u);
  EXPECT_EQ(tally_.items, 1u);
}

TEST_F(PlanTest, SyncedBeforeAndGoneFromTheServerIsDeletedHere) {
  ASSERT_TRUE(Run({Local(1, SyncState::kSynced, 100, 100)}, {}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kDeleteHere);
  EXPECT_TRUE(IsLocalOnly(op.action));
  EXPECT_EQ(plan_.cases.deleted_here, 1u);
  EXPECT_EQ(tally_.deletes_by_absence, 1u);
}

TEST_F(PlanTest, ALocalSyncedTombstoneAloneIsIgnored) {
  ASSERT_TRUE(Run({Local(1, SyncState::kSynced, 100, 100, true)}, {}).ok());
  EXPECT_TRUE(plan_.ops.empty());
  EXPECT_TRUE(SameCases(plan_.cases, CaseCounts{}));
  EXPECT_EQ(tally_.items, 0u);
}

TEST_F(PlanTest, EditedHereDeletedOnTheServerGoesToTheServersPolicy) {
  ASSERT_TRUE(Run({Local(1, SyncState::kChanged, 150, 100)}, {}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kPushUpdate);
  ASSERT_EQ(op.conflict, 0);
  EXPECT_EQ(plan_.conflicts[0].what, "edited here, deleted on the server");
  EXPECT_EQ(plan_.conflicts[0].kept, Kept::kServer);
  EXPECT_EQ(plan_.cases.pushed_updates, 1u);
}

TEST_F(PlanTest, EditedHereTombstoneCollectedIsDeletedHereOnResync) {
  input_.resync = true;
  ASSERT_TRUE(Run({Local(1, SyncState::kChanged, 150, 100)}, {}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kDeleteHere);
  EXPECT_EQ(plan_.conflicts.at(0).what,
            "edited here, deleted on the server (tombstone collected)");
  EXPECT_EQ(plan_.cases.deleted_here, 1u);
  EXPECT_EQ(tally_.deletes_by_absence, 0u);  // not the guard's business
}

TEST_F(PlanTest, DeletedOnBothSidesPushesAnAcknowledgedDelete) {
  // Synced once: the later local delete still goes to the server.
  ASSERT_TRUE(Run({Local(1, SyncState::kDeleted, 150, 100, true)}, {}).ok());
  EXPECT_EQ(Only().action, Action::kPushDelete);
  EXPECT_EQ(plan_.cases.pushed_deletes, 1u);
}

TEST_F(PlanTest, ANeverSyncedTombstoneIsDropped) {
  ASSERT_TRUE(
      Run({Local(1, SyncState::kDeleted, 150, kNoTimestamp, true)}, {}).ok());
  PlanOp op = Only();
  EXPECT_EQ(op.action, Action::kDropTombstone);
  EXPECT_TRUE(IsLocalOnly(op.action));
  EXPECT_EQ(plan_.cases.dropped_tombstones, 1u);
}

// --- Order, errors, reconciled input
// ------------------------------------------

TEST_F(PlanTest, OpsComeInIdOrderAndAppendAcrossCollections) {
  ASSERT_TRUE(Run(
                  {
                      Local(2, SyncState::kCreated, 5, kNoTimestamp),
                      Local(3, SyncState::kChanged, 150, 100),
                      Local(5, SyncState::kSynced, 100, 100),
                  },
                  {Server(1, 10), Server(3, 200), Server(4, 10)})
                  .ok());
  std::vector<std::pair<int, Action>> got;
  for (const PlanOp& op : plan_.ops)
    got.emplace_back(op.id == Id(1)   ? 1
                     : op.id == Id(2) ? 2
                     : op.id == Id(3) ? 3
                     : op.id == Id(4) ? 4
                                      : 5,
                     op.action);
  std::vector<std::pair<int, Action>> want = {{1, Action::kGetNew},
                                              {2, Action::kPushAdd},
                                              {3, Action::kPull},
                                              {4, Action::kGetNew},
                                              {5, Action::kDeleteHere}};
  EXPECT_EQ(got, want);

  // A second collection appends; its conflicts index on from the first's.
  input_.collection = 1;
  input_.name = "notes";
  ASSERT_TRUE(
      Run({Local(7, SyncState::kChanged, 150, 100)}, {Server(7, 200)}).ok());
  ASSERT_EQ(plan_.ops.size(), 6u);
  EXPECT_EQ(plan_.ops.back().collection, 1u);
  EXPECT_EQ(plan_.ops.back().conflict, 1);
  EXPECT_EQ(plan_.conflicts.at(1).collection, "notes");
}

TEST_F(PlanTest, ServerIdsOutOfOrderAreRefused) {
  Status s = Run({}, {Server(2, 10), Server(1, 10)});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  s = Run({}, {Server(1, 10), Server(1, 10)});
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
}

TEST_F(PlanTest, AFailedPageStopsPlanning) {
  local_ = {Local(9, SyncState::kSynced, 100, 100)};
  EntryIterator it(local_);
  FailingEntries entries({Server(1, 10), Server(2, 10)}, 1);
  Status s = PlanCollection(input_, it, entries, plan_, &tally_);
  EXPECT_EQ(s.code(), Status::Code::kUnavailable) << s.ToString();
}

TEST_F(PlanTest, ReconciledDifferencesLeaveTheRestUnchanged) {
  FixedOrderPolicy never(Order::kBefore);  // must not be asked
  input_.policy = &never;
  input_.reconciled = true;
  std::vector<RecordId> lacks = {Id(3)};
  input_.lacks = lacks;
  ASSERT_TRUE(Run(
                  {
                      Local(1, SyncState::kSynced, 100, 100),   // same there
                      Local(2, SyncState::kChanged, 150, 100),  // moved there
                      Local(3, SyncState::kSynced, 100, 100),   // gone there
                      Local(4, SyncState::kChanged, 150, 100),  // same there
                  },
                  {Server(2, 200)})
                  .ok());
  EXPECT_EQ(never.calls, 0);
  ASSERT_EQ(plan_.ops.size(), 3u);
  EXPECT_EQ(plan_.ops[0].id, Id(2));
  EXPECT_EQ(plan_.ops[0].action, Action::kPushUpdate);
  EXPECT_EQ(plan_.conflicts.at(0).kept, Kept::kClient);
  EXPECT_EQ(plan_.ops[1].id, Id(3));
  EXPECT_EQ(plan_.ops[1].action, Action::kDeleteHere);
  EXPECT_EQ(plan_.ops[2].id, Id(4));
  EXPECT_EQ(plan_.ops[2].action, Action::kPushUpdate);
  EXPECT_EQ(plan_.ops[2].conflict, -1);
  EXPECT_EQ(plan_.cases.unchanged, 1u);
}

TEST_F(PlanTest, RestrictedLocalRowsTakeTheCallersCounts) {
  input_.reconciled = true;
  input_.restricted = LocalCounts{40, 50};
  ASSERT_TRUE(
      Run({Local(1, SyncState::kChanged, 150, 100)}, {Server(2, 10)}).ok());
  EXPECT_EQ(tally_.synced_local, 40u);
  EXPECT_EQ(tally_.items, 51u);  // the new server record and the caller's
}

TEST_F(PlanTest, TheMassDeletionGuardStopsATruncatedManifest) {
  std::vector<ManifestEntry> local;
  for (int i = 0; i < 20; ++i)
    local.push_back(Local(i, SyncState::kSynced, 1, 1));
  std::vector<Stamp> remote;
  for (int i = 0; i < 9; ++i) remote.push_back(Server(i, 1));
  Status s = Run(local, remote);  // 11 of 20 gone: over half, over 10
  EXPECT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
  EXPECT_NE(s.ToString().find("stopped before deleting 11 of 20 synced "
                              "records of \"todo\""),
            std::string::npos)
      << s.ToString();

  input_.guard.allow = true;
  EXPECT_TRUE(Run(local, remote).ok());
  input_.guard.allow = false;
  remote.push_back(Server(9, 1));  // 10 gone: not over the floor
  EXPECT_TRUE(Run(local, remote).ok());
  EXPECT_TRUE(CheckDeleteGuard(DeleteGuard{}, "x", PlanTally{0, 40, 20}).ok());
  EXPECT_FALSE(CheckDeleteGuard(DeleteGuard{}, "x", PlanTally{0, 40, 21}).ok());
}

// --- A server restored from a backup (docs/decisions/server-restore.md) ----

TEST_F(PlanTest, ADeleteByAbsenceAsksTheServerForProof) {
  ASSERT_TRUE(Run({Local(1, SyncState::kSynced, 100, 100)}, {}).ok());
  EXPECT_TRUE(Only().by_absence);
  plan_ = Plan{};
  input_.resync = true;  // past the horizon: the collection is the proof
  ASSERT_TRUE(Run({Local(1, SyncState::kSynced, 100, 100)}, {}).ok());
  EXPECT_EQ(Only().action, Action::kDeleteHere);
  EXPECT_FALSE(Only().by_absence);
}

TEST_F(PlanTest, AfterARestoreAnAcknowledgedEditTheServerLostIsPushedAgain) {
  input_.restored = true;
  // Synced at 200 here; the restored server holds the older 100.
  ASSERT_TRUE(
      Run({Local(1, SyncState::kSynced, 200, 200)}, {Server(1, 100)}).ok());
  EXPECT_EQ(Only().action, Action::kPushUpdate);
  EXPECT_EQ(plan_.cases.repushed, 1u);
  EXPECT_EQ(plan_.cases.pushed_updates, 1u);
  EXPECT_EQ(plan_.cases.pulled, 0u);
}

TEST_F(PlanTest, AfterARestoreANewerServerVersionIsStillPulled) {
  input_.restored = true;
  ASSERT_TRUE(
      Run({Local(1, SyncState::kSynced, 200, 200)}, {Server(1, 300)}).ok());
  EXPECT_EQ(Only().action, Action::kPull);
  EXPECT_EQ(plan_.cases.repushed, 0u);
}

TEST_F(PlanTest, AfterARestoreAnAcknowledgedDeleteTheServerLostIsPushedAgain) {
  input_.restored = true;
  // The device deleted at 250 what the server had at 100; the restored
  // server has the record again, at 100.
  ASSERT_TRUE(
      Run({Local(1, SyncState::kSynced, 250, 100, true)}, {Server(1, 100)})
          .ok());
  EXPECT_EQ(Only().action, Action::kPushDelete);
  EXPECT_EQ(plan_.cases.repushed, 1u);
}

TEST_F(PlanTest, WithoutARestoreAMovedServerCopyIsPulledEvenIfOlder) {
  ASSERT_TRUE(
      Run({Local(1, SyncState::kSynced, 200, 200)}, {Server(1, 100)}).ok());
  EXPECT_EQ(Only().action, Action::kPull);
}

// --- Randomized, against a brute-force model ---------------------------------

struct Expected {
  std::vector<PlanOp> ops;
  std::vector<std::pair<std::string, Kept>> conflicts;
  CaseCounts cases;
  PlanTally tally;
};

PlanOp ModelOp(Action action, const RecordId& id, const ManifestEntry* l,
               int32_t conflict = -1) {
  PlanOp op;
  op.action = action;
  op.id = id;
  if (l != nullptr) {
    op.local_exists = true;
    op.state = l->state;
    op.deleted = l->deleted;
    op.local_ts = l->version.timestamp;
  }
  op.conflict = conflict;
  return op;
}

// The rules of syncstack/engine.h, one id at a time, by lookup.
Expected Model(const PlanInput& in, const std::vector<ManifestEntry>& local,
               const std::vector<Stamp>& remote) {
  std::map<RecordId, const ManifestEntry*> mine;
  std::map<RecordId, const Stamp*> theirs;
  std::set<RecordId> ids;
  for (const auto& e : local) mine[e.id] = &e, ids.insert(e.id);
  for (const auto& s : remote) theirs[s.id] = &s, ids.insert(s.id);
  Expected x;
  auto conflict = [&](const char* what, Kept kept) {
    x.conflicts.emplace_back(what, kept);
    return static_cast<int32_t>(x.conflicts.size() - 1);
  };
  for (const RecordId& id : ids) {
    const ManifestEntry* l = mine.count(id) ? mine[id] : nullptr;
    std::optional<Stamp> s;
    if (theirs.count(id)) s = *theirs[id];
    if (l == nullptr) {
      x.ops.push_back(ModelOp(Action::kGetNew, id, nullptr));
      x.cases.fetched_new++;
      x.tally.items++;
      continue;
    }
    const bool server_item = l->base != kNoTimestamp &&
                             !(l->state == SyncState::kSynced && l->deleted);
    if (!in.restricted && (server_item || l->state == SyncState::kCreated)) {
      x.tally.items++;
    }
    if (l->state == SyncState::kSynced && !l->deleted) x.tally.synced_local++;
    const bool lacked =
        std::find(in.lacks.begin(), in.lacks.end(), id) != in.lacks.end();
    if (!s && in.reconciled && server_item && !lacked) {
      s = Stamp{id, l->base, {}};  // unchanged on the server
    }
    if (!s) {  // only local
      if (l->state == SyncState::kCreated) {
        x.ops.push_back(ModelOp(Action::kPushAdd, id, l));
        x.cases.pushed_adds++;
      } else if (l->state == SyncState::kChanged && in.resync) {
        x.ops.push_back(
            ModelOp(Action::kDeleteHere, id, l,
                    conflict("edited here, deleted on the server (tombstone "
                             "collected)",
                             Kept::kServer)));
        x.cases.deleted_here++;
      } else if (l->state == SyncState::kChanged) {
        x.ops.push_back(ModelOp(
            Action::kPushUpdate, id, l,
            conflict("edited here, deleted on the server", Kept::kServer)));
        x.cases.pushed_updates++;
      } else if (l->state == SyncState::kDeleted) {
        bool acked = l->base != kNoTimestamp;
        x.ops.push_back(ModelOp(
            acked ? Action::kPushDelete : Action::kDropTombstone, id, l));
        (acked ? x.cases.pushed_deletes : x.cases.dropped_tombstones)++;
      } else if (!l->deleted) {
        x.ops.push_back(ModelOp(Action::kDeleteHere, id, l));
        x.ops.back().by_absence = !in.resync;  // the server must prove it
        x.cases.deleted_here++;
        x.tally.deletes_by_absence++;
      } else if (in.resync) {
        x.ops.push_back(ModelOp(Action::kDropTombstone, id, l));
      }
      continue;
    }
    const bool moved = s->last_update != l->base;
    if (l->state == SyncState::kSynced) {
      if (l->deleted || moved) {
        x.ops.push_back(ModelOp(Action::kPull, id, l));
        x.cases.pulled++;
      } else {
        x.cases.unchanged++;
      }
      continue;
    }
    Action push;
    uint64_t* counter;
    const char* what;
    if (l->state == SyncState::kCreated) {
      push = Action::kPushAdd, counter = &x.cases.pushed_adds;
      what = "created here and on the server";
    } else if (l->state == SyncState::kDeleted) {
      push = Action::kPushDelete, counter = &x.cases.pushed_deletes;
      what = "deleted here, edited on the server";
    } else {
      push = Action::kPushUpdate, counter = &x.cases.pushed_updates;
      what = "edited on both sides";
    }
    if (!moved && l->state != SyncState::kCreated) {
      x.ops.push_back(ModelOp(push, id, l));
      ++*counter;
    } else if (!in.reconciled &&
               in.policy->Compare(l->version, Version{s->last_update, {}}) ==
                   Order::kBefore) {
      x.ops.push_back(
          ModelOp(Action::kPull, id, l, conflict(what, Kept::kServer)));
      x.cases.pulled++;
    } else {
      x.ops.push_back(ModelOp(push, id, l, conflict(what, Kept::kClient)));
      ++*counter;
    }
  }
  if (in.restricted) {
    x.tally.synced_local = in.restricted->synced_local;
    x.tally.items += in.restricted->local_items;
  }
  return x;
}

uint64_t SeedFromEnv() {
  const char* env = std::getenv("SYNCSTACK_SEED");
  return env != nullptr ? std::strtoull(env, nullptr, 10) : 20261202;
}

TEST(PlanRandom, AgreesWithABruteForceModel) {
  const uint64_t seed = SeedFromEnv();
  std::cout << "[ seed     ] " << seed
            << " (replay with SYNCSTACK_SEED=" << seed << ")" << std::endl;
  std::mt19937_64 rng(seed);
  auto lww = NewLastWriteWinsPolicy();
  for (int round = 0; round < 2000; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const int universe = 1 + static_cast<int>(rng() % 40);
    std::vector<ManifestEntry> local;
    std::vector<Stamp> remote;
    std::vector<RecordId> lacks;
    PlanInput in;
    in.name = "todo";
    in.policy = lww.get();
    in.resync = rng() % 4 == 0;
    in.reconciled = rng() % 3 == 0;
    if (in.reconciled && rng() % 2 == 0) {
      in.restricted = LocalCounts{rng() % 100, rng() % 100};
    }
    in.guard.allow = true;  // the guard has its own test
    for (int n = 0; n < universe; ++n) {
      const Timestamp base_choices[] = {kNoTimestamp, 10, 20, 30};
      const unsigned where = rng() % 4;  // none, local, server, both
      if (where & 1) {
        auto state = static_cast<SyncState>(rng() % 4);
        Timestamp base = base_choices[rng() % 4];
        bool deleted = state == SyncState::kDeleted ||
                       (state == SyncState::kSynced && rng() % 5 == 0);
        local.push_back(
            Local(n, state, static_cast<Timestamp>(rng() % 40), base, deleted));
      }
      if (where & 2) {
        remote.push_back(Server(n, 10 * static_cast<Timestamp>(rng() % 4)));
      } else if (in.reconciled && rng() % 3 == 0) {
        lacks.push_back(Id(n));
      }
    }
    in.lacks = lacks;
    Expected want = Model(in, local, remote);
    Plan plan;
    PlanTally tally;
    EntryIterator it(local);
    ListedEntries entries(remote);
    ASSERT_TRUE(PlanCollection(in, it, entries, plan, &tally).ok());
    ASSERT_EQ(plan.ops, want.ops);
    ASSERT_TRUE(SameCases(plan.cases, want.cases));
    ASSERT_EQ(plan.conflicts.size(), want.conflicts.size());
    for (size_t i = 0; i < want.conflicts.size(); ++i) {
      EXPECT_EQ(plan.conflicts[i].what, want.conflicts[i].first);
      EXPECT_EQ(plan.conflicts[i].kept, want.conflicts[i].second);
    }
    EXPECT_EQ(tally.items, want.tally.items);
    EXPECT_EQ(tally.synced_local, want.tally.synced_local);
    EXPECT_EQ(tally.deletes_by_absence, want.tally.deletes_by_absence);
  }
}

}  // namespace
}  // namespace syncstack::engine
