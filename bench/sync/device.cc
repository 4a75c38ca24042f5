#include "device.h"

#include <chrono>
#include <fstream>

#include "check.h"
#include "edits.h"
#include "peak_rss.h"
#include "syncstack/http/http_transport.h"
#include "syncstack/policies/last_write_wins.h"

namespace syncstack::bench {
namespace {

using Steady = std::chrono::steady_clock;

double Seconds(std::chrono::microseconds t) {
  return static_cast<double>(t.count()) / 1e6;
}

// The machine's 1-minute load average; -1 if unknown.
double LoadAverage() {
  double load = -1;
  std::ifstream("/proc/loadavg") >> load;
  return load;
}

// The report's figures of one sync.
void TakeReport(const SyncReport& report, PhaseFigures& f) {
  f.traffic = report.traffic;
  f.fetch_seconds = Seconds(report.fetch_time);
  f.plan_seconds = Seconds(report.plan_time);
  f.exchange_seconds = Seconds(report.exchange_time);
  f.login_seconds = Seconds(report.login_time);
  f.lock_seconds = Seconds(report.lock_time);
  f.verify_seconds = Seconds(report.verify_time);
  f.finish_seconds = Seconds(report.finish_time);
  f.login_reused = report.login_reused;
  f.mode = std::string(SyncModeName(report.mode));
  f.reason = report.mode_reason;
  f.cold_records = report.cold_records;
  f.pulled = report.cases.fetched_new + report.cases.pulled;
  f.pushed = report.cases.pushed_updates + report.cases.pushed_adds;
}

}  // namespace

Result<std::unique_ptr<Device>> Device::Open(
    const DeviceOptions& o, const testing::ServeProcess& server,
    const ServerDatabase& server_db) {
  std::unique_ptr<Device> d(new Device(server, server_db));
  HttpClientOptions http;
  http.url = server.url();
  SYNCSTACK_ASSIGN_OR_RETURN(d->transport_, NewHttpTransport(http));
  SYNCSTACK_ASSIGN_OR_RETURN(
      d->database_,
      OpenDatabase(o.store, DatabasePath(o.store, o.dir, "device")));
  SYNCSTACK_ASSIGN_OR_RETURN(d->store_,
                             d->database_->OpenAccount(kLocalAccount));
  d->policy_ = NewLastWriteWinsPolicy();
  d->engine_ = std::make_unique<SyncEngine>(*d->store_, *d->transport_,
                                            *d->policy_, Schema());
  d->options_.user = kUser;
  d->options_.password = kPassword;
  d->options_.device = "bench-device";
  d->options_.lock_wait = std::chrono::seconds(30);
  // A device syncing again and again keeps its login token (no Argon2id
  // per sync) unless told otherwise.
  if (!o.login_every_sync) d->options_.server = server.url();
  return d;
}

Device::~Device() = default;

Result<PhaseFigures> Device::Cold(const Workload& workload, SyncMode mode) {
  SYNCSTACK_ASSIGN_OR_RETURN(PhaseFigures f, MeasuredSync(mode));
  SYNCSTACK_RETURN_IF_ERROR(
      CheckAgainstServer(workload, -1).WithContext("after the cold sync"));
  return f;
}

Result<PhaseFigures> Device::Round(const Workload& workload, int round,
                                   SyncMode mode) {
  SYNCSTACK_RETURN_IF_ERROR(
      WriteOnServer(server_.url(), kUser, kPassword, workload, round));
  SYNCSTACK_RETURN_IF_ERROR(WriteOnDevice(*store_, *policy_, workload, round));
  SYNCSTACK_ASSIGN_OR_RETURN(PhaseFigures f, MeasuredSync(mode));
  SYNCSTACK_RETURN_IF_ERROR(
      CheckAgainstServer(workload, round)
          .WithContext("after incremental round " + std::to_string(round)));
  return f;
}

// The heap this process freed before (the cold sync, the checks) is given
// back first, so that the device's figures at the start are the memory in
// use; the server's cannot be trimmed from here.
Result<PhaseFigures> Device::MeasuredSync(SyncMode mode) {
  const std::string server_pid = std::to_string(server_.pid());
  PhaseFigures f;
  f.client_before_trim = CurrentRss("self");
  TrimHeap();
  ResetPeakRss("self");
  ResetPeakRss(server_pid);
  f.client_start = CurrentRss("self");
  f.server_start = CurrentRss(server_pid);
  f.load_1m = LoadAverage();
  SyncOptions options = options_;
  options.mode = mode;
  auto start = Steady::now();
  SYNCSTACK_ASSIGN_OR_RETURN(SyncReport report, engine_->Run(options));
  f.seconds = std::chrono::duration<double>(Steady::now() - start).count();
  f.client_peak_rss_mb = PeakRssMb("self");
  f.server_peak_rss_mb = PeakRssMb(server_pid);
  f.client_anon_end_mb = CurrentRss("self").anon;
  f.server_anon_end_mb = CurrentRss(server_pid).anon;
  TakeReport(report, f);
  if (!report.conflicts.empty()) {
    return Status::Conflict("the benchmark's sync met " +
                            std::to_string(report.conflicts.size()) +
                            " conflicts");
  }
  return f;
}

Status Device::CheckAgainstServer(const Workload& workload, int round) {
  SYNCSTACK_ASSIGN_OR_RETURN(auto database, server_db_.Open());
  SYNCSTACK_ASSIGN_OR_RETURN(auto server, database->OpenAccount(kUser));
  return CheckEqual(*store_, *server, workload, round);
}

}  // namespace syncstack::bench
