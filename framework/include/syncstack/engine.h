// SyncEngine: one sync run of a device against a server, the seed's three
// cases with per-record sync state:
//
//   lock -> fetch manifest -> merge-join it with the local manifest in id
//   order -> plan -> synchronise in bounded batches -> apply each answer in
//   one local transaction that also updates sync state -> release.
//
// Per id (local state vs. the server's manifest entry):
//   only on the server              -> get
//   both, local synced              -> get if the server's last_update moved
//   both, local changed/created     -> push, or get if the policy says the
//                                      server's version is newer (conflict)
//   both, local deleted             -> push the delete (conflict if the
//                                      server moved and is newer: get)
//   only local, created             -> add
//   only local, changed             -> update (deleted on the server while
//                                      edited here: the server's policy
//                                      decides; the outcome is reported)
//   only local, deleted             -> synced once: push the delete (the
//                                      server's tombstone may be older);
//                                      never synced: forget the tombstone
//   only local, synced              -> deleted on the server: delete here
//
// An interrupted run loses nothing: the local store changes only in
// transactions that carry the data together with its sync state, so the
// next run does just what is left.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "syncstack/clock.h"
#include "syncstack/conflict_policy.h"
#include "syncstack/remote.h"
#include "syncstack/schema.h"
#include "syncstack/store.h"

namespace syncstack {

// How a run learns what differs between the device and the server.
enum class SyncMode : uint8_t {
  // The engine chooses (SyncReport::mode_reason says why): kChanges when
  // the device holds a checkpoint of a complete sync, kReconcile when the
  // server refuses it or the fingerprints disagree, a streamed first sync
  // for an empty collection, kFull for anything else.
  kAuto,
  // The server's whole manifest, streamed page by page in id order and
  // merge-joined with a local scan: O(n) bytes, flat memory.
  kFull,
  // Range-based set reconciliation (reconcile/): O(d log n) bytes for d
  // differences; falls back to kFull when it stops paying.
  kReconcile,
  // The server's changes feed after the device's checkpoint (GET
  // /v1/changes) and the device's own unsynced rows: O(changes), then a
  // count + fingerprint check; falls back to kReconcile in the same run
  // when the server refuses the checkpoint or the fingerprints differ.
  kChanges,
};

// "auto", "full", "reconcile", "changes".
std::string_view SyncModeName(SyncMode mode) noexcept;

struct SyncOptions {
  std::string user;
  std::string password;
  std::string device = "device";  // names the lock holder
  // Collections to sync; empty: every collection local or on the server.
  std::vector<std::string> collections;
  // Records (or ids) per synchronise call. Default: 500.
  size_t batch_records = 500;
  // Payload bytes per synchronise call; a single larger record still goes,
  // alone. Default: 4 MiB.
  size_t batch_bytes = 4u << 20;
  // The mass-deletion guard: stop before deleting, because they are absent
  // from the server's manifest, more than this share of the local synced
  // records of a collection... Default: 0.5.
  double max_delete_share = 0.5;
  // ...when that is more than this many records. Default: 10.
  size_t max_delete_floor = 10;
  // Delete anyway. Default: false.
  bool allow_mass_delete = false;
  // Take the server's lock for the run. Default: true.
  bool lock = true;
  // While another device holds the lock, wait as long as its lease says and
  // try again, for at most this long in all. Default: 0 (fail at once).
  std::chrono::milliseconds lock_wait{0};
  WriteOptions write;
  // This device's clock, sent with lock requests so the server can
  // estimate its offset (SyncReport::clock_offset_ms). Must outlive the
  // run. Default: nullptr (the system clock).
  Clock* clock = nullptr;
  // Send that clock at all. Turn it off for a transport that recognises a
  // repeated request by its bytes (a hand-carried exchange folder: a fresh
  // time would make every run a new request). Default: true.
  bool send_clock = true;
  // Called after login when the server names a conflict policy other than
  // the engine's; returns the policy to plan this run with (it must
  // outlive the run), or nullptr to keep the engine's. Default: none.
  std::function<const ConflictPolicy*(std::string_view name)> adopt_policy;
  // Fail (kInvalidArgument) when the server names a conflict policy at
  // login other than the one planned with. Default: true.
  bool check_policy = true;
  // Default: kAuto.
  SyncMode mode = SyncMode::kAuto;
  // The server's address as the app names it (e.g. its URL). When set, the
  // run keeps its login token in the store's metadata, tied to `user` and
  // this address, and later runs for the same user and address present it
  // instead of logging in (a password check costs the server an Argon2id
  // hash) while at least half its lifetime is left; a 401 drops it and
  // logs in with `password` once. docs/decisions/kept-login-token.md.
  // Default: "" (log in every run, keep no token).
  std::string server;
};

// Per-case counts of one run.
struct CaseCounts {
  uint64_t fetched_new = 0;         // case 1: only on the server -> get
  uint64_t pulled = 0;              // case 2: server newer -> get
  uint64_t pushed_updates = 0;      // case 2: local newer -> update
  uint64_t unchanged = 0;           // case 2: equal
  uint64_t pushed_adds = 0;         // case 3: created offline -> add
  uint64_t deleted_here = 0;        // case 3: deleted on the server
  uint64_t pushed_deletes = 0;      // deleted locally -> delete
  uint64_t dropped_tombstones = 0;  // deleted on both sides
  // Of the pushes above: records, edits and deletes the server had
  // acknowledged and then lost (restored from a backup), pushed again.
  uint64_t repushed = 0;
};

struct ConflictRecord {
  std::string collection;
  RecordId id;
  std::string what;  // e.g. "edited here, deleted on the server"
  Kept kept = Kept::kServer;
};

struct SyncReport {
  CaseCounts cases;
  std::vector<ConflictRecord> conflicts;
  uint64_t skipped_local_edits = 0;  // app wrote during the sync: next run
  TrafficCounters traffic;
  uint64_t synchronise_calls = 0;
  // The mode used (never kAuto) and why it was chosen, e.g. "first sync".
  SyncMode mode = SyncMode::kFull;
  std::string mode_reason;
  // Records a first sync streamed straight into the store (the cold-sync
  // path), and the batches of them already done by an interrupted run.
  uint64_t cold_records = 0;
  uint64_t cold_batches_resumed = 0;
  // The server said tombstones this device may need were collected: the
  // run was a full resync (records edited here but gone from the server
  // were deleted here and reported as conflicts).
  bool resynced = false;
  // The server's history went back past this device's last complete sync
  // (restored from a backup): the run compared every record and pushed
  // again what the server lost (cases.repushed).
  bool server_restored = false;
  // The changes feed refused this device's checkpoint (410
  // changes_refused: tombstones collected past it, or another server
  // history); the run reconciled instead. The server's message, or empty.
  std::string changes_refused;
  // After a changes-mode sync the device's count + fingerprint of its
  // acknowledged records differed from the server's: the run reconciled
  // (and rebuilt the figure). "<collection>: device N:HEX, server M:HEX"
  // per collection, "; "-separated, or empty.
  std::string fingerprint_mismatch;
  // Records the changes feed brought (records and tombstones applied or
  // planned), every collection.
  uint64_t changes_pulled = 0;
  // The server's estimate of this device's clock offset (device - server,
  // ms), from the last lock request; kNoTimestamp if it gave none.
  int64_t clock_offset_ms = kNoTimestamp;
  // Writes the server stamped earlier than this device did: its clock was
  // further ahead than the server allows (serve --max-clock-ahead), so the
  // server restamped them with its own clock, and so did this device.
  uint64_t restamped = 0;
  // The run presented a login token kept from an earlier run (no password
  // check on the server).
  bool login_reused = false;
  std::chrono::microseconds login_time{0};  // login, within lock_time
  std::chrono::microseconds lock_time{0};
  std::chrono::microseconds fetch_time{0};
  std::chrono::microseconds plan_time{0};
  std::chrono::microseconds exchange_time{0};  // synchronise + apply
  // After the exchange: comparing the changes mode's figures (with any
  // reconciliation they order), then recording the run and unlocking.
  std::chrono::microseconds verify_time{0};
  std::chrono::microseconds finish_time{0};
  std::chrono::microseconds total_time{0};
};

// Progress with exact totals, known once the plan is made.
struct SyncProgress {
  enum class Phase : uint8_t { kLock, kFetch, kPlan, kExchange, kDone };
  Phase phase = Phase::kLock;
  uint64_t done = 0;   // operations finished in this phase
  uint64_t total = 0;  // operations in this phase
};

class SyncObserver {
 public:
  virtual ~SyncObserver();
  // Called from the engine's thread; done never decreases within a phase.
  virtual void OnProgress(const SyncProgress& progress) = 0;
};

// Not thread-safe: one Run at a time per engine. Other writers of the store
// (the app, through Replica) may work during a run.
class SyncEngine {
 public:
  // Every reference must outlive the engine. `schema` gives id keys for
  // collections the server has not shown yet; the manifest teaches the rest.
  SyncEngine(Store& store, Transport& transport, const ConflictPolicy& policy,
             Schema schema = {}) noexcept;

  // Runs one sync. Errors: kUnauthorized, kLocked, kLeaseLost, kUnavailable,
  // kAborted (the mass-deletion guard; nothing was deleted), kConflict,
  // kIOError, and protocol errors. After an error, what was applied stays
  // applied and consistent; the next run continues.
  Result<SyncReport> Run(const SyncOptions& options,
                         SyncObserver* observer = nullptr);

 private:
  Store& store_;
  Transport& transport_;
  const ConflictPolicy& policy_;
  Schema schema_;
};

}  // namespace syncstack
