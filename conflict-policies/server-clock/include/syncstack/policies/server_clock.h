// Server clock ("server-clock"): the server stamps every accepted write
// with its own clock (last_update, strictly increasing per record) and the
// account's write sequence number (`_version` "s<seq>"). Devices never
// compare clocks: a device edit keeps the stamp it was based on
// (`_version` "b<seq>", last_update = the base's), and the server takes it
// only if that base is still the record's current version. An edit (or
// delete) whose base is older is a conflict: the server's version stays
// (default) or, with `client_wins`, the device's write replaces it; either
// way it is reported.
//
// Seed-dialect clients send only last_update: it is taken as their base
// (an update whose last_update is older than the stored one conflicts); a
// write without last_update (a seed delete) applies unconditionally.
#pragma once

#include <memory>

#include "syncstack/conflict_policy.h"

namespace syncstack {

struct ServerClockOptions {
  // On a stale base, the device's write wins instead of the server's.
  // Default: false (server wins).
  bool client_wins = false;
};

// Name: "server-clock", or "server-clock-client-wins" with client_wins.
std::unique_ptr<ConflictPolicy> NewServerClockPolicy(
    ServerClockOptions options = {});

}  // namespace syncstack
