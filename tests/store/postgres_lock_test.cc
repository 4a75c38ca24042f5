// The PostgreSQL SyncLock across processes: two Database objects on one
// schema (two connection pools, as two `syncstack serve` processes have)
// share one lease per account, and a write fenced by a lease that was lost
// after it was checked is refused inside the write's own transaction. The
// SyncLock contract itself is the conformance kit's, instantiated below.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "postgres_env.h"
#include "syncstack/conformance/sync_lock_conformance.h"
#include "syncstack/postgres/postgres_store.h"
#include "syncstack/sync_lock.h"

namespace syncstack {
namespace {

constexpr auto kLease = std::chrono::seconds(30);

// Two "processes" on one database: their own Database, pool and lock.
struct TwoProcesses {
  std::unique_ptr<Database> db1, db2;
  std::unique_ptr<SyncLock> lock1, lock2;
};

bool Open(Clock& clock, TwoProcesses& p) {
  std::string schema = testing_pg::UniqueSchema("twoproc");
  auto db1 = testing_pg::OpenSchema(schema);
  if (!db1.ok()) {
    if (!::testing::Test::IsSkipped()) ADD_FAILURE() << db1.status().ToString();
    return false;
  }
  auto db2 = testing_pg::OpenSchema(schema);
  if (!db2.ok()) {
    ADD_FAILURE() << db2.status().ToString();
    return false;
  }
  p.db1 = std::move(*db1);
  p.db2 = std::move(*db2);
  p.lock1 = p.db1->NewSyncLock(clock, kLease);
  p.lock2 = p.db2->NewSyncLock(clock, kLease);
  EXPECT_NE(p.lock1, nullptr);
  EXPECT_NE(p.lock2, nullptr);
  return p.lock1 != nullptr && p.lock2 != nullptr;
}

Record Note(const RecordId& id, std::string payload) {
  Record r;
  r.collection = "notes";
  r.id = id;
  r.version.timestamp = 1;
  r.payload = std::move(payload);
  return r;
}

TEST(PostgresSyncLock, TwoProcessesShareOneLeasePerAccount) {
  ManualClock clock(1'700'000'000'000);
  TwoProcesses p;
  if (!Open(clock, p)) return;

  auto phone = p.lock1->Acquire("alice", "phone", "");
  ASSERT_TRUE(phone.ok()) << phone.status().ToString();
  ASSERT_TRUE(phone->granted);
  auto laptop = p.lock2->Acquire("alice", "laptop", "");
  ASSERT_TRUE(laptop.ok()) << laptop.status().ToString();
  EXPECT_FALSE(laptop->granted);
  EXPECT_EQ(laptop->holder, "phone");
  EXPECT_GT(laptop->retry_after_ms, 0);

  // The lease is the database's: the other process checks and renews it.
  auto checked = p.lock2->Check("alice", phone->lease.token);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(checked->fence, phone->lease.fence);
  clock.Advance(10'000);
  auto renewed = p.lock2->Acquire("alice", "phone", phone->lease.token);
  ASSERT_TRUE(renewed.ok() && renewed->granted);
  EXPECT_EQ(renewed->lease.token, phone->lease.token);
  EXPECT_GT(renewed->lease.expires_at, phone->lease.expires_at);

  // Released through one process, granted through the other, fence up.
  ASSERT_TRUE(p.lock2->Release("alice", phone->lease.token).ok());
  EXPECT_EQ(p.lock1->Check("alice", phone->lease.token).status().code(),
            Status::Code::kLeaseLost);
  laptop = p.lock1->Acquire("alice", "laptop", "");
  ASSERT_TRUE(laptop.ok() && laptop->granted);
  EXPECT_GT(laptop->lease.fence, phone->lease.fence);
}

TEST(PostgresSyncLock, RacingDevicesOnTwoProcessesGetOneGrant) {
  ManualClock clock(1'700'000'000'000);
  TwoProcesses p;
  if (!Open(clock, p)) return;
  for (int round = 0; round < 5; ++round) {
    std::string account = "racer" + std::to_string(round);
    std::atomic<int> granted{0}, errors{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        SyncLock& lock = t % 2 == 0 ? *p.lock1 : *p.lock2;
        auto r = lock.Acquire(account, "device" + std::to_string(t), "");
        if (!r.ok()) {
          errors++;
        } else if (r->granted) {
          granted++;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(errors.load(), 0);
    EXPECT_EQ(granted.load(), 1) << "round " << round;
  }
}

TEST(PostgresSyncLock, WriteWithALeaseLostAfterTheCheckIsRefused) {
  ManualClock clock(1'700'000'000'000);
  TwoProcesses p;
  if (!Open(clock, p)) return;
  auto store1 = p.db1->OpenAccount("alice");
  auto store2 = p.db2->OpenAccount("alice");
  ASSERT_TRUE(store1.ok() && store2.ok());

  // A fenced write with the live lease commits.
  auto phone = p.lock1->Acquire("alice", "phone", "");
  ASSERT_TRUE(phone.ok() && phone->granted);
  RecordId first = RecordId::Random();
  {
    ChangeBatch batch;
    batch.Put(Note(first, R"({"by":"phone"})"));
    auto live = p.lock1->Check("alice", phone->lease.token);
    ASSERT_TRUE(live.ok());
    p.lock1->Fence(*live, batch);
    ASSERT_TRUE(batch.lease().has_value());
    Status s = (*store1)->Apply(WriteOptions(), batch);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The phone's server checks its lease, then stalls past the lease; the
  // laptop is granted the lock through the other process meanwhile.
  RecordId late = RecordId::Random();
  ChangeBatch stale;
  stale.Put(Note(late, R"({"by":"phone, late"})"));
  stale.SetMeta("checkpoint", "phone");
  auto live = p.lock1->Check("alice", phone->lease.token);
  ASSERT_TRUE(live.ok());
  p.lock1->Fence(*live, stale);
  clock.Advance(30'001);
  auto laptop = p.lock2->Acquire("alice", "laptop", "");
  ASSERT_TRUE(laptop.ok() && laptop->granted);
  Status s = (*store1)->Apply(WriteOptions(), stale);
  EXPECT_EQ(s.code(), Status::Code::kLeaseLost) << s.ToString();
  // Nothing of the batch was applied.
  auto row = (*store2)->GetOne("notes", late);
  ASSERT_TRUE(row.ok());
  EXPECT_FALSE(row->has_value());
  EXPECT_FALSE((*store2)->GetMeta("checkpoint")->has_value());
  EXPECT_TRUE((*store2)->GetOne("notes", first)->has_value());

  // A lease that expired with nobody else granted is refused too.
  ChangeBatch expired;
  expired.Put(Note(RecordId::Random(), "{}"));
  auto laptop_live = p.lock2->Check("alice", laptop->lease.token);
  ASSERT_TRUE(laptop_live.ok());
  clock.Advance(30'001);
  p.lock2->Fence(*laptop_live, expired);
  EXPECT_EQ((*store2)->Apply(WriteOptions(), expired).code(),
            Status::Code::kLeaseLost);

  // A fence on another account's lease, or a made-up one, is refused.
  auto bob = p.lock1->Acquire("bob", "phone", "");
  ASSERT_TRUE(bob.ok() && bob->granted);
  ChangeBatch foreign;
  foreign.Put(Note(RecordId::Random(), "{}"));
  p.lock1->Fence(bob->lease, foreign);
  EXPECT_EQ((*store1)->Apply(WriteOptions(), foreign).code(),
            Status::Code::kLeaseLost);
}

TEST(PostgresSyncLock, AGrantWaitsForAFencedWriteInFlight) {
  // A write holding the lease row FOR SHARE delays a new grant until it
  // commits: here a large fenced batch and a grant race; whichever the
  // database orders first, the batch is either applied whole while the
  // phone still held the lock or refused whole.
  ManualClock clock(1'700'000'000'000);
  TwoProcesses p;
  if (!Open(clock, p)) return;
  auto store1 = p.db1->OpenAccount("alice");
  auto store2 = p.db2->OpenAccount("alice");
  ASSERT_TRUE(store1.ok() && store2.ok());
  for (int round = 0; round < 5; ++round) {
    auto phone = p.lock1->Acquire("alice", "phone" + std::to_string(round), "");
    ASSERT_TRUE(phone.ok() && phone->granted);
    ChangeBatch batch;
    std::vector<RecordId> ids;
    for (int i = 0; i < 500; ++i) {
      ids.push_back(RecordId::Random());
      batch.Put(Note(ids.back(), R"({"round":)" + std::to_string(round) + "}"));
    }
    p.lock1->Fence(phone->lease, batch);
    Status applied;
    std::thread writer(
        [&] { applied = (*store1)->Apply(WriteOptions(), batch); });
    // Release through the other process and grant to someone else.
    ASSERT_TRUE(p.lock2->Release("alice", phone->lease.token).ok());
    auto other = p.lock2->Acquire("alice", "other", "");
    writer.join();
    ASSERT_TRUE(other.ok() && other->granted);
    size_t present = 0;
    ASSERT_TRUE(
        (*store2)->Get("notes", ids, [&](const Record&) { ++present; }).ok());
    if (applied.ok()) {
      EXPECT_EQ(present, ids.size());
    } else {
      EXPECT_EQ(applied.code(), Status::Code::kLeaseLost) << applied.ToString();
      EXPECT_EQ(present, 0u);
    }
    ASSERT_TRUE(p.lock2->Release("alice", other->lease.token).ok());
  }
}

// The SyncLock conformance kit over the lock of a fresh schema.
using conformance::LockFactory;
using conformance::SyncLockConformance;

// The lock of a PostgreSQL database in a fresh schema; it owns the
// database it came from.
class OwningLock final : public SyncLock {
 public:
  OwningLock(std::unique_ptr<Database> db, std::unique_ptr<SyncLock> lock)
      : db_(std::move(db)), lock_(std::move(lock)) {}
  ~OwningLock() override { lock_.reset(); }
  Result<LockAttempt> Acquire(std::string_view account, std::string_view device,
                              std::string_view current,
                              std::string_view secret) noexcept override {
    return lock_->Acquire(account, device, current, secret);
  }
  Status Release(std::string_view account,
                 std::string_view token) noexcept override {
    return lock_->Release(account, token);
  }
  Result<Lease> Check(std::string_view account,
                      std::string_view token) noexcept override {
    return lock_->Check(account, token);
  }
  void Fence(const Lease& lease, ChangeBatch& batch) override {
    lock_->Fence(lease, batch);
  }

 private:
  std::unique_ptr<Database> db_;
  std::unique_ptr<SyncLock> lock_;
};

std::unique_ptr<SyncLock> NewPostgresLock(Clock& clock,
                                          std::chrono::milliseconds lease) {
  auto db = testing_pg::OpenSchema(testing_pg::UniqueSchema("lock"));
  if (!db.ok()) {
    if (db.status().code() != Status::Code::kUnavailable ||
        std::getenv("SYNCSTACK_PG_CONNINFO") != nullptr) {
      ADD_FAILURE() << db.status().ToString();
    }
    return nullptr;
  }
  auto lock = (*db)->NewSyncLock(clock, lease);
  if (lock == nullptr) {
    ADD_FAILURE() << "the PostgreSQL database has no shared lock";
    return nullptr;
  }
  return std::make_unique<OwningLock>(std::move(*db), std::move(lock));
}
INSTANTIATE_TEST_SUITE_P(Locks, SyncLockConformance,
                         ::testing::Values(LockFactory{"postgres",
                                                       NewPostgresLock}),
                         conformance::LockFactoryName);

}  // namespace
}  // namespace syncstack
