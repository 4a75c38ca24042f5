// Tombstone collection through the real engine and service, under every
// built-in policy: a device that returns after the tombstones it needed
// were collected does a full resync and resurrects nothing; a live
// device's mark holds tombstones back; a device that synced after the
// delete is not made to resync.
#include <gtest/gtest.h>

#include "engine/policies.h"
#include "engine/world.h"
#include "syncstack/policies/registry.h"
#include "syncstack/protocol.h"
#include "syncstack/tombstones.h"

namespace syncstack::testing {
namespace {

constexpr int64_t kDay = 24 * 3600 * 1000;
constexpr std::chrono::milliseconds kTtl{30 * kDay};

const RecordId kR = *RecordId::Parse("10000000-0000-4000-8000-000000000001");
const RecordId kS = *RecordId::Parse("20000000-0000-4000-8000-000000000002");

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  return PolicyTestName(info.param);
}

class TombstoneGc : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto p = NewPolicyByName(GetParam());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    w_ = std::make_unique<World>(StoreKind::kMemory, Schema{},
                                 1'700'000'000'000, std::move(p).value());
  }
  SyncReport Sync(Device& d) {
    w_->clock().Advance(1000);
    auto r = d.Sync();
    EXPECT_TRUE(r.ok()) << d.name << ": " << r.status().ToString();
    return r.ok() ? *r : SyncReport{};
  }
  // The server's row (tombstones included), or nullopt.
  std::optional<Record> ServerRow(const RecordId& id) {
    auto r = w_->ServerStore().GetOne("todo", id);
    EXPECT_TRUE(r.ok());
    return r.ok() ? *r : std::nullopt;
  }
  bool LiveOn(Device& d, const RecordId& id) {
    auto r = d.Get("todo", id);
    return r && !r->deleted;
  }
  std::unique_ptr<World> w_;
};

INSTANTIATE_TEST_SUITE_P(Policies, TombstoneGc,
                         ::testing::ValuesIn(EveryPolicyName()), TestName);

// The issue's scenario: B is offline with an edit of R and a synced copy
// of S; A deletes both. Once B has been gone past the ttl the tombstones
// are collected; B returns, resyncs, and neither record comes back.
TEST_P(TombstoneGc, ReturningDeviceResyncsAndResurrectsNothing) {
  Device& a = w_->AddDevice("a");
  Device& b = w_->AddDevice("b");
  ASSERT_OK(a.Put("todo", kR, R"({"t":"r"})"));
  ASSERT_OK(a.Put("todo", kS, R"({"t":"s"})"));
  Sync(a);
  Sync(b);
  ASSERT_TRUE(LiveOn(b, kR) && LiveOn(b, kS));
  w_->clock().Advance(1000);
  ASSERT_OK(b.Put("todo", kR, R"({"t":"r, edited offline"})"));

  w_->clock().Advance(31 * kDay);  // b is gone past the ttl
  ASSERT_OK(a.Remove("todo", kR));
  ASSERT_OK(a.Remove("todo", kS));
  Sync(a);  // pushes the deletes
  Sync(a);  // its mark now covers them...
  Sync(a);  // ...and the server learns that mark at this lock
  ASSERT_TRUE(ServerRow(kR).has_value()) << "the tombstone exists";

  auto gc = w_->service().CollectTombstones("alice", kTtl);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->collected, 2u);
  EXPECT_EQ(gc->live_devices, 1u);
  EXPECT_EQ(gc->gone_devices, 1u);
  EXPECT_FALSE(ServerRow(kR).has_value());
  EXPECT_FALSE(ServerRow(kS).has_value());

  SyncReport back = Sync(b);
  EXPECT_TRUE(back.resynced);
  EXPECT_FALSE(LiveOn(b, kR));
  EXPECT_FALSE(LiveOn(b, kS));
  EXPECT_FALSE(ServerRow(kR).has_value());
  EXPECT_FALSE(ServerRow(kS).has_value());
  ASSERT_EQ(back.conflicts.size(), 1u);
  EXPECT_EQ(back.conflicts[0].id, kR);
  EXPECT_EQ(back.conflicts[0].kept, Kept::kServer);
  EXPECT_EQ(back.conflicts[0].what,
            "edited here, deleted on the server (tombstone collected)");

  // Back to normal: no resync, nothing left to do, both sides agree.
  SyncReport again = Sync(b);
  EXPECT_FALSE(again.resynced);
  EXPECT_TRUE(again.conflicts.empty());
  Sync(a);
  EXPECT_EQ(DumpLive(*a.store), DumpLive(*b.store));
  EXPECT_EQ(DumpLive(*a.store), DumpLive(w_->ServerStore()));
}

// B is live (seen within the ttl) but has not synced since the delete:
// its mark holds the tombstone, and its offline edit meets it as usual.
TEST_P(TombstoneGc, LiveDeviceBelowTheTombstoneKeepsIt) {
  Device& a = w_->AddDevice("a");
  Device& b = w_->AddDevice("b");
  ASSERT_OK(a.Put("todo", kR, R"({"t":"r"})"));
  Sync(a);
  Sync(b);
  ASSERT_OK(a.Remove("todo", kR));
  Sync(a);
  Sync(a);
  Sync(a);
  auto gc = w_->service().CollectTombstones("alice", kTtl);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->collected, 0u);
  EXPECT_EQ(gc->kept, 1u);
  EXPECT_EQ(gc->live_devices, 2u);
  auto row = ServerRow(kR);
  ASSERT_TRUE(row.has_value());
  EXPECT_TRUE(row->deleted);

  SyncReport back = Sync(b);
  EXPECT_FALSE(back.resynced);
  EXPECT_FALSE(LiveOn(b, kR));
  EXPECT_EQ(back.cases.deleted_here, 1u);
}

// B completed a sync after the delete and then went quiet past the ttl:
// everything is collected, yet B is not made to resync.
TEST_P(TombstoneGc, DeviceThatSyncedAfterTheDeleteDoesNotResync) {
  Device& a = w_->AddDevice("a");
  Device& b = w_->AddDevice("b");
  ASSERT_OK(a.Put("todo", kR, R"({"t":"r"})"));
  ASSERT_OK(a.Put("todo", kS, R"({"t":"s"})"));
  Sync(a);
  Sync(b);
  ASSERT_OK(a.Remove("todo", kR));
  Sync(a);
  Sync(b);  // sees the delete
  Sync(b);  // a complete sync that started after it: mark >= the delete
  w_->clock().Advance(31 * kDay);
  auto gc = w_->service().CollectTombstones("alice", kTtl);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->live_devices, 0u);
  EXPECT_EQ(gc->collected, 1u);
  EXPECT_FALSE(ServerRow(kR).has_value());

  ASSERT_OK(b.Put("todo", kS, R"({"t":"s, edited"})"));
  SyncReport back = Sync(b);
  EXPECT_FALSE(back.resynced);
  EXPECT_TRUE(back.conflicts.empty());
  EXPECT_EQ(back.cases.pushed_updates, 1u);
  EXPECT_FALSE(LiveOn(b, kR));
}

// A collection that ran without the lock (another process on a store
// without a shared lock) while B was mid-sync: B's write is refused before
// it can resurrect anything, and B's next sync is a full resync.
TEST_P(TombstoneGc, CollectionDuringASyncStopsTheSync) {
  Device& a = w_->AddDevice("a");
  Device& b = w_->AddDevice("b");
  ASSERT_OK(a.Put("todo", kR, R"({"t":"r"})"));
  Sync(a);
  Sync(b);
  w_->clock().Advance(1000);
  ASSERT_OK(b.Put("todo", kR, R"({"t":"r, edited offline"})"));
  ASSERT_OK(a.Remove("todo", kR));
  Sync(a);
  Sync(a);
  Sync(a);
  // B syncs; just before its synchronise call, a collection with a ttl of
  // 0 (everyone "gone") takes the tombstone B's lock answer promised.
  class Slip : public TransportWrapper {
   public:
    using TransportWrapper::TransportWrapper;
    Result<Response> Call(const Request& request) noexcept override {
      if (request.path == kSynchronisePath && store != nullptr) {
        auto gc = CollectTombstones(*store, now, std::chrono::milliseconds(0));
        collected = gc.ok() ? gc->collected : 0;
        store = nullptr;
      }
      return TransportWrapper::Call(request);
    }
    Store* store = nullptr;
    Timestamp now = 0;
    uint64_t collected = 0;
  } slip(w_->loopback());
  slip.store = &w_->ServerStore();
  slip.now = w_->clock().Now() + 10 * kDay;
  SyncEngine engine(*b.store, slip, w_->policy());
  auto r = engine.Run(b.options);
  EXPECT_EQ(slip.collected, 1u);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kAborted);
  EXPECT_FALSE(ServerRow(kR).has_value()) << "nothing resurrected";

  SyncReport back = Sync(b);
  EXPECT_TRUE(back.resynced);
  EXPECT_FALSE(LiveOn(b, kR));
  EXPECT_FALSE(ServerRow(kR).has_value());
}

// The device list is bounded: a thousand devices seen after B push B's
// mark out. B, live but forgotten, no longer holds the tombstone back; it
// is collected, and B, returning with an offline edit of the record, is
// told to resync and resurrects nothing.
TEST_P(TombstoneGc, ForgottenDeviceResyncsAndResurrectsNothing) {
  Device& a = w_->AddDevice("a");
  Device& b = w_->AddDevice("b");
  ASSERT_OK(a.Put("todo", kR, R"({"t":"r"})"));
  Sync(a);
  Sync(b);
  ASSERT_OK(b.Put("todo", kR, R"({"t":"r, edited offline"})"));
  ASSERT_OK(a.Remove("todo", kR));
  Sync(a);
  Sync(a);
  Sync(a);

  Store& server = w_->ServerStore();
  auto seq = AccountSequence(server);
  ASSERT_TRUE(seq.ok());
  auto marks = ReadDeviceMarks(server);
  ASSERT_TRUE(marks.ok());
  ChangeBatch batch;
  for (size_t i = 0; i < kMaxDeviceMarks; ++i) {
    DeviceMark m;
    m.device = "other-" + std::to_string(i);
    m.mark = *seq;
    m.seen = w_->clock().Now();
    SetDeviceMark(*marks, std::move(m), batch);
  }
  ASSERT_OK(server.Apply(WriteOptions{}, batch));
  marks = ReadDeviceMarks(server);
  ASSERT_TRUE(marks.ok());
  EXPECT_EQ(marks->size(), kMaxDeviceMarks);
  for (const DeviceMark& m : *marks) {
    EXPECT_NE(m.device, "b") << "b was seen longest ago";
  }

  auto gc = w_->service().CollectTombstones("alice", kTtl);
  ASSERT_TRUE(gc.ok()) << gc.status().ToString();
  EXPECT_EQ(gc->collected, 1u) << "b's mark no longer holds it";
  EXPECT_FALSE(ServerRow(kR).has_value());

  SyncReport back = Sync(b);
  EXPECT_TRUE(back.resynced);
  EXPECT_FALSE(LiveOn(b, kR));
  EXPECT_FALSE(ServerRow(kR).has_value());
}

TEST(TombstoneGcInput, NegativeTtlIsRefused) {
  World w(StoreKind::kMemory);
  auto gc =
      w.service().CollectTombstones("alice", std::chrono::milliseconds(-1));
  ASSERT_FALSE(gc.ok());
  EXPECT_EQ(gc.status().code(), Status::Code::kInvalidArgument);
}

}  // namespace
}  // namespace syncstack::testing
