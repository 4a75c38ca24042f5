#include "run.h"

#include <chrono>
#include <cstdio>
#include <memory>

#include "check.h"
#include "edits.h"
#include "kits/serve_process.h"
#include "peak_rss.h"
#include "raw_baseline.h"
#include "syncstack/fingerprint.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/users.h"

namespace syncstack::bench {
namespace {

namespace fs = std::filesystem;
using syncstack::testing::ServeProcess;
using Steady = std::chrono::steady_clock;

constexpr char kUser[] = "bench";
constexpr char kPassword[] = "bench-password";
constexpr size_t kFillBatch = 10'000;  // records per Apply

double Seconds(Steady::time_point from) {
  return std::chrono::duration<double>(Steady::now() - from).count();
}

// The raw insert rate, in a database removed afterwards.
Result<double> MeasureBaseline(const RunOptions& o) {
  fs::path raw = DatabasePath(o.store, o.dir, "raw");
  auto rate = RawInsertRate(o.store, raw, o.workload);
  RemoveDatabase(o.store, raw);
  return rate;
}

// Makes the server's database at `path`: the user (as `syncstack user add`
// makes one) and the N records through the Store API, as the service
// would have written them in writes of kFillBatch records: each row's base
// is its write's sequence, and the account keeps its write sequence and
// the collection's count + fingerprint. Returns the seconds the records
// took.
Result<double> FillServer(const RunOptions& o, const fs::path& path) {
  SYNCSTACK_ASSIGN_OR_RETURN(auto database, OpenDatabase(o.store, path));
  SYNCSTACK_RETURN_IF_ERROR(AddUser(*database, kUser, kPassword));
  SYNCSTACK_ASSIGN_OR_RETURN(auto store, database->OpenAccount(kUser));
  const Workload& w = o.workload;
  auto start = Steady::now();
  ChangeBatch batch;
  SetFingerprint figure;
  int64_t sequence = 1;
  for (uint64_t i = 0; i < w.records; ++i) {
    Record r;
    r.collection = std::string(kCollection);
    r.id = w.Id(i);
    r.version.timestamp = kFillTime + static_cast<int64_t>(i);
    r.base = sequence;
    r.payload = w.Payload(i, 0, "fill");
    figure.Add(r.id, r.version);
    batch.Put(std::move(r));
    if (batch.size() == kFillBatch || i + 1 == w.records) {
      batch.SetMeta(std::string(meta::kSequence), std::to_string(sequence++));
      batch.SetMeta(meta::CollectionFigure(kCollection), figure.Encode());
      SYNCSTACK_RETURN_IF_ERROR(
          store->Apply(WriteOptions{}, batch).WithContext("server fill"));
      batch.Clear();
    }
  }
  return Seconds(start);
}

// CheckEqual against the server's store, opened through a second handle
// for the check only (the server keeps running).
Status CheckAgainstServer(Store& device, const RunOptions& o,
                          const fs::path& server_path, int round) {
  SYNCSTACK_ASSIGN_OR_RETURN(auto database, OpenDatabase(o.store, server_path));
  SYNCSTACK_ASSIGN_OR_RETURN(auto server, database->OpenAccount(kUser));
  return CheckEqual(device, *server, o.workload, round);
}

// One sync, timed, with the peak RSS of both processes over it.
// Errors: the sync's, or kConflict if it met conflicts.
Result<PhaseFigures> MeasuredSync(SyncEngine& engine,
                                  const SyncOptions& options,
                                  const ServeProcess& server) {
  const std::string server_pid = std::to_string(server.pid());
  ResetPeakRss("self");
  ResetPeakRss(server_pid);
  auto start = Steady::now();
  SYNCSTACK_ASSIGN_OR_RETURN(SyncReport report, engine.Run(options));
  PhaseFigures f;
  f.seconds = Seconds(start);
  f.client_peak_rss_mb = PeakRssMb("self");
  f.server_peak_rss_mb = PeakRssMb(server_pid);
  f.traffic = report.traffic;
  f.fetch_seconds = static_cast<double>(report.fetch_time.count()) / 1e6;
  f.plan_seconds = static_cast<double>(report.plan_time.count()) / 1e6;
  f.exchange_seconds = static_cast<double>(report.exchange_time.count()) / 1e6;
  f.login_seconds = static_cast<double>(report.login_time.count()) / 1e6;
  f.lock_seconds = static_cast<double>(report.lock_time.count()) / 1e6;
  f.verify_seconds = static_cast<double>(report.verify_time.count()) / 1e6;
  f.finish_seconds = static_cast<double>(report.finish_time.count()) / 1e6;
  f.login_reused = report.login_reused;
  f.mode = std::string(SyncModeName(report.mode));
  f.reason = report.mode_reason;
  f.cold_records = report.cold_records;
  f.pulled = report.cases.fetched_new + report.cases.pulled;
  f.pushed = report.cases.pushed_updates + report.cases.pushed_adds;
  if (!report.conflicts.empty()) {
    return Status::Conflict("the benchmark's sync met " +
                            std::to_string(report.conflicts.size()) +
                            " conflicts");
  }
  return f;
}

// A fresh device's syncs against the running server: cold; then round 0's
// changes synced in o.mode; then, unless that was full, round 1's synced in
// mode full (with --mode full the full phase is the incremental one).
Status SyncPhases(const RunOptions& o, const ServeProcess& server,
                  const fs::path& server_path, RunFigures& out) {
  HttpClientOptions http;
  http.url = server.url();
  SYNCSTACK_ASSIGN_OR_RETURN(auto transport, NewHttpTransport(http));
  SYNCSTACK_ASSIGN_OR_RETURN(
      auto database,
      OpenDatabase(o.store, DatabasePath(o.store, o.dir, "device")));
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> device,
                             database->OpenAccount(kLocalAccount));
  auto policy = NewLastWriteWinsPolicy();
  SyncEngine engine(*device, *transport, *policy, Schema());
  SyncOptions options;
  options.user = kUser;
  options.password = kPassword;
  options.device = "bench-device";
  options.lock_wait = std::chrono::seconds(30);
  options.mode = o.mode;
  // A device syncing again and again keeps its login token (no Argon2id
  // per sync) unless told otherwise.
  if (!o.login_every_sync) options.server = server.url();
  SYNCSTACK_ASSIGN_OR_RETURN(out.cold, MeasuredSync(engine, options, server));
  SYNCSTACK_RETURN_IF_ERROR(CheckAgainstServer(*device, o, server_path, -1)
                                .WithContext("after the cold sync"));

  // D changes split between the server and the device, then one sync.
  auto incremental = [&](int round, SyncMode mode) -> Result<PhaseFigures> {
    SYNCSTACK_RETURN_IF_ERROR(
        WriteOnServer(server.url(), kUser, kPassword, o.workload, round));
    SYNCSTACK_RETURN_IF_ERROR(
        WriteOnDevice(*device, *policy, o.workload, round));
    SyncOptions phase = options;
    phase.mode = mode;
    SYNCSTACK_ASSIGN_OR_RETURN(PhaseFigures f,
                               MeasuredSync(engine, phase, server));
    SYNCSTACK_RETURN_IF_ERROR(CheckAgainstServer(*device, o, server_path, round)
                                  .WithContext("after incremental sync " +
                                               std::to_string(round + 1)));
    return f;
  };
  if (!o.modes.empty()) {
    // Every mode in the same run, a round of changes each.
    for (size_t k = 0; k < o.modes.size(); ++k) {
      SYNCSTACK_ASSIGN_OR_RETURN(PhaseFigures f,
                                 incremental(static_cast<int>(k), o.modes[k]));
      out.rounds.emplace_back(o.modes[k], std::move(f));
    }
    out.incremental = out.rounds.front().second;
    out.full = out.rounds.back().second;
    return Status::Ok();
  }
  SYNCSTACK_ASSIGN_OR_RETURN(out.incremental, incremental(0, o.mode));
  out.full = out.incremental;
  if (o.mode != SyncMode::kFull) {
    SYNCSTACK_ASSIGN_OR_RETURN(out.full, incremental(1, SyncMode::kFull));
  }
  return Status::Ok();  // the device's store closes before its database
}

}  // namespace

Result<RunFigures> RunSyncBenchmark(const RunOptions& o) {
  RunFigures figures;
  figures.store = o.store;
  figures.workload = o.workload;
  figures.mode = o.mode;
  SYNCSTACK_ASSIGN_OR_RETURN(figures.baseline_rows_per_s, MeasureBaseline(o));
  const fs::path server_path = DatabasePath(o.store, o.dir, "server");
  SYNCSTACK_ASSIGN_OR_RETURN(figures.server_fill_seconds,
                             FillServer(o, server_path));
  SYNCSTACK_ASSIGN_OR_RETURN(
      auto server,
      ServeProcess::Start({.binary = o.syncstack,
                           .args = {"--store", StoreUri(o.store, server_path),
                                    "--listen", "127.0.0.1:0"},
                           .start_timeout = std::chrono::seconds(60),
                           .output_dir = o.dir.string()}));
  SYNCSTACK_RETURN_IF_ERROR(SyncPhases(o, *server, server_path, figures));
  if (int code = server->Stop(); code != 0) {
    return Status::IOError("the server exited with " + std::to_string(code) +
                           ": " + server->Stderr());
  }
  return figures;
}

}  // namespace syncstack::bench
