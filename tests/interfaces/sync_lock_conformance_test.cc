// The SyncLock contract, for every implementation: one holder per account,
// renewal, expiry, release, fencing numbers that only grow.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <thread>

#include "syncstack/sync_lock.h"

namespace syncstack {
namespace {

struct LockFactory {
  std::string name;
  std::function<std::unique_ptr<SyncLock>(Clock&, std::chrono::milliseconds)>
      make;
};

class SyncLockConformance : public ::testing::TestWithParam<LockFactory> {
 protected:
  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<SyncLock> lock_ =
      GetParam().make(clock_, std::chrono::seconds(30));
};

TEST_P(SyncLockConformance, OneHolderPerAccount) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  EXPECT_FALSE(a->lease.token.empty());
  auto b = lock_->Acquire("alice", "laptop", "");
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->granted);
  EXPECT_EQ(b->holder, "phone");
  EXPECT_GT(b->retry_after_ms, 0);
  EXPECT_LE(b->retry_after_ms, 30'000);
  auto other = lock_->Acquire("bob", "laptop", "");  // another account
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->granted);
}

TEST_P(SyncLockConformance, RenewalExtendsAndKeepsTheLease) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  clock_.Advance(20'000);
  auto renewed = lock_->Acquire("alice", "phone", a->lease.token);
  ASSERT_TRUE(renewed.ok() && renewed->granted);
  EXPECT_EQ(renewed->lease.token, a->lease.token);
  EXPECT_EQ(renewed->lease.fence, a->lease.fence);
  EXPECT_GT(renewed->lease.expires_at, a->lease.expires_at);
  clock_.Advance(20'000);  // 40 s after the grant, 20 s after renewal
  EXPECT_TRUE(lock_->Check("alice", a->lease.token).ok());
}

TEST_P(SyncLockConformance, ExpiryLetsTheNextDeviceInWithAHigherFence) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  clock_.Advance(30'001);
  EXPECT_EQ(lock_->Check("alice", a->lease.token).status().code(),
            Status::Code::kLeaseLost);
  auto b = lock_->Acquire("alice", "laptop", "");
  ASSERT_TRUE(b.ok() && b->granted);
  EXPECT_GT(b->lease.fence, a->lease.fence);
  // The late phone cannot renew its way back in.
  auto late = lock_->Acquire("alice", "phone", a->lease.token);
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->granted);
}

TEST_P(SyncLockConformance, ReleaseFreesOnlyWithTheRightToken) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  EXPECT_TRUE(lock_->Release("alice", "not-the-token").ok());
  EXPECT_FALSE(lock_->Acquire("alice", "laptop", "")->granted);
  EXPECT_TRUE(lock_->Release("alice", a->lease.token).ok());
  EXPECT_EQ(lock_->Check("alice", a->lease.token).status().code(),
            Status::Code::kLeaseLost);
  auto b = lock_->Acquire("alice", "laptop", "");
  ASSERT_TRUE(b.ok() && b->granted);
  EXPECT_GT(b->lease.fence, a->lease.fence);
}

TEST_P(SyncLockConformance, CheckNeedsALease) {
  EXPECT_EQ(lock_->Check("alice", "").status().code(),
            Status::Code::kLeaseRequired);
  EXPECT_EQ(lock_->Check("alice", "bogus").status().code(),
            Status::Code::kLeaseLost);
  EXPECT_EQ(lock_->Acquire("alice", "", "").status().code(),
            Status::Code::kInvalidArgument);
}

TEST_P(SyncLockConformance, RacingDevicesGetOneGrant) {
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      auto r = lock_->Acquire("alice", "device" + std::to_string(t), "");
      if (r.ok() && r->granted) granted++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 1);
}

INSTANTIATE_TEST_SUITE_P(Locks, SyncLockConformance,
                         ::testing::Values(LockFactory{
                             "memory",
                             [](Clock& c, std::chrono::milliseconds l) {
                               return NewMemorySyncLock(c, l);
                             }}),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace syncstack
