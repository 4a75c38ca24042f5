// Tombstone collection on a server store. Every server row carries the
// account write sequence of the write that made it (Record::base, which
// server rows do not otherwise use). Devices report a mark at lock time:
// the sequence at the start of their last complete sync. Tombstones at or
// below the oldest live device's mark are collected; the highest sequence
// collected so far is the account's horizon, and a device whose mark is
// below it must do a full resync. See docs/decisions/tombstone-collection.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/record.h"
#include "syncstack/status.h"
#include "syncstack/store.h"

namespace syncstack {

// What the server remembers of one device of an account.
struct DeviceMark {
  std::string device;
  uint64_t mark = 0;    // the device's _synced_through
  Timestamp seen = 0;   // server time of its last lock, ms
  bool resync = false;  // its last lock answer said _resync
};

// The account's devices (metadata "gc/devices"), in no particular order.
// Errors: those of Store::GetMeta; kCorruption for a damaged list.
Result<std::vector<DeviceMark>> ReadDeviceMarks(Store& store);

// The most devices "gc/devices" remembers per account.
inline constexpr size_t kMaxDeviceMarks = 1000;

// Adds or replaces `mark` in `marks` and sets metadata "gc/devices" in
// `batch` to the result. Beyond kMaxDeviceMarks devices, those seen
// longest ago (other than `mark`'s) are dropped from `marks`: a dropped
// device counts as never seen, so it no longer holds tombstones back and
// is told to resync if it returns below the horizon.
void SetDeviceMark(std::vector<DeviceMark>& marks, DeviceMark mark,
                   ChangeBatch& batch);

// The account's write sequence (metadata "policy/seq"; 0 if none).
Result<uint64_t> AccountSequence(Store& store);

// The account's collection horizon (metadata "gc/horizon"; 0 if none):
// tombstones written at or below it may be gone.
Result<uint64_t> TombstoneHorizon(Store& store);

struct GcReport {
  uint64_t sequence = 0;          // the account's write sequence
  uint64_t previous_horizon = 0;  // gc/horizon before
  uint64_t horizon = 0;           // gc/horizon after
  uint64_t collected = 0;         // tombstones erased
  uint64_t kept = 0;              // tombstones left (above the horizon)
  uint64_t live_devices = 0;      // seen within the ttl: they set the horizon
  uint64_t gone_devices = 0;      // not seen for longer: will resync if behind
};

// Collects the tombstones of an account's server `store`: horizon = the
// lowest mark of the devices seen within `device_ttl` of `now` (the
// account's sequence when there are none), never lower than the stored
// horizon; erases every tombstone written at or below it and stores the
// horizon, all in one transaction. A tombstone written before rows carried
// their sequence counts as written at the sequence of the first collection
// (metadata "gc/legacy"). Run it while no device of the account syncs
// (SyncService::CollectTombstones holds the account's lock); a device that
// syncs meanwhile is refused before it can write (kAborted).
// Errors: kInvalidArgument (negative ttl), those of Store.
Result<GcReport> CollectTombstones(Store& store, Timestamp now,
                                   std::chrono::milliseconds device_ttl);

}  // namespace syncstack
