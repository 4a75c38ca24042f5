// Last-write-wins on the device clock: the seed's rule. The write with the
// later `last_update` wins; equal timestamps are broken deterministically
// by the payload bytes (deletion < any payload, then bytewise), so every
// replica picks the same winner.
#pragma once

#include <memory>

#include "syncstack/conflict_policy.h"

namespace syncstack {

std::unique_ptr<ConflictPolicy> NewLastWriteWinsPolicy();

}  // namespace syncstack
