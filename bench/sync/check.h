// The check every measured sync passes before its figures count.
#pragma once

#include "syncstack/status.h"
#include "syncstack/store.h"
#include "workload.h"

namespace syncstack::bench {

// Checks that `device` holds exactly the server's records after a sync:
// every (id, last_update, deleted) of full scans of both stores, every
// device record synced, `workload.records` of them, and the payloads of a
// sample (the first and last ids and, for round >= 0, that round's changes,
// which must carry the round's edits). `round` is -1 after the cold sync.
// Nothing is written. Errors: kCorruption saying what differs, or the
// stores' errors.
Status CheckEqual(Store& device, Store& server, const Workload& workload,
                  int round);

}  // namespace syncstack::bench
