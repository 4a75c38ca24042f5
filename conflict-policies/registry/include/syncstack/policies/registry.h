// Every built-in policy by name: the one table behind `syncstack serve`,
// `sync`, `simulate` and the tests.
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

// The policies worth comparing side by side, in a fixed order (that of
// `syncstack simulate --policy all`): every base name, then "lww+fields"
// and "version-vector+fields".
std::vector<std::string> ComparedPolicyNames();

// The accepted names for a help text: "lww, hlc, ... or version-vector,
// each also as NAME+fields".
std::string PolicyNamesHelp();

// The policy called `name` (see above), a new instance per call; its name()
// is `name`. Errors: kInvalidArgument naming the known policies.
Result<std::unique_ptr<ConflictPolicy>> NewPolicyByName(std::string_view name);

}  // namespace syncstack
