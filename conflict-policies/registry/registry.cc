#include "syncstack/policies/registry.h"

#include "syncstack/policies/field_merge.h"
#include "syncstack/policies/hybrid_logical_clock.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/server_clock.h"
#include "syncstack/policies/version_vector.h"

namespace syncstack {
namespace {

constexpr std::string_view kFields = "+fields";

// One base policy: its name and a factory with the options that name
// stands for.
struct Builtin {
  std::string_view name;
  std::unique_ptr<ConflictPolicy> (*make)();
};

constexpr Builtin kBuiltins[] = {
    {"lww", [] { return NewLastWriteWinsPolicy(); }},
    {"hlc", [] { return NewHybridLogicalClockPolicy(); }},
    {"server-clock", [] { return NewServerClockPolicy(); }},
    {"server-clock-client-wins",
     [] { return NewServerClockPolicy({.client_wins = true}); }},
    {"version-vector", [] { return NewVersionVectorPolicy(); }},
};

// The base names joined by ", ", the last two by `last_separator`.
std::string JoinBaseNames(std::string_view last_separator) {
  std::string out;
  const size_t n = std::size(kBuiltins);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) out += i + 1 == n ? last_separator : ", ";
    out += kBuiltins[i].name;
  }
  return out;
}

}  // namespace

std::vector<std::string> BuiltinPolicyNames() {
  std::vector<std::string> names;
  for (const Builtin& b : kBuiltins) names.emplace_back(b.name);
  return names;
}

std::vector<std::string> ComparedPolicyNames() {
  std::vector<std::string> names = BuiltinPolicyNames();
  names.push_back("lww" + std::string(kFields));
  names.push_back("version-vector" + std::string(kFields));
  return names;
}

std::string PolicyNamesHelp() {
  return JoinBaseNames(" or ") + ", each also as NAME" + std::string(kFields);
}

Result<std::unique_ptr<ConflictPolicy>> NewPolicyByName(std::string_view name) {
  if (name.size() > kFields.size() && name.ends_with(kFields)) {
    auto inner = NewPolicyByName(name.substr(0, name.size() - kFields.size()));
    if (!inner.ok()) return inner.status();
    return NewFieldMergePolicy(std::move(*inner));
  }
  for (const Builtin& b : kBuiltins) {
    if (b.name == name) return b.make();
  }
  return Status::InvalidArgument("unknown policy \"" + std::string(name) +
                                 "\"; known: " + JoinBaseNames(", ") +
                                 " (each also as NAME" + std::string(kFields) +
                                 ")");
}

}  // namespace syncstack
