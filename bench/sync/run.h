// One end-to-end benchmark run: the baseline, a server database filled
// through the Store API, the real server as a child process, a device that
// syncs over HTTP through SyncEngine (cold, then after a round of changes
// in the mode asked for, then after another in mode full). Every sync is
// checked against the server's store before its figures count, so a broken
// sync never yields numbers.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report.h"
#include "stores.h"
#include "syncstack/engine.h"
#include "syncstack/status.h"
#include "workload.h"

namespace syncstack::bench {

struct RunOptions {
  StoreKind store = StoreKind::kSqlite;  // the server's and the device's
  Workload workload;
  SyncMode mode = SyncMode::kAuto;  // of the incremental sync
  // Instead of `mode`: one incremental round in each of these, in order,
  // against the same server and device (--mode all). Default: none.
  std::vector<SyncMode> modes;
  // Log in with the password on every sync instead of keeping the login
  // token between syncs (SyncOptions::server). Default: false.
  bool login_every_sync = false;
  std::string syncstack;      // the program whose `serve` is started
  std::filesystem::path dir;  // an empty working directory
};

// Runs the benchmark in options.dir (the caller removes it) and returns its
// figures. Errors: the first failure of any step, with context (a failed
// check is kCorruption; a sync that met conflicts is kConflict).
Result<RunFigures> RunSyncBenchmark(const RunOptions& options);

}  // namespace syncstack::bench
