// The SyncLock conformance suite (see sync_lock_conformance.h), written
// once over LockFactory.
#include "syncstack/conformance/sync_lock_conformance.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace syncstack::conformance {

std::string LockFactoryName(const ::testing::TestParamInfo<LockFactory>& info) {
  return info.param.name;
}

void PrintTo(const LockFactory& factory, std::ostream* os) {
  *os << factory.name;
}

void SyncLockConformance::SetUp() {
  lock_ = GetParam().make(clock_, std::chrono::seconds(30));
  if (lock_ == nullptr) {
    if (IsSkipped()) return;
    GTEST_FAIL() << GetParam().name << ": no lock";
  }
}

namespace {

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

// A device that comes back without its token (a new run after a crash)
// does not wait out its own lease, but gets a new one: whatever the earlier
// run still has in flight carries the old token and is refused.
TEST_P(SyncLockConformance, TheSameDeviceWithoutItsTokenGetsANewLease) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  clock_.Advance(1'000);
  auto again = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(again.ok() && again->granted);
  EXPECT_NE(again->lease.token, a->lease.token);
  EXPECT_GT(again->lease.fence, a->lease.fence);
  EXPECT_EQ(lock_->Check("alice", a->lease.token).status().code(),
            Status::Code::kLeaseLost);
  EXPECT_TRUE(lock_->Check("alice", again->lease.token).ok());
  // Another device still waits.
  EXPECT_FALSE(lock_->Acquire("alice", "laptop", "")->granted);
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

}  // namespace
}  // namespace syncstack::conformance
