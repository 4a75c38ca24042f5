// Last-write-wins on a hybrid logical clock ("hlc"). A device stamps a
// write with max(its clock, the highest last_update it has seen from the
// server + 1, the record's previous stamp + 1), so a device whose clock is
// behind still orders its writes after everything it has synced. The
// logical part is folded into the millisecond, so `last_update` alone
// carries the whole stamp and seed-dialect clients need nothing new.
// Ordering and tie-breaks are those of lww.
//
// Device state: the engine keeps the highest seen stamp in the device
// store's metadata "policy/seen" (updated from every manifest); Replica
// passes it as LocalWrite::highest_seen.
#pragma once

#include <memory>

#include "syncstack/conflict_policy.h"

namespace syncstack {

std::unique_ptr<ConflictPolicy> NewHybridLogicalClockPolicy();

}  // namespace syncstack
