// The policies the simulator runs, all made by the one policy registry
// (conflict-policies/registry): `--policy all` runs ComparedPolicyNames(),
// and any other name the registry knows can be asked for.
#include <cassert>
#include <map>
#include <mutex>
#include <string>

#include "syncstack/policies/registry.h"
#include "syncstack/simulator/simulator.h"

namespace syncstack::sim {
namespace {

// A factory for the registry's policy `name` (which the registry accepts).
// Every call makes a new instance, whatever the replica.
PolicyFactory FromRegistry(std::string name) {
  return PolicyFactory{name, [name](std::string_view) {
                         auto policy = NewPolicyByName(name);
                         assert(policy.ok() && "the name was checked");
                         return std::move(policy).value();
                       }};
}

// Factories for names beyond AvailablePolicies(), made on first request and
// kept for the life of the process (FindPolicy hands out pointers).
class OtherPolicies {
 public:
  Result<const PolicyFactory*> Find(std::string_view name) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = factories_.find(name);
    if (it != factories_.end()) return &it->second;
    auto policy = NewPolicyByName(name);
    if (!policy.ok()) return Status::NotFound(policy.status().message());
    std::string key(name);
    return &factories_.emplace(key, FromRegistry(key)).first->second;
  }

 private:
  std::mutex mu_;
  std::map<std::string, PolicyFactory, std::less<>> factories_;
};

}  // namespace

const std::vector<PolicyFactory>& AvailablePolicies() {
  static const std::vector<PolicyFactory>* const policies = [] {
    auto* list = new std::vector<PolicyFactory>;
    for (std::string& name : ComparedPolicyNames()) {
      list->push_back(FromRegistry(std::move(name)));
    }
    return list;
  }();
  return *policies;
}

Result<const PolicyFactory*> FindPolicy(std::string_view name) {
  for (const PolicyFactory& p : AvailablePolicies()) {
    if (p.name == name) return &p;
  }
  static OtherPolicies* const others = new OtherPolicies;
  return others->Find(name);
}

}  // namespace syncstack::sim
