// Every built-in policy by name, for command lines and the simulator.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/conflict_policy.h"
#include "syncstack/status.h"

namespace syncstack {

// The base names: "lww", "hlc", "server-clock", "server-clock-client-wins",
// "version-vector". Each also exists with the field-level merge, as
// "<name>+fields".
std::vector<std::string> BuiltinPolicyNames();

// The policy called `name` (see above); its name() is `name`.
// Errors: kInvalidArgument naming the known policies.
Result<std::unique_ptr<ConflictPolicy>> NewPolicyByName(std::string_view name);

}  // namespace syncstack
