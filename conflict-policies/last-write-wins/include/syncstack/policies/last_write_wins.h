// Last-write-wins on the device clock: the seed's rule. The write with the
// later `last_update` wins; equal timestamps are broken deterministically
// (a deletion loses to a live write, then the larger payload bytes), so
// every replica picks the same winner. Deletes are ordered by the time they
// were made (never before the version they delete): a device sends its
// delete's stamp in `_delete_versions`; a delete without one (a seed
// client's) is stamped on arrival.
#pragma once

#include <memory>

#include "syncstack/conflict_policy.h"

namespace syncstack {

std::unique_ptr<ConflictPolicy> NewLastWriteWinsPolicy();

}  // namespace syncstack
