// What one benchmark run measured, and its one-line JSON report (the keys
// scripts/bench-sync.sh and docs/benchmarks.md read).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "stores.h"
#include "syncstack/engine.h"
#include "syncstack/remote.h"
#include "workload.h"

namespace syncstack::bench {

// One measured sync.
struct PhaseFigures {
  double seconds = 0;  // wall time of SyncEngine::Run
  // Where the time went (SyncReport): waiting for the server while finding
  // differences, planning, and the synchronise exchange.
  double fetch_seconds = 0, plan_seconds = 0, exchange_seconds = 0;
  // Login and lock (login_seconds of it: the login), before the above.
  double login_seconds = 0, lock_seconds = 0;
  // After the exchange: the figures' check, then recording and unlocking.
  double verify_seconds = 0, finish_seconds = 0;
  bool login_reused = false;  // a kept login token, no password check
  TrafficCounters traffic;
  std::string mode, reason;   // the mode the engine chose, and why
  uint64_t cold_records = 0;  // records the streamed first sync wrote
  uint64_t pulled = 0;        // records written here from the server
  uint64_t pushed = 0;        // records sent to the server
  double client_peak_rss_mb = -1, server_peak_rss_mb = -1;  // -1: unknown
};

struct RunFigures {
  StoreKind store = StoreKind::kSqlite;
  Workload workload;
  SyncMode mode = SyncMode::kAuto;  // the mode asked for
  double baseline_rows_per_s = 0;   // the raw insert (raw_baseline.h)
  double server_fill_seconds = 0;   // filling the server through the Store
  PhaseFigures cold;                // a fresh device's first sync
  PhaseFigures incremental;         // after a round of changes, in `mode`
  PhaseFigures full;                // after another round, in mode full
  // --mode all: one incremental round per mode asked, in order (then
  // `incremental` is the first and `full` the last).
  std::vector<std::pair<SyncMode, PhaseFigures>> rounds;
};

// The figures as one line of JSON (no newline): the run's settings and
// rates, then an object per phase; the cold one also has rows_per_s,
// ratio_to_raw and cold_records. An unknown figure (negative) is null.
std::string ReportLine(const RunFigures& figures);

}  // namespace syncstack::bench
