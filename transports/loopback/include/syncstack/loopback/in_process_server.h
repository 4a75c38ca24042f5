// InProcessServer: a whole sync server in this process — a database, a
// conflict policy, a lock, an authenticator and the SyncService over them —
// reached through a loopback transport. For tests, examples, the simulator
// and benchmarks, which would otherwise wire the same five parts by hand.
//
//   InProcessServerOptions options;
//   options.database = OpenMemoryDatabase().value();
//   options.policy = NewLastWriteWinsPolicy();
//   InProcessServer server(std::move(options));
//   SyncEngine engine(*store, server.transport(), server.policy());
#pragma once

#include <chrono>
#include <memory>

#include "syncstack/clock.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/schema.h"
#include "syncstack/service.h"
#include "syncstack/store.h"
#include "syncstack/sync_lock.h"
#include "syncstack/transport.h"

namespace syncstack {

struct InProcessServerOptions {
  // The server's database. Required.
  std::unique_ptr<Database> database;
  // The server's conflict policy. Required.
  std::unique_ptr<ConflictPolicy> policy;
  // The server's clock; must outlive the server. Default: SystemClock().
  Clock* clock = nullptr;
  // The sync lock. Default: NewMemorySyncLock(*clock, lease).
  std::unique_ptr<SyncLock> lock;
  // The lease of the default lock. Default: 30 s.
  std::chrono::milliseconds lease{std::chrono::seconds(30)};
  // Default: NewInProcessAuthenticator() (any user, any password).
  std::unique_ptr<Authenticator> authenticator;
  // Default: none (every collection schemaless).
  Schema schema;
  SyncServiceOptions service;
};

// Owns its parts; destroying it stops the service (no thread of its own:
// requests run on the caller's thread, through transport()).
// Thread safety: as SyncService; transport() may be used concurrently.
class InProcessServer {
 public:
  // REQUIRES: options.database and options.policy are set.
  explicit InProcessServer(InProcessServerOptions options);
  InProcessServer(const InProcessServer&) = delete;
  InProcessServer& operator=(const InProcessServer&) = delete;
  ~InProcessServer();

  SyncService& service() noexcept { return *service_; }
  // A loopback transport to service(); lives as long as the server.
  Transport& transport() noexcept { return *transport_; }
  Database& database() noexcept { return *database_; }
  const ConflictPolicy& policy() const noexcept { return *policy_; }
  SyncLock& lock() noexcept { return *lock_; }
  Clock& clock() noexcept { return *clock_; }

 private:
  // Declared in the order they are built; destroyed in reverse.
  Clock* clock_;
  std::unique_ptr<Database> database_;
  std::unique_ptr<ConflictPolicy> policy_;
  std::unique_ptr<SyncLock> lock_;
  std::unique_ptr<Authenticator> authenticator_;
  std::unique_ptr<SyncService> service_;
  std::unique_ptr<Transport> transport_;
};

}  // namespace syncstack
