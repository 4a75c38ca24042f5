// The framework's in-process lock (NewMemorySyncLock) under the SyncLock
// conformance kit.
#include <gtest/gtest.h>

#include "syncstack/conformance/sync_lock_conformance.h"
#include "syncstack/sync_lock.h"

namespace syncstack {
namespace {

using conformance::LockFactory;
using conformance::SyncLockConformance;

INSTANTIATE_TEST_SUITE_P(Locks, SyncLockConformance,
                         ::testing::Values(LockFactory{
                             "memory",
                             [](Clock& c, std::chrono::milliseconds l) {
                               return NewMemorySyncLock(c, l);
                             }}),
                         conformance::LockFactoryName);

}  // namespace
}  // namespace syncstack
