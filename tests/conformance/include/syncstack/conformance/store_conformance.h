// The Store conformance kit: every Store (and its Database) must pass it.
//
// The suite is written once, as TEST_P over StoreConformance, and compiled
// into the object library syncstack::store_conformance. An implementation
// runs it from its own test program by linking that library and naming its
// factory in one instantiation (see docs/conformance.md):
//
//   #include "syncstack/conformance/store_conformance.h"
//   using syncstack::conformance::StoreConformance;
//   using syncstack::conformance::StoreFactory;
//   INSTANTIATE_TEST_SUITE_P(
//       Stores, StoreConformance,
//       ::testing::Values(StoreFactory{"Mine", OpenMine, true, ReopenMine}),
//       syncstack::conformance::StoreFactoryName);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "syncstack/store.h"

namespace syncstack::conformance {

// Opens a Database whose files (if any) live in `dir`.
using OpenDatabaseFn =
    std::function<Result<std::unique_ptr<Database>>(const std::string& dir)>;

// How the suite makes the store under test.
struct StoreFactory {
  // The instance's name in test names: letters, digits and '_' only.
  std::string name;
  // Opens a new, empty database in `dir`, a fresh temporary directory the
  // suite removes after the test. A test is skipped, not failed, if the
  // factory calls GTEST_SKIP() (e.g. no server to reach) before returning
  // an error.
  OpenDatabaseFn open;
  // True if the data survives closing the Database and reopening it.
  bool persistent = false;
  // Reopens what `open` created in `dir`. Set iff `persistent`.
  OpenDatabaseFn reopen;
};

// Names each instance after StoreFactory::name (INSTANTIATE_TEST_SUITE_P's
// fourth argument).
std::string StoreFactoryName(
    const ::testing::TestParamInfo<StoreFactory>& info);
void PrintTo(const StoreFactory& factory, std::ostream* os);

// The fixture: a fresh database per test, in a fresh temporary directory,
// with the local account open as store_.
class StoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // The store of account `name`, or nullptr after a failed expectation.
  std::shared_ptr<Store> Account(std::string_view name);
  // Closes the database and opens it again (persistent stores only).
  void Reopen();
  // Applies one put (with its expectation) as a batch.
  Status Put(Record r, std::optional<Expect> expect = std::nullopt);
  Status Apply(const ChangeBatch& b, bool sync = true);

  std::string dir_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Store> store_;
};

}  // namespace syncstack::conformance
