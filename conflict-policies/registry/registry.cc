#include "syncstack/policies/registry.h"

#include "syncstack/policies/field_merge.h"
#include "syncstack/policies/hybrid_logical_clock.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/server_clock.h"
#include "syncstack/policies/version_vector.h"

namespace syncstack {

std::vector<std::string> BuiltinPolicyNames() {
  return {"lww", "hlc", "server-clock", "server-clock-client-wins",
          "version-vector"};
}

Result<std::unique_ptr<ConflictPolicy>> NewPolicyByName(std::string_view name) {
  constexpr std::string_view kFields = "+fields";
  if (name.size() > kFields.size() && name.ends_with(kFields)) {
    auto inner = NewPolicyByName(name.substr(0, name.size() - kFields.size()));
    if (!inner.ok()) return inner.status();
    return NewFieldMergePolicy(std::move(*inner));
  }
  if (name == "lww") return NewLastWriteWinsPolicy();
  if (name == "hlc") return NewHybridLogicalClockPolicy();
  if (name == "server-clock") return NewServerClockPolicy();
  if (name == "server-clock-client-wins") {
    ServerClockOptions options;
    options.client_wins = true;
    return NewServerClockPolicy(options);
  }
  if (name == "version-vector") return NewVersionVectorPolicy();
  std::string known;
  for (const auto& n : BuiltinPolicyNames()) {
    if (!known.empty()) known += ", ";
    known += n;
  }
  return Status::InvalidArgument("unknown policy \"" + std::string(name) +
                                 "\"; known: " + known +
                                 " (each also as NAME+fields)");
}

}  // namespace syncstack
