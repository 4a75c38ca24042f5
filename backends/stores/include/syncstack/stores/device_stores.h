// The stores a device may open, registered by URI scheme in one place, so
// that every program that opens a device store from a URI (the syncstack
// command line, the C API) accepts the same URIs with the same errors.
#pragma once

#include "syncstack/registry.h"

namespace syncstack {

// Registers in `registry`:
//   "memory:"      a private in-memory database (takes no path);
//   "sqlite:PATH"  a SQLite database file (created if missing);
//   "lmdb:DIR"     an LMDB environment directory (created if missing).
// A missing or unexpected path makes DatabaseRegistry::Open fail with
// kInvalidArgument naming the scheme and an example. Server-only stores
// (PostgreSQL) are registered by the program that serves them.
// REQUIRES: none of these schemes is registered in `registry` yet.
void RegisterDeviceStores(DatabaseRegistry& registry);

}  // namespace syncstack
