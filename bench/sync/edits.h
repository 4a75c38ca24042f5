// A round's edits on both sides of the benchmark: the server's share
// through the protocol, as another device writes, and the device's share
// through Replica, as an app writes.
#pragma once

#include <string>
#include <string_view>

#include "syncstack/conflict_policy.h"
#include "syncstack/status.h"
#include "syncstack/store.h"
#include "workload.h"

namespace syncstack::bench {

// Writes the server's share of round `round` (changes 0 .. ServerChanges()
// - 1) to the server at `url` as a second client: login, lock, synchronise
// batches of 500 updates, unlock. The server's files are not touched.
// Errors: the protocol's, or kConflict if an edit met a conflict.
Status WriteOnServer(const std::string& url, std::string_view user,
                     std::string_view password, const Workload& workload,
                     int round);

// Writes the device's share of round `round` (the remaining changes) into
// `store` through Replica under `policy`. Errors: the store's.
Status WriteOnDevice(Store& store, const ConflictPolicy& policy,
                     const Workload& workload, int round);

}  // namespace syncstack::bench
