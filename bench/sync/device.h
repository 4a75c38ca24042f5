// The device of a benchmark run: a fresh store in the run's directory and
// a SyncEngine syncing it over HTTP with the running `syncstack serve`.
// Every sync is measured (wall time, the engine's timers, bytes, round
// trips, both processes' resident sets) and then checked against the
// server's database, so a broken sync never yields figures.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "kits/serve_process.h"
#include "report.h"
#include "server_db.h"
#include "stores.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/engine.h"
#include "syncstack/status.h"
#include "syncstack/transport.h"
#include "workload.h"

namespace syncstack::bench {

struct DeviceOptions {
  StoreKind store = StoreKind::kSqlite;  // kSqlite or kLmdb
  std::filesystem::path dir;             // the database goes in it
  // Log in with the password at every sync instead of keeping the login
  // token between syncs (SyncOptions::server). Default: false.
  bool login_every_sync = false;
};

class Device {
 public:
  // Opens the device's empty store and the engine. `server` and
  // `server_db` must outlive the device.
  // Errors: the store's and the transport's.
  static Result<std::unique_ptr<Device>> Open(
      const DeviceOptions& options, const testing::ServeProcess& server,
      const ServerDatabase& server_db);

  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  ~Device();

  // The first sync, in `mode`, checked (the server holds `workload`'s
  // records as filled). Errors: the sync's (kConflict if it met
  // conflicts), or the check's (kCorruption).
  Result<PhaseFigures> Cold(const Workload& workload, SyncMode mode);

  // Round `round`: workload.changes records changed, the server's share
  // through a second protocol client and the device's through Replica,
  // then a sync in `mode`, checked. Errors: as Cold's, and the edits'.
  Result<PhaseFigures> Round(const Workload& workload, int round,
                             SyncMode mode);

 private:
  Device(const testing::ServeProcess& server, const ServerDatabase& server_db)
      : server_(server), server_db_(server_db) {}

  // One sync in `mode`, measured. Errors: the sync's, or kConflict.
  Result<PhaseFigures> MeasuredSync(SyncMode mode);
  // CheckEqual against a second handle on the server's database.
  Status CheckAgainstServer(const Workload& workload, int round);

  const testing::ServeProcess& server_;
  const ServerDatabase& server_db_;
  SyncOptions options_;
  // Declared in the order they are built; destroyed the other way round
  // (the engine first, the store before its database).
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<Database> database_;
  std::shared_ptr<Store> store_;
  std::unique_ptr<ConflictPolicy> policy_;
  std::unique_ptr<SyncEngine> engine_;
};

}  // namespace syncstack::bench
