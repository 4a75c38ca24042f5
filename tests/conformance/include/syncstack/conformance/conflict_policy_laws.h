// The ConflictPolicy law kit: determinism, idempotence, agreement of
// Compare with Resolve, independence of arrival order (where the policy's
// family promises it), and stamping rules.
//
// The suite is written once, as TEST_P over ConflictPolicyLaws, and compiled
// into the object library syncstack::conflict_policy_laws. A policy runs it
// from its own test program by linking that library and naming its case in
// one instantiation (see docs/conformance.md):
//
//   #include "syncstack/conformance/conflict_policy_laws.h"
//   using syncstack::conformance::ConflictPolicyLaws;
//   using syncstack::conformance::PolicyCase;
//   INSTANTIATE_TEST_SUITE_P(
//       Policies, ConflictPolicyLaws,
//       ::testing::Values(PolicyCase{"mine", PolicyFamily::kLww, NewMine}),
//       syncstack::conformance::PolicyCaseName);
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "syncstack/conflict_policy.h"

namespace syncstack::conformance {

// Which laws a policy promises, by the shape of its versions.
enum class PolicyFamily {
  // A total order on (timestamp, extra): the same write wins in every
  // arrival order (last-write-wins, hybrid logical clocks).
  kLww,
  // The server orders writes by arrival; Version::extra is "s<sequence>"
  // for a server-stamped write. No arrival-order law.
  kServerClock,
  // Version::extra is a version vector (FormatVersionVector): dominated
  // writes lose, concurrent pairs merge the same way in either order.
  kVectors,
};

struct PolicyCase {
  // The instance's name in test names; '-' and '+' become '_'.
  std::string name;
  PolicyFamily family = PolicyFamily::kLww;
  // A new policy; called once per test.
  std::function<std::unique_ptr<ConflictPolicy>()> make;
};

// Names each instance after PolicyCase::name (INSTANTIATE_TEST_SUITE_P's
// fourth argument).
std::string PolicyCaseName(const ::testing::TestParamInfo<PolicyCase>& info);
void PrintTo(const PolicyCase& c, std::ostream* os);

// A write as a store holds it.
struct StoredWrite {
  Version version;
  bool deleted = false;
  std::string payload;

  // The view Resolve takes; `proposed` is the version the client sent.
  WriteView view(const Version* proposed = nullptr) const {
    return {version, deleted, payload, proposed};
  }
  // A one-line form for failure messages.
  std::string Key() const;
  friend bool operator==(const StoredWrite&, const StoredWrite&) = default;
};

// What the service stores after `client` arrives over `stored`: the
// policy's stamp and resolution, applied as SyncService::Synchronise does
// (without the service's own move of last_update past the old one, which
// only serves the manifest). `sequence` is the server's write sequence.
StoredWrite ApplyAsService(const ConflictPolicy& policy,
                           const StoredWrite& stored, const StoredWrite& client,
                           uint64_t sequence = 1);

// A fixed seed plus `salt`, printed; SYNCSTACK_SEED=N replaces the base.
uint64_t LawSeed(uint64_t salt);

// The fixture: policy_ is a fresh GetParam().make().
class ConflictPolicyLaws : public ::testing::TestWithParam<PolicyCase> {
 protected:
  void SetUp() override;

  std::unique_ptr<ConflictPolicy> policy_;
  PolicyFamily family_ = PolicyFamily::kLww;
};

}  // namespace syncstack::conformance
