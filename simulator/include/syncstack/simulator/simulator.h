// The policy simulator: N devices with skewed clocks edit a shared set of
// records, online or offline, over a lossy network, and sync through the
// real SyncEngine and SyncService over the loopback transport. Each
// conflict policy runs the same workload and is scored on the same metrics.
//
// Determinism: time is simulated. One ManualClock is "real time" (the
// server's clock, advanced by the simulator between steps); each device's
// clock is real time plus a fixed offset and an optional drift. Every random
// choice comes from the seed, and devices act one at a time, so the same
// options and seed give identical results, on any machine, in a fraction of
// a second per thousand operations.
//
// The workload, step by step (options.ops steps):
//   1. real time advances by 1..2*op_interval_ms-1 ms (at least 1 ms, so no
//      two writes share a real time);
//   2. one device is picked; it is offline at this step with probability
//      `offline`. An online device syncs, writes and syncs again (as a
//      connected app does); an offline one only writes locally;
//   3. the write picks one of `records` record ids. If the device holds the
//      record live it updates one field (80%) or deletes it (20%); otherwise
//      it creates it. Payloads are {"f0":S,"f1":S,"f2":S}: a write sets one
//      field to its own serial number S (serials grow with real time) and
//      keeps the other fields as the device saw them.
// Every message and every answer is lost with probability `loss` (the lost
// call fails with kUnavailable; a lost answer's request was applied).
//
// Quiescence: after the last step the network heals (no more loss), stale
// leases expire, and all devices sync in turn, round after round, until a
// whole round changes nothing, at most max_quiescence_rounds rounds.
//
// Metrics (SimulationResult; docs/simulator.md has worked examples). The
// simulator keeps a ground-truth log of every write: record, device, real
// time, and the writes it had seen (the values the device's copy held: a
// payload names, per field, the write that set it; a create after a
// delete the device had synced has seen that delete).
//   A write is *reflected* in the final server state if the final value is
//   that write or was written by a device that had seen it (transitively).
//   For a record absent at the end, every delete and what it had seen are
//   reflected. The simulator reads the server's value of every record after
//   every sync; a value is identified by its writer: for a live record the
//   write with the largest serial among its fields, for an absent one the
//   delete that removed it.
//   lost_updates: writes not reflected at the end that either
//     (a) were overwritten by an earlier write: the server replaced the
//         write's value with one written earlier in real time by a device
//         that had not seen it, or a sync of the writing device ended
//         without the server accepting it and the server kept a value
//         written earlier in real time (or none); or
//     (b) were discarded silently: no device was told of a conflict on the
//         record at or after the write's real time.
//   silent_lost_updates: those of (b), whether or not (a) also holds.
//   conflicts: ConflictRecords in the reports of all successful sync runs.
//   resurrected_deletes: records whose last write in real time is a delete
//     that exist on the server at the end.
//   bytes: request bodies sent plus answer bodies produced by the server
//     (a lost answer's bytes count: they were sent).
//   messages: transport calls (lost ones included).
//   sync_calls: SyncEngine::Run calls; failed_syncs: those that failed.
//   restamped: writes the server restamped (a clock beyond its bound).
//   converged: after quiescence every device holds exactly the server's
//     live records (id, payload, last_update) and nothing left to push.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/conflict_policy.h"
#include "syncstack/status.h"

namespace syncstack::sim {

// A policy the simulator can run. `make` is called once for the server and
// once per device; `replica` names the caller ("server", "device0", ...) for
// policies whose instances are per replica.
struct PolicyFactory {
  std::string name;  // as on the command line, e.g. "lww"
  std::function<std::unique_ptr<ConflictPolicy>(std::string_view replica)> make;
};

// The policies `--policy all` runs, in its order: the policy registry's
// ComparedPolicyNames(). The list is built once; the references live
// forever.
const std::vector<PolicyFactory>& AvailablePolicies();

// The policy named `name`: any name the policy registry accepts
// (conflict-policies/registry). The factory lives forever.
// Errors: kNotFound, naming the known ones.
Result<const PolicyFactory*> FindPolicy(std::string_view name);

enum class SimStore : uint8_t { kMemory, kSqlite };

struct SimulationOptions {
  // Devices of the one simulated user. Default: 3.
  int devices = 3;
  // Distinct record ids the workload touches. Default: 20.
  int records = 20;
  // Workload steps (one write each). Default: 200.
  int64_t ops = 200;
  // Probability that the acting device is offline at a step. Default: 0.5.
  double offline = 0.5;
  // Largest clock offset a device gets, in seconds: offsets are spread
  // evenly over [-skew, +skew] and dealt to devices in a seeded order (one
  // device alone gets +skew). Default: 0.
  double skew_seconds = 0;
  // Largest clock drift, in parts per million, spread the same way; a
  // device's clock gains offset + drift * elapsed real time. Default: 0.
  double drift_ppm = 0;
  // Probability that a message, and independently its answer, is lost.
  // Default: 0.
  double loss = 0;
  // Seeds every random choice. Default: 1.
  uint64_t seed = 1;
  // A device whose clock jumps ahead: halfway through the workload (before
  // step ops/2) the last device's clock jumps this many years ahead and
  // stays there. 0: no jump. Default: 0.
  double clock_jump_years = 0;
  // The server's bound on device clocks ahead of it, in seconds
  // (SyncServiceOptions::max_clock_ahead): later stamps are restamped with
  // the server's clock. Negative: no bound. Default: 300, the service's.
  double max_clock_ahead_seconds = 300;
  // Mean real time between two steps, in milliseconds. Default: 1000.
  int64_t op_interval_ms = 1000;
  // Where devices and the server keep records. Default: memory.
  SimStore store = SimStore::kMemory;
  // Records per synchronise call. Default: 16.
  size_t batch_records = 16;
  // Bound on the quiescence phase, in rounds of every device syncing once.
  // Default: 25.
  int max_quiescence_rounds = 25;
};

// Checks ranges: devices >= 1, records >= 1, ops >= 0, probabilities in
// [0, 1], skew and drift >= 0, clock_jump_years in [0, 5000],
// max_clock_ahead_seconds finite and <= 1e12, op_interval_ms >= 1,
// batch_records >= 1, max_quiescence_rounds >= 1. Errors: kInvalidArgument
// naming the field.
Status ValidateOptions(const SimulationOptions& options);

struct SimulationResult {
  std::string policy;
  double skew_seconds = 0;
  bool converged = false;
  int quiescence_rounds = 0;  // rounds until one changed nothing
  uint64_t writes = 0;        // puts and deletes made by the workload
  uint64_t deletes = 0;       // of which deletes
  uint64_t lost_updates = 0;
  uint64_t silent_lost_updates = 0;
  uint64_t conflicts = 0;
  uint64_t resurrected_deletes = 0;
  uint64_t bytes = 0;
  uint64_t messages = 0;  // transport calls, lost ones included
  uint64_t sync_calls = 0;
  uint64_t failed_syncs = 0;
  // Writes the server restamped (SyncReport::restamped, summed over the
  // reports of all successful runs).
  uint64_t restamped = 0;
  // The first sync failure that simulated loss does not explain (any
  // failure when loss is 0), "device at T ms: status"; empty if none.
  std::string first_error;

  friend bool operator==(const SimulationResult&,
                         const SimulationResult&) = default;
};

// Runs the workload of `options` under `policy`. Errors: kInvalidArgument
// (see ValidateOptions), kIOError (a store failed), or any unexpected error
// of a write or of a sync during quiescence, with context. Sync failures
// caused by simulated loss are not errors: they are counted.
Result<SimulationResult> Simulate(const SimulationOptions& options,
                                  const PolicyFactory& policy);

// --- Output, shared by `syncstack simulate` and tests ---

// The CSV header line (no newline) and one row per result.
std::string CsvHeader();
std::string CsvRow(const SimulationResult& result);

// A fixed-width table for people, one row per result, with a header.
std::string FormatTable(const std::vector<SimulationResult>& results);

// A self-contained SVG document (no scripts, no external files). With
// results at two or more skews: lost updates against clock skew, one line
// per policy. Otherwise: a bar chart of lost updates, silent losses,
// conflicts and resurrected deletes per policy. `subtitle` (e.g. the
// workload's parameters) goes under the title.
std::string RenderSvg(const std::vector<SimulationResult>& results,
                      std::string_view subtitle);

}  // namespace syncstack::sim
