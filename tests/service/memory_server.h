// The service tests' server: InProcessServer over a memory database, with
// the policy named and the test's clock.
#pragma once

#include <memory>
#include <string_view>

#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/registry.h"

namespace syncstack::testing {

// A server with a fresh memory database, the registry's policy `policy`
// and `clock` (which must outlive it). Null if either cannot be made.
inline std::unique_ptr<InProcessServer> NewMemoryServer(
    Clock& clock, std::string_view policy, SyncServiceOptions service = {}) {
  auto db = OpenMemoryDatabase();
  auto made = NewPolicyByName(policy);
  if (!db.ok() || !made.ok()) return nullptr;
  InProcessServerOptions options;
  options.database = std::move(*db);
  options.policy = std::move(*made);
  options.clock = &clock;
  options.service = std::move(service);
  return std::make_unique<InProcessServer>(std::move(options));
}

}  // namespace syncstack::testing
