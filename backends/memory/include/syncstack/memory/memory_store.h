// The memory store: the reference Store, and what tests and the simulator
// use. Nothing survives the Database object.
#pragma once

#include <memory>

#include "syncstack/store.h"

namespace syncstack {

struct MemoryDatabaseOptions {};

Result<std::unique_ptr<Database>> OpenMemoryDatabase(
    const MemoryDatabaseOptions& options = {});

}  // namespace syncstack
