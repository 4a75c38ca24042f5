// The policies the simulator (and `syncstack simulate --policy all`) runs.
// Adding a policy is one line in AvailablePolicies().
#include <string>

#include "syncstack/policies/field_merge.h"
#include "syncstack/policies/hybrid_logical_clock.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/server_clock.h"
#include "syncstack/policies/version_vector.h"
#include "syncstack/simulator/simulator.h"

namespace syncstack::sim {
namespace {

// A factory that ignores the replica's name (policies without per-replica
// state).
ServerClockOptions ClientWins() {
  ServerClockOptions options;
  options.client_wins = true;
  return options;
}

template <typename Make>
PolicyFactory Shared(std::string name, Make make) {
  return PolicyFactory{std::move(name),
                       [make](std::string_view) { return make(); }};
}

}  // namespace

const std::vector<PolicyFactory>& AvailablePolicies() {
  static const std::vector<PolicyFactory>* const policies = [] {
    return new std::vector<PolicyFactory>{
        Shared("lww", [] { return NewLastWriteWinsPolicy(); }),
        Shared("hlc", [] { return NewHybridLogicalClockPolicy(); }),
        Shared("server-clock", [] { return NewServerClockPolicy(); }),
        Shared("server-clock-client-wins",
               [] { return NewServerClockPolicy(ClientWins()); }),
        Shared("version-vector", [] { return NewVersionVectorPolicy(); }),
        Shared("lww+fields",
               [] { return NewFieldMergePolicy(NewLastWriteWinsPolicy()); }),
        Shared("version-vector+fields",
               [] { return NewFieldMergePolicy(NewVersionVectorPolicy()); }),
    };
  }();
  return *policies;
}

Result<const PolicyFactory*> FindPolicy(std::string_view name) {
  std::string known;
  for (const PolicyFactory& p : AvailablePolicies()) {
    if (p.name == name) return &p;
    known += (known.empty() ? "" : ", ") + p.name;
  }
  return Status::NotFound("unknown policy \"" + std::string(name) +
                          "\" (available: " + known + ")");
}

}  // namespace syncstack::sim
