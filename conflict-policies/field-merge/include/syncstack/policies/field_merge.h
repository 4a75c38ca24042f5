// Field-level merge ("<inner>+fields", e.g. "lww+fields"): wraps any policy
// so that two writes of one JSON object that changed different top-level
// fields both survive. Each field carries the stamp of the write that last
// changed it (kept in `_version` after the inner policy's data, as
// "<inner>|"<key>"=<ms>;..."); when the inner policy resolves two live
// writes, each field takes the value with the later field stamp (ties: the
// inner policy's winner), and a field present on one side only survives
// unless the other side won and was written after it. Deletes, and writes
// the inner policy merged itself, are left to the inner policy. A client
// without field stamps (a seed client) stamps every field with its
// write's version.
#pragma once

#include <memory>

#include "syncstack/conflict_policy.h"

namespace syncstack {

// REQUIRES: inner != nullptr.
std::unique_ptr<ConflictPolicy> NewFieldMergePolicy(
    std::unique_ptr<ConflictPolicy> inner);

}  // namespace syncstack
