// The three cases and their edges, end to end: devices, engine, loopback,
// service, store.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "syncstack/codec.h"
#include "syncstack/policies/registry.h"
#include "syncstack/protocol.h"
#include "world.h"

namespace syncstack::testing {
namespace {

const RecordId kA = *RecordId::Parse("10000000-0000-4000-8000-000000000001");
const RecordId kB = *RecordId::Parse("20000000-0000-4000-8000-000000000002");
const RecordId kC = *RecordId::Parse("30000000-0000-4000-8000-000000000003");

// Records every request body that crosses it.
class RecordingTransport : public TransportWrapper {
 public:
  using TransportWrapper::TransportWrapper;
  Result<Response> Call(const Request& request) noexcept override {
    requests.push_back(request);
    return TransportWrapper::Call(request);
  }
  std::vector<Request> requests;
};

// Fails every synchronise call after the first `allowed` ones.
class FailingTransport : public TransportWrapper {
 public:
  using TransportWrapper::TransportWrapper;
  Result<Response> Call(const Request& request) noexcept override {
    if (request.path == kSynchronisePath && allowed-- <= 0) {
      return Status::Unavailable("network down");
    }
    return TransportWrapper::Call(request);
  }
  int allowed = 1'000'000;
};

// Runs `hook` just before each synchronise call is delivered.
class HookTransport : public TransportWrapper {
 public:
  using TransportWrapper::TransportWrapper;
  Result<Response> Call(const Request& request) noexcept override {
    if (request.path == kSynchronisePath && hook) {
      auto once = std::move(hook);  // runs once; may not reset itself
      hook = nullptr;
      once();
    }
    return TransportWrapper::Call(request);
  }
  std::function<void()> hook;
};

// Delivers every synchronise request twice (an answer lost and the
// request retried) and hands back the second answer.
class DuplicatingTransport : public TransportWrapper {
 public:
  using TransportWrapper::TransportWrapper;
  Result<Response> Call(const Request& request) noexcept override {
    if (request.path != kSynchronisePath) {
      return TransportWrapper::Call(request);
    }
    auto first = TransportWrapper::Call(request);
    if (!first.ok()) return first;
    return TransportWrapper::Call(request);
  }
};

class EngineTest : public ::testing::TestWithParam<StoreKind> {};

TEST_P(EngineTest, Case3CreatedOfflineIsAddedAndCase1FetchesIt) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"title":"milk","n":1})"));
  EXPECT_EQ(phone.Get("todo", kA)->state, SyncState::kCreated);

  ASSERT_OK_AND_ASSIGN(SyncReport r1, phone.Sync());
  EXPECT_EQ(r1.cases.pushed_adds, 1u);
  auto synced = phone.Get("todo", kA);
  EXPECT_EQ(synced->state, SyncState::kSynced);
  EXPECT_EQ(synced->base, synced->version.timestamp);

  ASSERT_OK_AND_ASSIGN(SyncReport r2, laptop.Sync());
  EXPECT_EQ(r2.cases.fetched_new, 1u);
  auto got = laptop.Get("todo", kA);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->payload, R"({"title":"milk","n":1})");
  EXPECT_EQ(got->state, SyncState::kSynced);
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w.ServerStore()));
}

TEST_P(EngineTest, Case2NewerSideWinsBothWays) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  // The manifest's merge-join, which visits (and counts) unchanged records
  // too; the changes feed reads only what changed.
  phone.options.mode = laptop.options.mode = SyncMode::kFull;
  ASSERT_OK(phone.Put("todo", kA, R"({"v":1})"));
  ASSERT_OK(phone.Put("todo", kB, R"({"v":1})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());

  w.clock().Advance(1000);
  ASSERT_OK(laptop.Put("todo", kA, R"({"v":2})"));  // newer here: push
  ASSERT_OK_AND_ASSIGN(SyncReport up, laptop.Sync());
  EXPECT_EQ(up.cases.pushed_updates, 1u);
  EXPECT_TRUE(up.conflicts.empty());

  ASSERT_OK_AND_ASSIGN(SyncReport down, phone.Sync());  // newer there: pull
  EXPECT_EQ(down.cases.pulled, 1u);
  EXPECT_EQ(down.cases.unchanged, 1u);
  EXPECT_EQ(phone.Get("todo", kA)->payload, R"({"v":2})");
}

TEST_P(EngineTest, BothEditedNewerWriteWinsAndConflictIsReported) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());

  w.clock().Advance(1000);
  ASSERT_OK(phone.Put("todo", kA, R"({"v":"phone"})"));
  w.clock().Advance(1000);
  ASSERT_OK(laptop.Put("todo", kA, R"({"v":"laptop"})"));  // later
  ASSERT_TRUE(laptop.Sync().ok());
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].kept, Kept::kServer);
  EXPECT_EQ(r.conflicts[0].what, "edited on both sides");
  EXPECT_EQ(phone.Get("todo", kA)->payload, R"({"v":"laptop"})");
  EXPECT_EQ(phone.Get("todo", kA)->state, SyncState::kSynced);
}

TEST_P(EngineTest, EqualTimestampsPickTheSameWinnerEverywhere) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  w.clock().Advance(1000);
  // Same millisecond on both devices, different content.
  ASSERT_OK(phone.Put("todo", kA, R"({"v":"b"})"));
  ASSERT_OK(laptop.Put("todo", kA, R"({"v":"a"})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_OK_AND_ASSIGN(SyncReport r, laptop.Sync());
  // The tie-break prefers the larger payload bytes: "b" beats "a".
  EXPECT_EQ(r.conflicts.size(), 1u);
  ASSERT_TRUE(phone.Sync().ok());
  EXPECT_EQ(laptop.Get("todo", kA)->payload, R"({"v":"b"})");
  EXPECT_EQ(phone.Get("todo", kA)->payload, R"({"v":"b"})");
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w.ServerStore()));

  // And the other order of syncing gives the same winner.
  World w2(GetParam());
  Device& p2 = w2.AddDevice("phone");
  Device& l2 = w2.AddDevice("laptop");
  ASSERT_OK(p2.Put("todo", kA, R"({"v":0})"));
  ASSERT_TRUE(p2.Sync().ok());
  ASSERT_TRUE(l2.Sync().ok());
  w2.clock().Advance(1000);
  ASSERT_OK(p2.Put("todo", kA, R"({"v":"b"})"));
  ASSERT_OK(l2.Put("todo", kA, R"({"v":"a"})"));
  ASSERT_TRUE(l2.Sync().ok());
  ASSERT_TRUE(p2.Sync().ok());
  ASSERT_TRUE(l2.Sync().ok());
  EXPECT_EQ(l2.Get("todo", kA)->payload, R"({"v":"b"})");
  EXPECT_EQ(p2.Get("todo", kA)->payload, R"({"v":"b"})");
}

TEST_P(EngineTest, CreatedOfflineWithAnIdTheServerAlreadyHas) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(laptop.Put("todo", kA, R"({"from":"laptop"})"));
  w.clock().Advance(1000);
  ASSERT_OK(phone.Put("todo", kA, R"({"from":"phone"})"));  // later
  ASSERT_TRUE(laptop.Sync().ok());
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].what, "created here and on the server");
  EXPECT_EQ(r.conflicts[0].kept, Kept::kClient);
  ASSERT_TRUE(laptop.Sync().ok());
  EXPECT_EQ(laptop.Get("todo", kA)->payload, R"({"from":"phone"})");
  // Never mistaken for a server-side delete: it is still there everywhere.
  EXPECT_EQ(DumpLive(*phone.store), DumpLive(w.ServerStore()));
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w.ServerStore()));
}

// After an acknowledged delete the device keeps only the tombstone, synced,
// to push again should the server lose the delete (a restore from a
// backup: docs/decisions/server-restore.md); applications never see it.
void ExpectAcknowledgedDeleteOnly(const std::optional<Record>& row) {
  if (!row) return;
  EXPECT_TRUE(row->deleted);
  EXPECT_EQ(row->state, SyncState::kSynced);
}

TEST_P(EngineTest, DeletedBeforeEverSyncedIsNeverSent) {
  World w(GetParam());
  RecordingTransport recorder(w.loopback());
  Device& phone = w.AddDevice("phone", "alice", &recorder);
  ASSERT_OK(phone.Put("todo", kA, R"({"x":1})"));
  ASSERT_OK(phone.Remove("todo", kA));
  ASSERT_TRUE(phone.Get("todo", kA).has_value());  // a tombstone...
  EXPECT_TRUE(phone.Get("todo", kA)->deleted);
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_EQ(r.cases.pushed_deletes, 0u);
  EXPECT_EQ(r.synchronise_calls, 0u);
  for (const auto& req : recorder.requests) {
    EXPECT_EQ(req.body.find(kA.ToString()), std::string::npos) << req.body;
  }
  EXPECT_TRUE(DumpLive(w.ServerStore()).empty());
  EXPECT_FALSE(phone.Get("todo", kA).has_value());  // ...gone on both sides
}

// An add reaches the server but its answer is lost; the app then deletes
// the record, still "created" here. The delete must reach the server, or
// the next sync would bring the record back (found by the SIGKILL test).
TEST_P(EngineTest, DeletedAfterAnAddWhoseAnswerWasLost) {
  World w(GetParam());
  struct LoseFirstSyncAnswer final : TransportWrapper {
    using TransportWrapper::TransportWrapper;
    bool lost = false;
    Result<Response> Call(const Request& request) noexcept override {
      auto answer = TransportWrapper::Call(request);
      if (request.path == kSynchronisePath && !lost) {
        lost = true;
        return Status::Unavailable("answer lost");
      }
      return answer;
    }
  } lossy(w.loopback());
  Device& phone = w.AddDevice("phone", "alice", &lossy);
  ASSERT_OK(phone.Put("todo", kA, R"({"x":1})"));
  EXPECT_FALSE(phone.Sync().ok());
  EXPECT_EQ(DumpLive(w.ServerStore()).size(), 1u);  // the add arrived
  EXPECT_EQ(phone.Get("todo", kA)->state, SyncState::kCreated);
  w.clock().Advance(10);
  ASSERT_OK(phone.Remove("todo", kA));
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_EQ(r.cases.pushed_deletes, 1u);
  EXPECT_TRUE(DumpLive(w.ServerStore()).empty());
  ASSERT_TRUE(phone.Sync().ok());
  EXPECT_TRUE(DumpLive(*phone.store).empty());
  ExpectAcknowledgedDeleteOnly(phone.Get("todo", kA));
}

TEST_P(EngineTest, EditedOfflineAndDeletedOnServerLaterEditWins) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  ASSERT_OK(laptop.Remove("todo", kA));
  ASSERT_OK_AND_ASSIGN(SyncReport del, laptop.Sync());
  EXPECT_EQ(del.cases.pushed_deletes, 1u);
  w.clock().Advance(5000);
  ASSERT_OK(phone.Put("todo", kA, R"({"v":"edited after the delete"})"));
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].what, "edited here, deleted on the server");
  EXPECT_EQ(r.conflicts[0].kept, Kept::kClient);
  ASSERT_TRUE(laptop.Sync().ok());
  EXPECT_EQ(laptop.Get("todo", kA)->payload,
            R"({"v":"edited after the delete"})");
}

TEST_P(EngineTest, EditedOfflineBeforeTheServerDeleteIsReportedNotLost) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  w.clock().Advance(1000);
  ASSERT_OK(phone.Put("todo", kA, R"({"v":"early edit"})"));
  w.clock().Advance(1000);
  ASSERT_OK(laptop.Remove("todo", kA));
  w.clock().Advance(1000);
  ASSERT_TRUE(laptop.Sync().ok());  // the server deletes at a later time
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  ASSERT_EQ(r.conflicts.size(), 1u);
  EXPECT_EQ(r.conflicts[0].kept, Kept::kServer);  // reported, not silent
  EXPECT_FALSE(phone.Get("todo", kA).has_value());
  EXPECT_TRUE(DumpLive(*phone.store).empty());
}

TEST_P(EngineTest, DeletedOnBothSides) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  ASSERT_OK(phone.Remove("todo", kA));
  ASSERT_OK(laptop.Remove("todo", kA));
  ASSERT_TRUE(laptop.Sync().ok());
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  // The phone still tells the server (its delete might be the later one);
  // two deletes are no conflict.
  EXPECT_EQ(r.cases.pushed_deletes, 1u);
  EXPECT_TRUE(r.conflicts.empty());
  ExpectAcknowledgedDeleteOnly(phone.Get("todo", kA));
  EXPECT_TRUE(DumpLive(w.ServerStore()).empty());
}

TEST_P(EngineTest, Case3SyncedButGoneFromServerIsDeletedHere) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"v":0})"));
  ASSERT_OK(phone.Put("todo", kB, R"({"v":0})"));
  ASSERT_OK(phone.Put("todo", kC, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  ASSERT_OK(laptop.Remove("todo", kB));
  ASSERT_TRUE(laptop.Sync().ok());
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_EQ(r.cases.deleted_here, 1u);
  EXPECT_FALSE(phone.Get("todo", kB).has_value());
  EXPECT_EQ(DumpLive(*phone.store).size(), 2u);
}

TEST_P(EngineTest, MassDeletionGuardStopsAndChangesNothing) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  // The guard stops deletes by absence from a list; the changes feed
  // deletes only by the server's tombstones.
  phone.options.mode = laptop.options.mode = SyncMode::kFull;
  std::vector<RecordId> ids;
  for (int i = 0; i < 100; ++i) {
    ids.push_back(RecordId::Random());
    ASSERT_OK(phone.Put("todo", ids.back(), R"({"i":1})"));
  }
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  for (int i = 0; i < 80; ++i) ASSERT_OK(laptop.Remove("todo", ids[i]));
  ASSERT_TRUE(laptop.Sync().ok());

  Dump before = DumpLive(*phone.store);
  auto stopped = phone.Sync();
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().code(), Status::Code::kAborted);
  EXPECT_NE(stopped.status().message().find("80 of 100"), std::string::npos)
      << stopped.status().message();
  EXPECT_EQ(DumpLive(*phone.store), before);

  phone.options.allow_mass_delete = true;
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_EQ(r.cases.deleted_here, 80u);
  EXPECT_EQ(DumpLive(*phone.store).size(), 20u);
}

// A server that lost rows without noticing (no tombstones, its history
// unchanged: e.g. a restore the history check cannot see) lists fewer
// records than the device holds. More than the guard allows are absent,
// but none is proven deleted: the device pushes them back instead of
// stopping (issue 14: the guard counts proven deletes, not absences).
TEST_P(EngineTest, AnUnnoticedLossLargerThanTheGuardIsPushedBack) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  // The manifest's comparison (the changes feed lists what was written,
  // and this loss wrote nothing; a restore changes the history instead).
  phone.options.mode = SyncMode::kFull;
  std::vector<RecordId> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(RecordId::Random());
    ASSERT_OK(phone.Put("todo", ids.back(), R"({"i":1})"));
  }
  ASSERT_TRUE(phone.Sync().ok());
  ChangeBatch lose;
  for (int i = 0; i < 25; ++i) lose.Erase("todo", ids[i]);
  ASSERT_OK(w.ServerStore().Apply(WriteOptions{}, lose));

  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_EQ(r.cases.deleted_here, 0u);
  EXPECT_EQ(r.cases.repushed, 25u);
  EXPECT_EQ(DumpLive(w.ServerStore()).size(), 30u);
  EXPECT_EQ(DumpLive(*phone.store), DumpLive(w.ServerStore()));
}

TEST_P(EngineTest, InterruptedSyncLosesNothingAndResumes) {
  World w(GetParam());
  FailingTransport flaky(w.loopback());
  Device& phone = w.AddDevice("phone", "alice", &flaky);
  Device& laptop = w.AddDevice("laptop");
  phone.options.batch_records = 10;
  for (int i = 0; i < 95; ++i) {
    ASSERT_OK(phone.Put("todo", RecordId::Random(), R"({"k":"v"})"));
  }
  flaky.allowed = 3;  // the 4th call fails: 30 records got through
  auto failed = phone.Sync();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(DumpLive(w.ServerStore()).size(), 30u);

  flaky.allowed = 1'000'000;
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_EQ(r.cases.pushed_adds, 65u);  // only what was left
  ASSERT_TRUE(laptop.Sync().ok());
  EXPECT_EQ(DumpLive(*laptop.store).size(), 95u);
  EXPECT_EQ(DumpLive(*phone.store), DumpLive(w.ServerStore()));
}

TEST_P(EngineTest, AppWriteDuringSyncIsNeverOverwritten) {
  World w(GetParam());
  HookTransport hooked(w.loopback());
  Device& phone = w.AddDevice("phone", "alice", &hooked);
  Device& laptop = w.AddDevice("laptop");
  // A pull by synchronise racing the app (the changes feed applies the
  // laptop's edit before the hook's call, so nothing would race).
  phone.options.mode = SyncMode::kFull;
  ASSERT_OK(phone.Put("todo", kA, R"({"v":0})"));
  ASSERT_OK(phone.Put("todo", kB, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  w.clock().Advance(1000);
  ASSERT_OK(laptop.Put("todo", kA, R"({"v":"laptop"})"));
  ASSERT_OK(phone.Put("todo", kB, R"({"v":"pushing"})"));
  ASSERT_TRUE(laptop.Sync().ok());

  // While the phone's sync is in flight, its app edits both records.
  hooked.hook = [&] {
    w.clock().Advance(1000);
    ASSERT_OK(phone.Put("todo", kA, R"({"v":"app, during sync"})"));
    ASSERT_OK(phone.Put("todo", kB, R"({"v":"app again"})"));
  };
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_GE(r.skipped_local_edits, 1u);
  EXPECT_EQ(phone.Get("todo", kA)->payload, R"({"v":"app, during sync"})");
  EXPECT_EQ(phone.Get("todo", kB)->payload, R"({"v":"app again"})");
  EXPECT_NE(phone.Get("todo", kB)->state, SyncState::kSynced);

  ASSERT_TRUE(phone.Sync().ok());  // the next run pushes the app's edits
  ASSERT_TRUE(laptop.Sync().ok());
  EXPECT_EQ(laptop.Get("todo", kA)->payload, R"({"v":"app, during sync"})");
  EXPECT_EQ(laptop.Get("todo", kB)->payload, R"({"v":"app again"})");
}

// Under server-clock a device's write keeps its base's timestamp, so two
// writes of one row differ only in their payload: an app write made while
// the row's push is in flight must not be taken for the pushed one.
TEST_P(EngineTest, ServerClockAppRewriteDuringPushStaysDirty) {
  auto policy = NewPolicyByName("server-clock");
  ASSERT_TRUE(policy.ok());
  World w(GetParam(), {}, 1'700'000'000'000, std::move(policy).value());
  HookTransport hooked(w.loopback());
  Device& phone = w.AddDevice("phone", "alice", &hooked);
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kB, R"({"v":0})"));
  ASSERT_OK(phone.Put("todo", kC, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  w.clock().Advance(1000);
  // kA is new (created), kB and kC edits of synced rows (changed).
  ASSERT_OK(phone.Put("todo", kA, R"({"v":"first"})"));
  ASSERT_OK(phone.Put("todo", kB, R"({"v":"first"})"));
  ASSERT_OK(phone.Put("todo", kC, R"({"v":"first"})"));
  const Timestamp a_ts = phone.Get("todo", kA)->version.timestamp;
  const Timestamp b_ts = phone.Get("todo", kB)->version.timestamp;

  hooked.hook = [&] {
    w.clock().Advance(1000);
    ASSERT_OK(phone.Put("todo", kA, R"({"v":"second"})"));
    ASSERT_OK(phone.Put("todo", kB, R"({"v":"second"})"));
    ASSERT_OK(phone.Remove("todo", kC));
    // The premise: the rewrite reuses the pushed write's timestamp.
    EXPECT_EQ(phone.Get("todo", kA)->version.timestamp, a_ts);
    EXPECT_EQ(phone.Get("todo", kB)->version.timestamp, b_ts);
  };
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_EQ(r.cases.pushed_adds + r.cases.pushed_updates, 3u);
  EXPECT_EQ(phone.Get("todo", kA)->payload, R"({"v":"second"})");
  EXPECT_EQ(phone.Get("todo", kB)->payload, R"({"v":"second"})");
  EXPECT_NE(phone.Get("todo", kA)->state, SyncState::kSynced);
  EXPECT_NE(phone.Get("todo", kB)->state, SyncState::kSynced);
  EXPECT_EQ(phone.Get("todo", kC)->state, SyncState::kDeleted);

  ASSERT_OK_AND_ASSIGN(SyncReport next, phone.Sync());
  EXPECT_EQ(next.cases.pushed_updates, 2u);  // the second writes go up
  EXPECT_EQ(next.cases.pushed_deletes, 1u);
  EXPECT_TRUE(next.conflicts.empty()) << next.conflicts.front().what;
  EXPECT_EQ(phone.Get("todo", kA)->state, SyncState::kSynced);
  EXPECT_EQ(phone.Get("todo", kB)->state, SyncState::kSynced);
  ASSERT_TRUE(laptop.Sync().ok());
  EXPECT_EQ(laptop.Get("todo", kA)->payload, R"({"v":"second"})");
  EXPECT_EQ(laptop.Get("todo", kB)->payload, R"({"v":"second"})");
  EXPECT_FALSE(DumpLive(w.ServerStore()).contains({"todo", kC}));
  EXPECT_EQ(DumpLive(*phone.store), DumpLive(w.ServerStore()));
}

TEST_P(EngineTest, ProgressHasExactTotalsAndNeverGoesBack) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  phone.options.batch_records = 7;
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(phone.Put("todo", RecordId::Random(), R"({})"));
  }
  struct Observer : SyncObserver {
    std::vector<SyncProgress> seen;
    void OnProgress(const SyncProgress& p) override { seen.push_back(p); }
  } observer;
  auto r = phone.engine->Run(phone.options, &observer);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  uint64_t last_done = 0;
  bool saw_exchange = false;
  for (const auto& p : observer.seen) {
    EXPECT_LE(p.done, p.total);
    if (p.phase == SyncProgress::Phase::kExchange) {
      saw_exchange = true;
      EXPECT_EQ(p.total, 50u);
      EXPECT_GE(p.done, last_done);
      last_done = p.done;
    }
  }
  EXPECT_TRUE(saw_exchange);
  EXPECT_EQ(last_done, 50u);
  EXPECT_EQ(observer.seen.back().phase, SyncProgress::Phase::kDone);
  EXPECT_EQ(r->synchronise_calls, 8u);  // ceil(50 / 7)
  EXPECT_GT(r->traffic.bytes_sent, 0u);
}

TEST_P(EngineTest, AccountsAreIsolated) {
  World w(GetParam());
  Device& alice = w.AddDevice("a", "alice");
  Device& bob = w.AddDevice("b", "bob");
  ASSERT_OK(alice.Put("todo", kA, R"({"owner":"alice"})"));
  ASSERT_OK(bob.Put("todo", kA, R"({"owner":"bob"})"));  // same UUID
  ASSERT_TRUE(alice.Sync().ok());
  ASSERT_TRUE(bob.Sync().ok());
  ASSERT_TRUE(alice.Sync().ok());
  EXPECT_EQ(alice.Get("todo", kA)->payload, R"({"owner":"alice"})");
  EXPECT_EQ(bob.Get("todo", kA)->payload, R"({"owner":"bob"})");
  EXPECT_EQ(DumpLive(w.ServerStore("bob")).size(), 1u);
}

TEST_P(EngineTest, AnotherDeviceHoldingTheLockStopsTheSync) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  auto held = w.lock().Acquire("alice", "laptop", "");
  ASSERT_TRUE(held.ok() && held->granted);
  auto r = phone.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kLocked);
  // The message does not name the holder (issue 14).
  EXPECT_EQ(r.status().message().find("laptop"), std::string::npos)
      << r.status().message();
  ASSERT_OK(w.lock().Release("alice", held->lease.token));
  EXPECT_TRUE(phone.Sync().ok());
}

TEST_P(EngineTest, ALeaseThatExpiredMidSyncIsRefusedAndChangesNothing) {
  World w(GetParam());
  HookTransport hooked(w.loopback());
  Device& phone = w.AddDevice("phone", "alice", &hooked);
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"v":"late"})"));
  // The phone pauses past its lease; the laptop takes the lock meanwhile.
  hooked.hook = [&] {
    w.clock().Advance(31'000);
    auto taken = w.lock().Acquire("alice", "laptop", "");
    ASSERT_TRUE(taken.ok() && taken->granted);
  };
  auto r = phone.Sync();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kLeaseLost);
  EXPECT_TRUE(DumpLive(w.ServerStore()).empty());
  EXPECT_EQ(phone.Get("todo", kA)->state, SyncState::kCreated);  // kept
  laptop.options.lock = false;  // the test holds the laptop's lock itself
  (void)laptop;
}

TEST_P(EngineTest, WaitsForAnotherDevicesLeaseWhenAsked) {
  World w(GetParam());
  Device& phone = w.AddDevice("phone");
  // A lease that ends within a second of real time: the lock's clock is
  // the world's manual clock, so move it past expiry from another thread.
  auto held = w.lock().Acquire("alice", "laptop", "");
  ASSERT_TRUE(held.ok() && held->granted);
  std::thread expire([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    w.clock().Advance(31'000);
  });
  phone.options.lock_wait = std::chrono::seconds(5);
  auto r = phone.Sync();
  expire.join();
  EXPECT_TRUE(r.ok()) << r.status().ToString();
}

// Duplicated delivery does no harm end to end. (The engine always sends
// last_update, so last-write-wins alone makes this replay a no-op; the
// Idempotency test below is the one that needs the idempotency keys.)
TEST_P(EngineTest, DuplicatedSynchroniseDeliveryDoesNoHarm) {
  World w(GetParam());
  DuplicatingTransport twice(w.loopback());
  Device& phone = w.AddDevice("phone", "alice", &twice);
  Device& laptop = w.AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", kA, R"({"v":1})"));
  ASSERT_OK(phone.Put("todo", kB, R"({"v":1})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  w.clock().Advance(1000);
  ASSERT_OK(phone.Remove("todo", kA));
  ASSERT_OK(phone.Put("todo", kB, R"({"v":2})"));
  ASSERT_OK_AND_ASSIGN(SyncReport r, phone.Sync());
  EXPECT_TRUE(r.conflicts.empty());
  EXPECT_EQ(phone.Get("todo", kB)->state, SyncState::kSynced);
  ASSERT_TRUE(laptop.Sync().ok());
  EXPECT_EQ(DumpLive(*phone.store), DumpLive(w.ServerStore()));
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w.ServerStore()));
  EXPECT_EQ(DumpLive(w.ServerStore()).size(), 1u);
}

// An answer over the server's byte bound leaves records out under
// `_get_left` (issue 14, item 6); the device asks for them again in the
// same run and ends with every record.
TEST_P(EngineTest, AnAnswerCutByBytesIsCompletedInTheSameRun) {
  SyncServiceOptions limits;
  limits.max_body = 64 << 10;
  World w(GetParam(), {}, 1'700'000'000'000, nullptr, limits);
  Device& phone = w.AddDevice("phone");
  phone.options.batch_bytes = 32 << 10;  // its pushes fit the limit
  Device& laptop = w.AddDevice("laptop");
  // Not empty, so that its next sync gets records through synchronise
  // (an empty collection is filled by the streamed first sync instead).
  ASSERT_OK(laptop.Put("todo", kA, R"({"t":"a"})"));
  // Gets through synchronise.json (the changes feed has its own page cap).
  laptop.options.mode = SyncMode::kFull;
  ASSERT_OK_AND_ASSIGN(SyncReport first, laptop.Sync());
  std::mt19937_64 rng(14);
  const std::string big = R"({"t":")" + std::string(10000, 'x') + R"("})";
  for (int i = 0; i < 20; ++i) ASSERT_OK(phone.Put("todo", IdFrom(rng), big));
  ASSERT_OK_AND_ASSIGN(SyncReport pushed, phone.Sync());
  EXPECT_EQ(pushed.cases.fetched_new, 1u);
  EXPECT_EQ(pushed.cases.pushed_adds, 20u);

  ASSERT_OK_AND_ASSIGN(SyncReport pulled, laptop.Sync());
  EXPECT_EQ(pulled.cases.fetched_new, 20u) << pulled.mode_reason;
  // 200 KB of records in answers of at most ~64 KiB: at least 3 calls.
  EXPECT_GE(pulled.synchronise_calls, 3u);
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w.ServerStore()));
}

INSTANTIATE_TEST_SUITE_P(Stores, EngineTest,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         [](const auto& p) { return KindName(p.param); });

// --- the seed's own synchronise.json, through the service ---

std::string ReadTestData(const std::string& name) {
  const char* dir = std::getenv("SYNCSTACK_TEST_DATA");
  std::ifstream in(std::string(dir ? dir : "tests/data") + "/" + name);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

TEST(SeedExample, SynchroniseBodyIsDecodedAndApplied) {
  std::string body = ReadTestData("seed_synchronise.json");
  ASSERT_FALSE(body.empty()) << "tests/data/seed_synchronise.json missing";
  Schema schema;  // open: "gifts" and "invitations" are accepted, id "id"
  schema.Set("budget", "bid");
  World w(StoreKind::kSqlite, schema);

  Request login{"POST",
                std::string(kLoginPath),
                "",
                "",
                "",
                "",
                R"({"user":"mark","password":"x"})"};
  Response logged = w.service().Handle(login);
  ASSERT_EQ(logged.status, 200) << logged.body;
  auto token = DecodeLoginResponse(logged.body);
  ASSERT_TRUE(token.ok());

  Request sync{"POST", std::string(kSynchronisePath), "", token->token, "", "",
               body};
  Response no_lease = w.service().Handle(sync);
  EXPECT_EQ(no_lease.status, 428) << no_lease.body;

  Request lock{"POST", std::string(kLockPath),   "", token->token, "",
               "",     R"({"device":"android"})"};
  Response locked = w.service().Handle(lock);
  ASSERT_EQ(locked.status, 200) << locked.body;
  sync.lease = DecodeLockResponse(locked.body)->lease;

  Response answer = w.service().Handle(sync);
  ASSERT_EQ(answer.status, 200) << answer.body;
  auto decoded = DecodeSyncResponse(answer.body, schema);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();

  // add (4) and update (5, two of them the same ids as in add) leave six
  // distinct budget records; the repeated delete ids name no record (no-op);
  // get of unknown ids is left out of the answer.
  Dump server = DumpLive(w.ServerStore("mark"));
  EXPECT_EQ(server.size(), 6u);
  EXPECT_TRUE(decoded->get.empty());
  ASSERT_EQ(decoded->stamps.size(), 1u);
  EXPECT_EQ(decoded->stamps[0].collection, "budget");
  EXPECT_EQ(decoded->stamps[0].stamps.size(), 6u);
  auto rings = *RecordId::Parse("edd11083-5efd-4a04-9857-2ff7d16f533f");
  auto row = w.ServerStore("mark").GetOne("budget", rings);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_NE((*row)->payload.find(R"("expense_title":"Wedding rings")"),
            std::string::npos);
  EXPECT_NE((*row)->payload.find(R"("cost":300)"), std::string::npos);

  // Applying the same body again changes nothing (idempotent upserts).
  Response again = w.service().Handle(sync);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(DumpLive(w.ServerStore("mark")), server);
}

TEST(SeedExample, BadRequestsChangeNothing) {
  Schema schema;
  schema.Set("budget", "bid");
  schema.MakeStrict();
  World w(StoreKind::kMemory, schema);
  Request login{"POST",
                std::string(kLoginPath),
                "",
                "",
                "",
                "",
                R"({"user":"mark","password":"x"})"};
  auto token = DecodeLoginResponse(w.service().Handle(login).body);
  ASSERT_TRUE(token.ok());
  Request lock{"POST", std::string(kLockPath), "", token->token, "",
               "",     R"({"device":"d"})"};
  auto lease = DecodeLockResponse(w.service().Handle(lock).body);
  ASSERT_TRUE(lease.ok());
  const std::string good =
      R"({"bid":"10000000-0000-4000-8000-000000000001","x":1})";
  struct Case {
    std::string body;
    std::string names;  // a fragment the error message must contain
  };
  std::vector<Case> cases = {
      {"{not json", "JSON"},
      {R"({"add":{"budget":[)" + good + R"(,{"x":2}]}})", "add.budget[1]"},
      {R"({"add":{"budget":[)" + good + R"(]},"delete":{"budget":["nope"]}})",
       "delete.budget[0]"},
      {R"({"add":{"budget":[)" + good + R"(]},"get":{"gifts":[]}})", "gifts"},
      {R"({"add":{"budget":)" + good + R"(}})", "add.budget"},
      {R"({"add":[]})", "add"},
      {R"({"add":{"budget":[{"bid":"10000000-0000-4000-8000-000000000002",)"
       R"("x":)" +
           std::string(5000, '[') + std::string(5000, ']') + "}]}}",
       "deep"},
  };
  for (const auto& c : cases) {
    Request sync{"POST",       std::string(kSynchronisePath),
                 "",           token->token,
                 lease->lease, "",
                 c.body};
    Response r = w.service().Handle(sync);
    EXPECT_EQ(r.status, 400) << c.body;
    Status s = DecodeError(r.status, r.body);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument);
    EXPECT_NE(s.message().find(c.names), std::string::npos)
        << "message \"" << s.message() << "\" should name " << c.names
        << " for " << c.body.substr(0, 120);
    EXPECT_TRUE(DumpLive(w.ServerStore("mark")).empty()) << c.body;
  }
  // Unknown endpoint, no token, foreign lease.
  Request unknown{"GET", "/v1/nope", "", token->token, "", "", ""};
  EXPECT_EQ(w.service().Handle(unknown).status, 404);
  Request anonymous{"GET", std::string(kFetchPath), "", "", "", "", ""};
  EXPECT_EQ(w.service().Handle(anonymous).status, 401);
  Request foreign{"POST",
                  std::string(kSynchronisePath),
                  "",
                  token->token,
                  "not-a-lease",
                  "",
                  "{}"};
  EXPECT_EQ(w.service().Handle(foreign).status, 409);
}

TEST(Idempotency, AReplayedRequestIsAnsweredAsFirstAndAppliesNothing) {
  World w(StoreKind::kSqlite);
  auto first_body = R"({"update":{"todo":[{"id":"10000000-0000-4000-8000-)"
                    R"(000000000001","v":"first"}]}})";
  auto later_body = R"({"update":{"todo":[{"id":"10000000-0000-4000-8000-)"
                    R"(000000000001","v":"later"}]}})";
  Request login{"POST",
                std::string(kLoginPath),
                "",
                "",
                "",
                "",
                R"({"user":"mark","password":"x"})"};
  auto token = DecodeLoginResponse(w.service().Handle(login).body)->token;
  Request lock{"POST", std::string(kLockPath), "", token, "",
               "",     R"({"device":"d"})"};
  auto lease = DecodeLockResponse(w.service().Handle(lock).body)->lease;
  Request first{
      "POST",    std::string(kSynchronisePath), "", token, lease, "key-1",
      first_body};
  Response a = w.service().Handle(first);
  ASSERT_EQ(a.status, 200) << a.body;
  w.clock().Advance(1000);
  Request later{
      "POST",    std::string(kSynchronisePath), "", token, lease, "key-2",
      later_body};
  ASSERT_EQ(w.service().Handle(later).status, 200);
  w.clock().Advance(1000);
  // Without the key, this timestamp-less update would be applied again as
  // the newest write and undo "later".
  Response replay = w.service().Handle(first);
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.body, a.body);  // the same stamps
  auto row = w.ServerStore("mark").GetOne("todo", kA);
  ASSERT_TRUE(row.ok() && row->has_value());
  EXPECT_EQ((*row)->payload, R"({"v":"later"})");
  // The same body under a new key is a new request.
  first.idempotency_key = "key-3";
  ASSERT_EQ(w.service().Handle(first).status, 200);
  EXPECT_EQ(w.ServerStore("mark").GetOne("todo", kA).value()->payload,
            R"({"v":"first"})");
}

TEST(Tokens, ExpireAfterTheirLifetime) {
  World w(StoreKind::kMemory);
  Request login{"POST",
                std::string(kLoginPath),
                "",
                "",
                "",
                "",
                R"({"user":"mark","password":"x"})"};
  auto answer = DecodeLoginResponse(w.service().Handle(login).body);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->expires_in, 3600);
  Request fetch{"GET", std::string(kFetchPath), "", answer->token, "", "", ""};
  EXPECT_EQ(w.service().Handle(fetch).status, 200);
  w.clock().Advance(3600 * 1000 + 1);
  Response expired = w.service().Handle(fetch);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(DecodeError(401, expired.body).code(), Status::Code::kUnauthorized);
}

// A sync longer than the lease keeps its lock by renewing it (real time: the
// engine renews at half the lease's life).
TEST(LockRenewal, ALongSyncRenewsItsLease) {
  auto device_db = OpenMemoryDatabase().value();
  auto store = device_db->OpenAccount(kLocalAccount).value();
  InProcessServerOptions server_options;
  server_options.database = OpenMemoryDatabase().value();
  server_options.policy = NewLastWriteWinsPolicy();
  server_options.lease = std::chrono::seconds(2);
  InProcessServer server(std::move(server_options));
  const ConflictPolicy* policy = &server.policy();
  HookTransport slow(server.transport());
  Replica app(*store, *policy, SystemClock());
  for (int i = 0; i < 4; ++i) {
    ASSERT_OK(app.Put("todo", RecordId::Random(), R"({})"));
  }
  int calls = 0;
  std::function<void()> pause = [&] {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    slow.hook = pause;
  };
  slow.hook = pause;
  SyncEngine engine(*store, slow, *policy);
  SyncOptions options;
  options.user = "alice";
  options.device = "phone";
  options.batch_records = 1;  // 4 calls, 3.2 s in all: longer than the lease
  auto r = engine.Run(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(DumpLive(*server.database().OpenAccount("alice").value()).size(),
            4u);
}

}  // namespace
}  // namespace syncstack::testing

namespace syncstack::testing {
// Last-write-wins orders a delete by when it was made, not by when it
// reached the server: an edit made after it on another device wins even if
// the delete was synced first (found by tests/faults).
TEST(DeleteOrder, AnEarlierDeleteSyncedFirstLosesToALaterEdit) {
  World w(StoreKind::kMemory);
  Device& phone = w.AddDevice("phone");
  Device& laptop = w.AddDevice("laptop");
  RecordId a = RecordId::Random();
  ASSERT_OK(phone.Put("todo", a, R"({"v":0})"));
  ASSERT_TRUE(phone.Sync().ok());
  ASSERT_TRUE(laptop.Sync().ok());
  w.clock().Advance(100);
  ASSERT_OK(phone.Remove("todo", a));  // t1
  w.clock().Advance(100);
  ASSERT_OK(laptop.Put("todo", a, R"({"v":"later edit"})"));  // t2 > t1
  w.clock().Advance(100);
  ASSERT_TRUE(phone.Sync().ok());  // delete reaches the server first
  w.clock().Advance(100);
  auto r = laptop.Sync();
  ASSERT_TRUE(r.ok());
  auto live = DumpLive(w.ServerStore());
  EXPECT_EQ(live.size(), 1u) << "the later edit lost to an earlier delete";
}
}  // namespace syncstack::testing
