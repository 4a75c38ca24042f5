// Pieces shared by serve, user and sync: the password options and the
// conflict policy by name.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "cli_common.h"
#include "syncstack/conflict_policy.h"

namespace syncstack::cli {

// The password from, in order: --password, --password-file, the
// SYNCSTACK_PASSWORD environment variable, a prompt on a terminal.
Result<std::string> GetPassword(const po::variables_map& vm);

// Adds --password, --password-file and --user to `options`.
void AddPasswordOptions(po::options_description& options);

// lww | hlc | server-clock | server-clock-client-wins | version-vector, each
// also as NAME+fields (conflict-policies/registry).
Result<std::unique_ptr<ConflictPolicy>> PolicyByName(std::string_view name);

}  // namespace syncstack::cli
