// What one benchmark run measured, and its JSON report, a line per change
// count (the keys scripts/bench-sync.sh and docs/benchmarks.md read).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "peak_rss.h"
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
  // Each process's peak resident set over the sync (VmHWM, reset at its
  // start), the resident set at the start (what the peak was reset to:
  // the peak minus it is the growth during the sync), and the anonymous
  // part (RssAnon) at the start and at the end. The device's figures are
  // taken after malloc_trim(0) in this process; client_before_trim is its
  // resident set before the trim. -1: unknown.
  double client_peak_rss_mb = -1, server_peak_rss_mb = -1;
  ResidentMb client_before_trim, client_start, server_start;
  double client_anon_end_mb = -1, server_anon_end_mb = -1;
  double load_1m = -1;  // the machine's 1-minute load average at the start
};

// One incremental round: D changes (half on each side), then a sync.
struct RoundFigures {
  SyncMode asked = SyncMode::kAuto;  // the mode the sync asked for
  int repeat = 0;                    // 0 .. --repeat - 1
  PhaseFigures sync;
};

// The rounds of one change count D, after the run's cold sync.
struct ChangeFigures {
  uint64_t changes = 0;              // D
  uint64_t changed_json_bytes = 0;   // Workload::ChangedJsonBytes of a round
  PhaseFigures incremental;          // the first round in the run's first mode
  PhaseFigures full;                 // the first round in mode full
  std::vector<RoundFigures> rounds;  // every round, in the order run
};

struct RunFigures {
  StoreKind store = StoreKind::kSqlite;         // the device's, and raw's
  StoreKind server_store = StoreKind::kSqlite;  // the server's
  Workload workload;                            // its `changes` is unused here
  SyncMode mode = SyncMode::kAuto;     // the mode asked for (--mode all: auto)
  int repeat = 1;                      // rounds per mode and D
  double baseline_rows_per_s = 0;      // the raw insert (raw_baseline.h)
  double server_fill_seconds = 0;      // filling the server through the Store
  PhaseFigures cold;                   // a fresh device's first sync
  std::vector<ChangeFigures> changes;  // per D, in the order run
};

// The figures as lines of JSON (no newline), one per D: the run's
// settings and rates, the cold sync (shared by every line of the run;
// `changes_in_run` lists the D of its lines), then `incremental`, `full`
// and every round. The cold object also has rows_per_s, ratio_to_raw and
// cold_records. An unknown figure (negative) is null.
std::vector<std::string> ReportLines(const RunFigures& figures);

}  // namespace syncstack::bench
