// The SyncLock conformance kit: one holder per account, renewal, expiry,
// release, fencing numbers that only grow.
//
// The suite is written once, as TEST_P over SyncLockConformance, and
// compiled into the object library syncstack::sync_lock_conformance. A lock
// runs it from its own test program by linking that library and naming its
// factory in one instantiation (see docs/conformance.md):
//
//   #include "syncstack/conformance/sync_lock_conformance.h"
//   using syncstack::conformance::LockFactory;
//   using syncstack::conformance::SyncLockConformance;
//   INSTANTIATE_TEST_SUITE_P(
//       Locks, SyncLockConformance,
//       ::testing::Values(LockFactory{"mine", NewMineLock}),
//       syncstack::conformance::LockFactoryName);
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "syncstack/sync_lock.h"

namespace syncstack::conformance {

struct LockFactory {
  // The instance's name in test names: letters, digits and '_' only.
  std::string name;
  // A new lock with no holders, reading time from `clock` (which outlives
  // it) and granting leases of `lease`. Returns nullptr when the lock cannot
  // be had: the test fails, unless the factory called GTEST_SKIP() first.
  std::function<std::unique_ptr<SyncLock>(Clock& clock,
                                          std::chrono::milliseconds lease)>
      make;
};

// Names each instance after LockFactory::name (INSTANTIATE_TEST_SUITE_P's
// fourth argument).
std::string LockFactoryName(const ::testing::TestParamInfo<LockFactory>& info);
void PrintTo(const LockFactory& factory, std::ostream* os);

// The fixture: lock_ with 30 s leases over clock_, a manual clock.
class SyncLockConformance : public ::testing::TestWithParam<LockFactory> {
 protected:
  void SetUp() override;

  ManualClock clock_{1'700'000'000'000};
  std::unique_ptr<SyncLock> lock_;
};

}  // namespace syncstack::conformance
