// The SyncLock conformance suite (see sync_lock_conformance.h), written
// once over LockFactory.
#include "syncstack/conformance/sync_lock_conformance.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <string_view>
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
// and proves with its device secret that it is the holder does not wait
// out its own lease, but gets a new one: whatever the earlier run still has
// in flight carries the old token and is refused.
TEST_P(SyncLockConformance, TheHoldersSecretWithoutItsTokenGetsANewLease) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  ASSERT_EQ(a->device_secret.size(), 32u) << "the first grant gives a secret";
  clock_.Advance(1'000);
  auto again = lock_->Acquire("alice", "phone", "", a->device_secret);
  ASSERT_TRUE(again.ok() && again->granted);
  EXPECT_NE(again->lease.token, a->lease.token);
  EXPECT_GT(again->lease.fence, a->lease.fence);
  EXPECT_TRUE(again->device_secret.empty()) << "the secret stays valid";
  EXPECT_EQ(lock_->Check("alice", a->lease.token).status().code(),
            Status::Code::kLeaseLost);
  EXPECT_TRUE(lock_->Check("alice", again->lease.token).ok());
  // The same secret still proves it, again.
  auto third = lock_->Acquire("alice", "phone", "", a->device_secret);
  ASSERT_TRUE(third.ok() && third->granted);
  EXPECT_GT(third->lease.fence, again->lease.fence);
  // Another device still waits.
  EXPECT_FALSE(lock_->Acquire("alice", "laptop", "")->granted);
}

// Issue 14: the holder's device name alone (no lease, no secret, or a wrong
// secret) takes nothing over; the holder keeps its lease.
TEST_P(SyncLockConformance, TheHoldersNameAloneDoesNotTakeItsLeaseOver) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  clock_.Advance(1'000);
  for (std::string_view secret :
       {std::string_view(),
        std::string_view("0123456789abcdef0123456789abcdef"),
        std::string_view(a->lease.token)}) {
    auto b = lock_->Acquire("alice", "phone", "", secret);
    ASSERT_TRUE(b.ok());
    EXPECT_FALSE(b->granted) << "secret \"" << secret << "\"";
    EXPECT_TRUE(b->device_secret.empty());
    EXPECT_GT(b->retry_after_ms, 0);
    EXPECT_LE(b->retry_after_ms, 29'000);
  }
  auto still = lock_->Check("alice", a->lease.token);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->fence, a->lease.fence);
  // The holder renews as before; a renewal gives no new secret.
  auto renewed = lock_->Acquire("alice", "phone", a->lease.token);
  ASSERT_TRUE(renewed.ok() && renewed->granted);
  EXPECT_EQ(renewed->lease.token, a->lease.token);
  EXPECT_TRUE(renewed->device_secret.empty());
}

// A secret proves one device only: another device name with it, or a
// stale token with it, takes nothing over.
TEST_P(SyncLockConformance, ASecretProvesItsOwnDeviceOnly) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  auto other = lock_->Acquire("alice", "laptop", "", a->device_secret);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->granted);
  auto b = lock_->Acquire("alice", "phone", "", a->device_secret);
  ASSERT_TRUE(b.ok() && b->granted);
  // The run whose lease was taken over cannot take it back with its token.
  auto stale =
      lock_->Acquire("alice", "phone", a->lease.token, a->device_secret);
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->granted);
  // Another account's lock knows nothing of this secret.
  auto bob = lock_->Acquire("bob", "phone", "");
  ASSERT_TRUE(bob.ok() && bob->granted);
  EXPECT_FALSE(lock_->Acquire("bob", "phone", "", a->device_secret)->granted);
}

// A free or expired lock needs no secret (a seed client, which sends none,
// keeps working): the grant then starts a new secret, and the old one no
// longer proves anything.
TEST_P(SyncLockConformance, AnExpiredLeaseNeedsNoSecretAndStartsANewOne) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  clock_.Advance(30'001);
  auto b = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(b.ok() && b->granted);
  EXPECT_GT(b->lease.fence, a->lease.fence);
  ASSERT_EQ(b->device_secret.size(), 32u);
  EXPECT_NE(b->device_secret, a->device_secret);
  EXPECT_FALSE(lock_->Acquire("alice", "phone", "", a->device_secret)->granted);
  EXPECT_TRUE(lock_->Acquire("alice", "phone", "", b->device_secret)->granted);
}

// A grant to another device replaces the kept secret: the first device's
// secret no longer proves anything, and its next grant gives a new one.
TEST_P(SyncLockConformance, AnotherDevicesGrantReplacesTheSecret) {
  auto a = lock_->Acquire("alice", "phone", "");
  ASSERT_TRUE(a.ok() && a->granted);
  ASSERT_TRUE(lock_->Release("alice", a->lease.token).ok());
  auto b = lock_->Acquire("alice", "laptop", "");
  ASSERT_TRUE(b.ok() && b->granted);
  EXPECT_FALSE(b->device_secret.empty());
  ASSERT_TRUE(lock_->Release("alice", b->lease.token).ok());
  auto c = lock_->Acquire("alice", "phone", "", a->device_secret);
  ASSERT_TRUE(c.ok() && c->granted);
  EXPECT_FALSE(c->device_secret.empty());
  EXPECT_NE(c->device_secret, a->device_secret);
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
