#include "run.h"

#include <cstdio>
#include <memory>

#include "device.h"
#include "kits/serve_process.h"
#include "raw_baseline.h"
#include "server_db.h"

namespace syncstack::bench {
namespace {

namespace fs = std::filesystem;
using syncstack::testing::ServeProcess;

// The raw insert rate of the device's store, in a database removed
// afterwards.
Result<double> MeasureBaseline(const RunOptions& o) {
  fs::path raw = DatabasePath(o.store, o.dir, "raw");
  auto rate = RawInsertRate(o.store, raw, o.workload);
  RemoveDatabase(o.store, raw);
  return rate;
}

// Fills the server's database through a handle closed before serve opens
// it, then (if o.analyze) has PostgreSQL analyze it. Returns the seconds
// the records took (the analysis not included).
Result<double> Fill(const RunOptions& o, const ServerDatabase& server_db) {
  double seconds = 0;
  {
    SYNCSTACK_ASSIGN_OR_RETURN(auto database, server_db.Open());
    SYNCSTACK_ASSIGN_OR_RETURN(seconds, FillServer(*database, o.workload));
  }
  if (o.analyze) {
    SYNCSTACK_RETURN_IF_ERROR(server_db.Analyze().WithContext("server fill"));
  }
  return seconds;
}

// A line on stderr: which sync, the mode it ran in, its wall time.
void Progress(const char* what, const PhaseFigures& f) {
  std::fprintf(stderr, "syncstack-bench-sync: %s: %s, %.3f s\n", what,
               f.mode.c_str(), f.seconds);
}

// The first round of `rounds` asked in `mode` (none: empty figures).
PhaseFigures FirstIn(const std::vector<RoundFigures>& rounds, SyncMode mode) {
  for (const RoundFigures& r : rounds) {
    if (r.asked == mode) return r.sync;
  }
  return PhaseFigures{};
}

// D's round set `repeat` times: each time a round of D changes per mode.
// `round` numbers the run's rounds (each changes other records, to a new
// revision) and is advanced.
Result<ChangeFigures> RoundsOf(const RunOptions& o, uint64_t d, Device& device,
                               int& round) {
  Workload w = o.workload;
  w.changes = d;
  ChangeFigures out;
  out.changes = d;
  out.changed_json_bytes = w.ChangedJsonBytes(round);
  for (int k = 0; k < o.repeat; ++k) {
    for (SyncMode mode : o.modes) {
      SYNCSTACK_ASSIGN_OR_RETURN(PhaseFigures f,
                                 device.Round(w, round++, mode));
      const std::string what = "D=" + std::to_string(d) + " " +
                               std::string(SyncModeName(mode)) + " #" +
                               std::to_string(k + 1);
      Progress(what.c_str(), f);
      out.rounds.push_back(RoundFigures{mode, k, std::move(f)});
    }
  }
  out.incremental = FirstIn(out.rounds, o.modes.front());
  out.full = FirstIn(out.rounds, SyncMode::kFull);
  return out;
}

// A fresh device's syncs against the running server: cold, then every
// D's rounds.
Status SyncPhases(const RunOptions& o, const ServeProcess& server,
                  const ServerDatabase& server_db, RunFigures& out) {
  SYNCSTACK_ASSIGN_OR_RETURN(
      auto device, Device::Open({.store = o.store,
                                 .dir = o.dir,
                                 .login_every_sync = o.login_every_sync},
                                server, server_db));
  SYNCSTACK_ASSIGN_OR_RETURN(out.cold, device->Cold(o.workload, o.mode));
  Progress("cold", out.cold);
  int round = 0;
  for (uint64_t d : o.changes) {
    SYNCSTACK_ASSIGN_OR_RETURN(ChangeFigures f, RoundsOf(o, d, *device, round));
    out.changes.push_back(std::move(f));
  }
  return Status::Ok();
}

}  // namespace

Result<RunFigures> RunSyncBenchmark(const RunOptions& o) {
  RunFigures figures;
  figures.store = o.store;
  figures.server_store = o.server_store;
  figures.workload = o.workload;
  figures.mode = o.mode;
  figures.repeat = o.repeat;
  // Made first (a PostgreSQL server that does not answer fails the run
  // at once) and dropped after the server stops.
  SYNCSTACK_ASSIGN_OR_RETURN(auto server_db,
                             ServerDatabase::Create({.kind = o.server_store,
                                                     .dir = o.dir,
                                                     .postgres = o.postgres,
                                                     .keep = o.keep}));
  SYNCSTACK_ASSIGN_OR_RETURN(figures.baseline_rows_per_s, MeasureBaseline(o));
  SYNCSTACK_ASSIGN_OR_RETURN(figures.server_fill_seconds, Fill(o, *server_db));
  std::fprintf(stderr, "syncstack-bench-sync: filled %s in %.1f s\n",
               server_db->where().c_str(), figures.server_fill_seconds);
  SYNCSTACK_ASSIGN_OR_RETURN(
      auto server,
      ServeProcess::Start(
          {.binary = o.syncstack,
           .args = {"--store", server_db->uri(), "--listen", "127.0.0.1:0"},
           .start_timeout = std::chrono::seconds(60),
           .output_dir = o.dir.string()}));
  SYNCSTACK_RETURN_IF_ERROR(SyncPhases(o, *server, *server_db, figures));
  if (int code = server->Stop(); code != 0) {
    return Status::IOError("the server exited with " + std::to_string(code) +
                           ": " + server->Stderr());
  }
  return figures;
}

}  // namespace syncstack::bench
