#include "syncstack/simulator/simulator.h"

#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "syncstack/clock.h"
#include "syncstack/engine.h"
#include "syncstack/loopback/in_process_server.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/replica.h"
#include "syncstack/service.h"
#include "syncstack/sync_lock.h"
#ifdef SYNCSTACK_SIM_HAS_SQLITE
#include "syncstack/sqlite/sqlite_store.h"
#endif

namespace syncstack::sim {
namespace {

namespace fs = std::filesystem;

constexpr Timestamp kStart = 1'700'000'000'000;  // 2023-11-14, real time 0
constexpr std::chrono::milliseconds kLease{30'000};
constexpr int kFields = 3;
constexpr const char* kCollection = "items";
constexpr const char* kUser = "sim";
// Device writes need no durability: a simulation never crashes.
constexpr WriteOptions kNoSync{false};

// A uniform double in [0, 1) from 53 bits: the same on every platform
// (std::uniform_real_distribution is not).
double Uniform(std::mt19937_64& rng) {
  return static_cast<double>(rng() >> 11) * 0x1.0p-53;
}

// A device's clock: real time plus an offset and a drift that grows with
// elapsed real time. The real clock must outlive it.
class DeviceClock final : public Clock {
 public:
  DeviceClock(Clock& real, int64_t offset_ms, double drift_ppm) noexcept
      : real_(real), offset_(offset_ms), drift_ppm_(drift_ppm) {}
  Timestamp Now() noexcept override {
    Timestamp now = real_.Now();
    double drift = static_cast<double>(now - kStart) * drift_ppm_ / 1e6;
    return now + offset_ + static_cast<int64_t>(std::llround(drift));
  }
  // Sets the clock `ms` further ahead from now on.
  void Jump(int64_t ms) noexcept { offset_ += ms; }

 private:
  Clock& real_;
  int64_t offset_;
  double drift_ppm_;
};

// Counts what crosses the wire and loses requests and answers with a fixed
// probability. One per device, with its own random stream.
class LossyTransport final : public TransportWrapper {
 public:
  LossyTransport(Transport& target, double loss, uint64_t seed)
      : TransportWrapper(target), loss_(loss), rng_(seed) {}

  Result<Response> Call(const Request& request) noexcept override {
    ++messages_;
    bytes_ += request.body.size();
    if (lossy_ && Uniform(rng_) < loss_) {
      return Status::Unavailable("simulated loss of a request");
    }
    Result<Response> answer = TransportWrapper::Call(request);
    if (!answer.ok()) return answer;
    bytes_ += answer->body.size();
    if (lossy_ && Uniform(rng_) < loss_) {
      return Status::Unavailable("simulated loss of an answer");
    }
    return answer;
  }

  void set_lossy(bool lossy) noexcept { lossy_ = lossy; }
  uint64_t bytes() const noexcept { return bytes_; }
  uint64_t messages() const noexcept { return messages_; }

 private:
  double loss_;
  std::mt19937_64 rng_;
  bool lossy_ = true;
  uint64_t bytes_ = 0;
  uint64_t messages_ = 0;
};

// A private temp folder for SQLite files, removed on destruction.
class TempDir {
 public:
  Status Create() {
    std::string pattern =
        (fs::temp_directory_path() / "syncstack-sim-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return Status::IOError("cannot create a temporary folder in " +
                             fs::temp_directory_path().string());
    }
    path_ = pattern;
    return Status::Ok();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// One write of the workload: the ground truth the metrics compare with.
struct LoggedWrite {
  int record = 0;
  int device = 0;
  Timestamp real = 0;  // real time of the write
  bool deleted = false;
  std::vector<uint64_t> parents;  // serials of the writes it had seen
};

using Fields = std::array<uint64_t, kFields>;

// Reads {"f0":N,"f1":N,"f2":N} in any member order and spacing (a merging
// policy may rewrite the object); missing fields read as 0.
Fields ParseFields(std::string_view payload) {
  Fields fields{};
  for (int k = 0; k < kFields; ++k) {
    std::string key = "\"f" + std::to_string(k) + "\"";
    size_t at = payload.find(key);
    if (at == std::string_view::npos) continue;
    at += key.size();
    while (at < payload.size() &&
           (payload[at] == ' ' || payload[at] == ':' || payload[at] == '\t' ||
            payload[at] == '\n' || payload[at] == '\r')) {
      ++at;
    }
    uint64_t value = 0;
    while (at < payload.size() && payload[at] >= '0' && payload[at] <= '9') {
      value = value * 10 + static_cast<uint64_t>(payload[at] - '0');
      ++at;
    }
    fields[k] = value;
  }
  return fields;
}

std::string FormatFields(const Fields& fields) {
  std::string out = "{";
  for (int k = 0; k < kFields; ++k) {
    if (k > 0) out += ',';
    out += "\"f" + std::to_string(k) + "\":" + std::to_string(fields[k]);
  }
  return out + "}";
}

bool ChangedAnything(const SyncReport& r) {
  const CaseCounts& c = r.cases;
  return c.fetched_new + c.pulled + c.pushed_updates + c.pushed_adds +
             c.deleted_here + c.pushed_deletes + c.dropped_tombstones +
             r.skipped_local_edits + r.conflicts.size() >
         0;
}

// True when a failed sync is explained by simulated loss: a lost call, or
// a lease left behind by a lost unlock or lock answer.
bool ExplainedByLoss(const Status& s) {
  return s.code() == Status::Code::kUnavailable ||
         s.code() == Status::Code::kLocked ||
         s.code() == Status::Code::kLeaseLost;
}

struct Device {
  std::string name;
  std::unique_ptr<Database> database;
  std::shared_ptr<Store> store;
  std::unique_ptr<ConflictPolicy> policy;
  std::unique_ptr<DeviceClock> clock;
  std::unique_ptr<LossyTransport> transport;
  std::unique_ptr<Replica> replica;
  std::unique_ptr<SyncEngine> engine;
  SyncOptions options;
  // Per record: this device's latest delete (0: none).
  std::vector<uint64_t> last_delete;
  // Writes made here since the last successful sync.
  std::vector<uint64_t> pending;
};

// Offsets spread evenly over [-largest, +largest], dealt in a seeded order.
std::vector<double> Spread(double largest, int n, std::mt19937_64& rng) {
  std::vector<double> values(n, 0.0);
  if (n == 1) {
    values[0] = largest;
  } else {
    for (int i = 0; i < n; ++i) {
      values[i] = -largest + 2.0 * largest * i / (n - 1);
    }
  }
  for (int i = n - 1; i > 0; --i) {  // Fisher-Yates, platform-independent
    std::swap(values[i], values[rng() % (i + 1)]);
  }
  return values;
}

class Simulation {
 public:
  Simulation(const SimulationOptions& options, const PolicyFactory& policy)
      : options_(options),
        factory_(policy),
        real_(kStart),
        ids_rng_(options.seed * 0x9E3779B97F4A7C15ull + 1) {}

  Result<SimulationResult> Run();

 private:
  Result<std::unique_ptr<Database>> OpenDatabase(const std::string& name);
  Status Setup();
  Status Seed();
  Status Step(std::mt19937_64& rng);
  // The clock jump of the workload's middle (options.clock_jump_years).
  void JumpClock();
  int NewRecord();
  Status WriteOn(Device& d, int record, uint32_t dice);
  // Runs one sync of `d` and books it; the Result is the engine's.
  Result<SyncReport> Sync(Device& d);
  void NoteFailure(const Device& d, const Status& s);
  Status ObserveServer(const Device& d);
  // The writes `roots` descend from, roots included; afterwards
  // Seen(x) tells whether x is one of them.
  const std::vector<uint64_t>& Ancestors(const std::vector<uint64_t>& roots);
  bool Seen(uint64_t w) const { return mark_[w] == generation_; }
  void Quiesce();
  Status Evaluate();

  const SimulationOptions& options_;
  const PolicyFactory& factory_;
  SimulationResult result_;
  TempDir dir_;
  ManualClock real_;
  std::mt19937_64 ids_rng_;
  std::unique_ptr<InProcessServer> server_;
  std::shared_ptr<Store> server_store_;
  std::vector<std::unique_ptr<Device>> devices_;

  // The records, by index in creation order; each one is created once,
  // under a fresh id, as an app creates records.
  std::vector<RecordId> ids_;
  std::map<RecordId, int> index_;
  std::vector<LoggedWrite> log_;          // serial = index + 1
  std::vector<Timestamp> last_conflict_;  // per record; kNoTimestamp: none
  // The server's value per record, as the write that made it (the largest
  // serial among a live record's fields; for an absent record the delete
  // that removed it); 0: none.
  std::vector<uint64_t> server_writer_;
  std::vector<bool> server_present_;
  // Per write serial (index 0 unused).
  std::vector<bool> accepted_;         // the server held it, or a descendant
  std::vector<bool> lost_to_earlier_;  // displaced by an earlier write
  std::vector<uint32_t> mark_;         // for Ancestors
  uint32_t generation_ = 0;
  std::vector<uint64_t> ancestors_;
  std::string first_error_;
};

Result<std::unique_ptr<Database>> Simulation::OpenDatabase(
    const std::string& name) {
  if (options_.store == SimStore::kMemory) return OpenMemoryDatabase();
#ifdef SYNCSTACK_SIM_HAS_SQLITE
  SqliteDatabaseOptions sqlite;
  sqlite.path = (dir_.path() / (name + ".db")).string();
  return OpenSqliteDatabase(sqlite);
#else
  (void)name;
  return Status::NotSupported("this build has no SQLite store");
#endif
}

int Simulation::NewRecord() {
  std::array<uint8_t, 16> bytes{};
  for (int half = 0; half < 2; ++half) {
    uint64_t v = ids_rng_();
    for (int b = 0; b < 8; ++b) bytes[half * 8 + b] = (v >> (8 * b)) & 0xff;
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x40;  // a well-formed version-4 UUID
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  int index = static_cast<int>(ids_.size());
  ids_.emplace_back(bytes);
  index_[ids_.back()] = index;
  last_conflict_.push_back(kNoTimestamp);
  server_writer_.push_back(0);
  server_present_.push_back(false);
  for (auto& d : devices_) d->last_delete.push_back(0);
  return index;
}

Status Simulation::Setup() {
  if (options_.store == SimStore::kSqlite) {
    SYNCSTACK_RETURN_IF_ERROR(dir_.Create());
  }
  accepted_.assign(1, false);
  lost_to_earlier_.assign(1, false);
  std::mt19937_64 clocks(options_.seed * 0xD1B54A32D192ED03ull + 3);
  std::vector<double> offsets =
      Spread(options_.skew_seconds * 1000.0, options_.devices, clocks);
  std::vector<double> drifts =
      Spread(options_.drift_ppm, options_.devices, clocks);

  InProcessServerOptions server;
  SYNCSTACK_ASSIGN_OR_RETURN(server.database, OpenDatabase("server"));
  server.policy = factory_.make("server");
  server.clock = &real_;
  server.lease = kLease;
  server.service.max_clock_ahead =
      options_.max_clock_ahead_seconds < 0
          ? std::chrono::milliseconds::max()
          : std::chrono::milliseconds(
                std::llround(options_.max_clock_ahead_seconds * 1000.0));
  server_ = std::make_unique<InProcessServer>(std::move(server));
  SYNCSTACK_ASSIGN_OR_RETURN(server_store_,
                             server_->database().OpenAccount(kUser));

  std::set<std::string> replicas;
  for (int i = 0; i < options_.devices; ++i) {
    auto d = std::make_unique<Device>();
    d->name = "device" + std::to_string(i);
    SYNCSTACK_ASSIGN_OR_RETURN(d->database, OpenDatabase(d->name));
    SYNCSTACK_ASSIGN_OR_RETURN(d->store,
                               d->database->OpenAccount(kLocalAccount));
    // A seeded replica id (store metadata "replica", which a Replica would
    // otherwise draw at random): policies that break ties by replica id
    // then decide the same way in every run.
    std::string replica;
    do {
      char hex[9];
      std::snprintf(hex, sizeof hex, "%08x",
                    static_cast<unsigned>(clocks() & 0xffffffffu));
      replica = hex;
    } while (!replicas.insert(replica).second);
    ChangeBatch identity;
    identity.SetMeta(std::string(meta::kReplica), replica);
    SYNCSTACK_RETURN_IF_ERROR(d->store->Apply(kNoSync, identity));
    d->policy = factory_.make(d->name);
    d->clock = std::make_unique<DeviceClock>(
        real_, static_cast<int64_t>(std::llround(offsets[i])), drifts[i]);
    d->transport = std::make_unique<LossyTransport>(
        server_->transport(), options_.loss,
        options_.seed * 0xBF58476D1CE4E5B9ull + 7919 * (i + 1));
    d->replica =
        std::make_unique<Replica>(*d->store, *d->policy, *d->clock, kNoSync);
    d->engine =
        std::make_unique<SyncEngine>(*d->store, *d->transport, *d->policy);
    d->options.user = kUser;
    d->options.device = d->name;
    d->options.batch_records = options_.batch_records;
    d->options.clock = d->clock.get();  // the server estimates its offset
    d->options.write = kNoSync;
    // The simulator's deletes are real: the guard against truncated
    // manifests would only stop legitimate runs.
    d->options.allow_mass_delete = true;
    devices_.push_back(std::move(d));
  }
  return Status::Ok();
}

// The starting point: device0 creates `records` records and every device
// syncs them, over a healthy network.
Status Simulation::Seed() {
  Device& first = *devices_.front();
  for (int i = 0; i < options_.records; ++i) {
    real_.Advance(1);
    SYNCSTACK_RETURN_IF_ERROR(WriteOn(first, NewRecord(), 999));
  }
  for (auto& d : devices_) d->transport->set_lossy(false);
  for (auto& d : devices_) {
    real_.Advance(1000);
    auto report = Sync(*d);
    if (!report.ok()) {
      return report.status().WithContext(d->name + " loading the records");
    }
  }
  for (auto& d : devices_) d->transport->set_lossy(true);
  return Status::Ok();
}

void Simulation::NoteFailure(const Device& d, const Status& s) {
  ++result_.failed_syncs;
  bool explained = options_.loss > 0 && ExplainedByLoss(s);
  if (!explained && first_error_.empty()) {
    first_error_ = d.name + " at " + std::to_string(real_.Now() - kStart) +
                   " ms: " + s.ToString();
  }
}

Result<SyncReport> Simulation::Sync(Device& d) {
  ++result_.sync_calls;
  Result<SyncReport> report = d.engine->Run(d.options);
  // A failed run may have changed the server too (a lost answer).
  SYNCSTACK_RETURN_IF_ERROR(ObserveServer(d));
  if (!report.ok()) {
    NoteFailure(d, report.status());
    return report;
  }
  result_.conflicts += report->conflicts.size();
  result_.restamped += report->restamped;
  for (const ConflictRecord& c : report->conflicts) {
    auto it = index_.find(c.id);
    if (it != index_.end()) last_conflict_[it->second] = real_.Now();
  }
  // Every write this device made before the run was pushed (or dropped in
  // favour of the server's version): one not accepted was refused, and the
  // device now holds the server's value instead.
  for (uint64_t w : d.pending) {
    if (accepted_[w]) continue;
    uint64_t instead = server_writer_[log_[w - 1].record];
    if (instead == 0 || log_[instead - 1].real < log_[w - 1].real) {
      lost_to_earlier_[w] = true;
    }
  }
  d.pending.clear();
  return report;
}

// Reads the server's value of every record; a new value marks the writes it
// holds as accepted, and notes a write it displaced without having seen it
// when the new value was written earlier in real time.
Status Simulation::ObserveServer(const Device& d) {
  std::vector<bool> live(ids_.size(), false);
  std::vector<uint64_t> writer(ids_.size(), 0);
  ScanOptions options;
  options.include_tombstones = false;
  SYNCSTACK_RETURN_IF_ERROR(
      ScanRecords(*server_store_, kCollection, options, [&](const Record& row) {
        auto it = index_.find(row.id);
        if (it == index_.end()) return;
        int r = it->second;
        live[r] = true;
        for (uint64_t f : ParseFields(row.payload)) {
          if (f != 0 && f <= log_.size() && log_[f - 1].record == r) {
            writer[r] = std::max(writer[r], f);
          }
        }
      }));
  for (size_t r = 0; r < ids_.size(); ++r) {
    uint64_t now = writer[r];
    if (!live[r]) {
      // Absent: the delete that made it so is the syncing device's latest
      // (a record absent before stays as it was).
      now = server_present_[r] ? d.last_delete[r] : server_writer_[r];
    }
    server_present_[r] = live[r];
    uint64_t before = server_writer_[r];
    if (now == before) continue;
    server_writer_[r] = now;
    if (now == 0) continue;
    for (uint64_t w : Ancestors({now})) accepted_[w] = true;
    if (before != 0 && !Seen(before) &&
        log_[now - 1].real < log_[before - 1].real) {
      lost_to_earlier_[before] = true;
    }
  }
  return Status::Ok();
}

const std::vector<uint64_t>& Simulation::Ancestors(
    const std::vector<uint64_t>& roots) {
  mark_.resize(log_.size() + 1, 0);
  ++generation_;
  ancestors_.clear();
  std::vector<uint64_t> to_visit = roots;
  while (!to_visit.empty()) {
    uint64_t x = to_visit.back();
    to_visit.pop_back();
    if (x == 0 || Seen(x)) continue;
    mark_[x] = generation_;
    ancestors_.push_back(x);
    for (uint64_t p : log_[x - 1].parents) to_visit.push_back(p);
  }
  return ancestors_;
}

// One write of `d` on record `record`: an update of one field (80%) or a
// delete (20%) of a record it holds. `dice` in [0, 1000) decides.
Status Simulation::WriteOn(Device& d, int record, uint32_t dice) {
  const RecordId& id = ids_[record];
  SYNCSTACK_ASSIGN_OR_RETURN(std::optional<Record> row,
                             d.store->GetOne(kCollection, id));
  LoggedWrite w;
  w.record = record;
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (devices_[i].get() == &d) w.device = static_cast<int>(i);
  }
  w.real = real_.Now();
  uint64_t serial = log_.size() + 1;
  Fields fields{};
  if (row.has_value() && !row->deleted) {
    fields = ParseFields(row->payload);
    for (uint64_t f : fields) {
      if (f != 0) w.parents.push_back(f);
    }
  }
  Status s;
  if (row.has_value() && !row->deleted && dice % 10 < 2) {
    w.deleted = true;
    s = d.replica->Remove(kCollection, id);
    d.last_delete[record] = serial;
  } else {
    fields[(dice / 10) % kFields] = serial;
    s = d.replica->Put(kCollection, id, FormatFields(fields));
  }
  if (!s.ok()) return s.WithContext(d.name + " writing");
  log_.push_back(std::move(w));
  accepted_.push_back(false);
  lost_to_earlier_.push_back(false);
  d.pending.push_back(serial);
  return Status::Ok();
}

Status Simulation::Step(std::mt19937_64& rng) {
  // Draw every choice first: the same stream for every policy.
  uint64_t span = static_cast<uint64_t>(2 * options_.op_interval_ms - 1);
  int64_t gap = 1 + static_cast<int64_t>(rng() % std::max<uint64_t>(1, span));
  Device& d = *devices_[rng() % devices_.size()];
  bool offline = Uniform(rng) < options_.offline;
  uint64_t pick = rng();
  uint32_t dice = static_cast<uint32_t>(rng() % 1000);

  real_.Advance(gap);
  if (!offline) (void)Sync(d);
  // A record this device holds, picked uniformly; none: create one.
  std::vector<int> mine;
  ScanOptions live;
  live.include_tombstones = false;
  SYNCSTACK_RETURN_IF_ERROR(
      ScanRecords(*d.store, kCollection, live, [&](const Record& row) {
        auto it = index_.find(row.id);
        if (it != index_.end()) mine.push_back(it->second);
      }));
  // Creates keep the number of live records near `records`.
  bool create =
      mine.empty() ||
      pick % static_cast<uint64_t>(options_.records + 1) >= mine.size();
  int record = create ? NewRecord() : mine[pick % mine.size()];
  SYNCSTACK_RETURN_IF_ERROR(WriteOn(d, record, dice));
  ++result_.writes;
  if (log_.back().deleted) ++result_.deletes;
  if (!offline) (void)Sync(d);
  return Status::Ok();
}

void Simulation::Quiesce() {
  for (auto& d : devices_) d->transport->set_lossy(false);
  // Leases a lost unlock answer left behind expire.
  real_.Advance(kLease.count() + 1000);
  bool quiet = false;
  while (!quiet && result_.quiescence_rounds < options_.max_quiescence_rounds) {
    ++result_.quiescence_rounds;
    quiet = true;
    for (auto& d : devices_) {
      real_.Advance(1000);
      Result<SyncReport> report = Sync(*d);
      if (!report.ok() || ChangedAnything(*report)) quiet = false;
    }
  }
}

Status Simulation::Evaluate() {
  using Dump = std::map<RecordId, std::pair<std::string, Timestamp>>;
  ScanOptions live;
  live.include_tombstones = false;
  auto dump = [&](Store& store, Dump& out) {
    return ScanRecords(store, kCollection, live, [&](const Record& r) {
      out[r.id] = {r.payload, r.version.timestamp};
    });
  };
  Dump server;
  SYNCSTACK_RETURN_IF_ERROR(dump(*server_store_, server));
  bool converged = true;
  for (auto& d : devices_) {
    Dump mine;
    SYNCSTACK_RETURN_IF_ERROR(dump(*d->store, mine));
    if (mine != server) converged = false;
    SYNCSTACK_RETURN_IF_ERROR(ScanRecords(*d->store, kCollection, ScanOptions{},
                                          [&](const Record& r) {
                                            if (r.state != SyncState::kSynced)
                                              converged = false;
                                          }));
  }
  result_.converged = converged;

  // Per record: the final state against the ground-truth log.
  std::vector<std::vector<uint64_t>> writes_of(ids_.size());
  for (size_t i = 0; i < log_.size(); ++i) {
    writes_of[log_[i].record].push_back(i + 1);
  }
  auto time_of = [&](uint64_t serial) { return log_[serial - 1].real; };
  for (size_t r = 0; r < ids_.size(); ++r) {
    const auto& writes = writes_of[r];
    if (writes.empty()) continue;
    auto final_row = server.find(ids_[r]);
    bool present = final_row != server.end();
    std::vector<uint64_t> roots;  // writes whose value is in the final state
    uint64_t winner = 0;
    if (present) {
      for (uint64_t f : ParseFields(final_row->second.first)) {
        if (f == 0 || f > log_.size() ||
            log_[f - 1].record != static_cast<int>(r)) {
          continue;
        }
        roots.push_back(f);
        winner = std::max(winner, f);
      }
    } else {
      for (uint64_t w : writes) {
        if (!log_[w - 1].deleted) continue;
        roots.push_back(w);
        winner = std::max(winner, w);
      }
    }
    Ancestors(roots);  // Seen(w): w is reflected
    Timestamp winner_time = winner == 0 ? kNoTimestamp : time_of(winner);
    for (uint64_t w : writes) {
      if (Seen(w)) continue;
      bool overwritten_by_earlier =
          lost_to_earlier_[w] || time_of(w) > winner_time;
      bool silent =
          last_conflict_[r] == kNoTimestamp || last_conflict_[r] < time_of(w);
      if (overwritten_by_earlier || silent) ++result_.lost_updates;
      if (silent) ++result_.silent_lost_updates;
    }
    if (log_[writes.back() - 1].deleted && present) {
      ++result_.resurrected_deletes;
    }
  }
  for (auto& d : devices_) {
    result_.bytes += d->transport->bytes();
    result_.messages += d->transport->messages();
  }
  result_.first_error = first_error_;
  return Status::Ok();
}

void Simulation::JumpClock() {
  if (options_.clock_jump_years <= 0) return;
  constexpr double kMsPerYear = 365.25 * 24 * 3600 * 1000;
  devices_.back()->clock->Jump(
      std::llround(options_.clock_jump_years * kMsPerYear));
}

Result<SimulationResult> Simulation::Run() {
  SYNCSTACK_RETURN_IF_ERROR(ValidateOptions(options_));
  result_.policy = factory_.name;
  result_.skew_seconds = options_.skew_seconds;
  SYNCSTACK_RETURN_IF_ERROR(Setup());
  SYNCSTACK_RETURN_IF_ERROR(Seed());
  std::mt19937_64 workload(options_.seed);
  for (int64_t i = 0; i < options_.ops; ++i) {
    if (i == options_.ops / 2) JumpClock();
    SYNCSTACK_RETURN_IF_ERROR(Step(workload));
  }
  Quiesce();
  SYNCSTACK_RETURN_IF_ERROR(Evaluate());
  return result_;
}

}  // namespace

Status ValidateOptions(const SimulationOptions& o) {
  auto probability = [](double p) { return p >= 0.0 && p <= 1.0; };
  if (o.devices < 1) return Status::InvalidArgument("devices must be >= 1");
  if (o.records < 1) return Status::InvalidArgument("records must be >= 1");
  if (o.ops < 0) return Status::InvalidArgument("ops must be >= 0");
  if (!probability(o.offline)) {
    return Status::InvalidArgument("offline must be a probability in [0, 1]");
  }
  if (!probability(o.loss)) {
    return Status::InvalidArgument("loss must be a probability in [0, 1]");
  }
  if (!(o.skew_seconds >= 0) || !std::isfinite(o.skew_seconds)) {
    return Status::InvalidArgument("skew must be >= 0 seconds");
  }
  if (!(o.drift_ppm >= 0) || !std::isfinite(o.drift_ppm)) {
    return Status::InvalidArgument("drift must be >= 0 ppm");
  }
  if (!(o.clock_jump_years >= 0) || !(o.clock_jump_years <= 5000)) {
    return Status::InvalidArgument("clock_jump_years must be in [0, 5000]");
  }
  if (!std::isfinite(o.max_clock_ahead_seconds) ||
      o.max_clock_ahead_seconds > 1e12) {
    return Status::InvalidArgument(
        "max_clock_ahead_seconds must be finite and at most 1e12");
  }
  if (o.op_interval_ms < 1) {
    return Status::InvalidArgument("op_interval_ms must be >= 1");
  }
  if (o.batch_records < 1) {
    return Status::InvalidArgument("batch_records must be >= 1");
  }
  if (o.max_quiescence_rounds < 1) {
    return Status::InvalidArgument("max_quiescence_rounds must be >= 1");
  }
  return Status::Ok();
}

Result<SimulationResult> Simulate(const SimulationOptions& options,
                                  const PolicyFactory& policy) {
  try {
    Simulation simulation(options, policy);
    return simulation.Run();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("simulate: ") + e.what());
  }
}

}  // namespace syncstack::sim
