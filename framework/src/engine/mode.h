// Private: how the engine chooses, per collection, the way it learns what
// differs (docs/decisions/sync-modes.md): a pure function of what the
// device knows before asking the server anything more. The reason texts
// are part of the output: `syncstack sync` prints them and tests read them.
#pragma once

#include <cstdint>
#include <string>

#include "syncstack/engine.h"
#include "syncstack/record.h"

namespace syncstack::engine {

// Planning constants (docs/decisions/sync-modes.md).
inline constexpr size_t kManifestPageEntries = 50000;
inline constexpr size_t kColdPageRecords = 10000;
// Entries per changes-feed page asked for (the server also cuts a page
// at about 4 MiB of payload).
inline constexpr size_t kChangesPageEntries = 10000;
// Below this many records a manifest costs less than a reconciliation's
// three round trips.
inline constexpr uint64_t kReconcileMinItems = 1000;
// The least a fallback reconciliation may spend before the manifest.
inline constexpr uint64_t kReconcileMinBudget = 64 * 1024;
// Bytes per binary manifest entry; the items a reconciliation ends by
// listing (ReconcileOptions::list_threshold) and what listing one such
// range costs (bench/reconcile at n = 1M: 768 kB for 1,000 scattered
// differences; 19.9 MB for 100,000, several sharing a range).
inline constexpr uint64_t kManifestEntryBytes = 24;
inline constexpr double kReconcileLeafItems = 32;
inline constexpr double kReconcileLeafBytes = 850;
// A device away longer than this starts with the manifest.
inline constexpr Timestamp kReconcileMaxAgeMs = 30LL * 24 * 3600 * 1000;

// What the last complete sync of a collection recorded (sync/last/<name>).
struct LastSync {
  bool known = false;
  uint64_t items = 0;             // server items on the device after it
  uint64_t seq = 0;               // the server's write sequence then
  Timestamp time = kNoTimestamp;  // the device's clock then
};

// Why the changes feed is not used for a collection this time.
enum class ChangesBlocked : uint8_t {
  kNo,
  // The server refused the checkpoint (410 changes_refused).
  kRefused,
  // After a changes-mode sync the count + fingerprint disagreed.
  kMismatch,
  // The server has no feed (an older server, a transport without it).
  kUnsupported,
};

// What a collection's mode is chosen from.
struct ModeInputs {
  SyncMode asked = SyncMode::kAuto;  // SyncOptions::mode
  bool empty_here = false;           // no local row at all
  bool first_sync_pending = false;   // an interrupted first sync's checkpoint
  bool resync = false;               // the server collected needed tombstones
  bool restored = false;             // the server's history went back
  LastSync last;
  Timestamp now = kNoTimestamp;  // the device's clock
  uint64_t server_seq = 0;       // the account's write sequence now
  ChangesBlocked blocked = ChangesBlocked::kNo;
  std::string blocked_why;  // the server's message, or the figures
};

// How the planner learns the server's side of a collection.
enum class Approach : uint8_t {
  kManifest,   // the whole manifest, merge-joined (SyncMode::kFull)
  kReconcile,  // reconciliation, given up past `budget` bytes
  kFirstSync,  // stream the records themselves, then AfterFirstSync
  kLocalOnly,  // nothing changed on the server: plan local writes only
  kChanges,    // the changes feed after `after`, then the fingerprint check
};

struct ModeChoice {
  Approach approach = Approach::kManifest;
  // As reported (SyncReport::mode): kFull, kReconcile or kChanges.
  // kFirstSync has none yet: AfterFirstSync gives it, with the reason.
  SyncMode mode = SyncMode::kFull;
  std::string reason;
  uint64_t budget = 0;  // kReconcile: bytes before falling back
  uint64_t after = 0;   // kChanges: the checkpoint (a write sequence)
  // Plan as a full resync (PlanInput::resync): the server collected
  // tombstones past the checkpoint, so an absence is proof of a delete.
  bool resync = false;
  // Plan as after a restore (PlanInput::restored): the server's history
  // differs from the one this device synced with.
  bool restored = false;
};

// The way to sync one collection, and why.
ModeChoice ChooseMode(const ModeInputs& in);

// How a streamed first sync (Approach::kFirstSync) ended.
struct FirstSyncOutcome {
  bool done = false;     // the whole collection is in
  bool changed = false;  // resumed, or the server moved during it
  uint64_t records = 0;  // streamed by this run so far, every collection
};

// What to plan after a streamed first sync: the manifest unless it went
// through while the server stood still (kLocalOnly).
ModeChoice AfterFirstSync(const FirstSyncOutcome& outcome);

// What to plan when an automatic reconciliation (`gave_up`) passed its
// budget.
ModeChoice AfterReconcileGaveUp(const ModeChoice& gave_up = {});

// Parses the text kept under sync/last/<name>; not known if malformed.
LastSync ParseLastSync(const std::string& text);
// The text ParseLastSync reads.
std::string FormatLastSync(uint64_t items, uint64_t seq, Timestamp time);

}  // namespace syncstack::engine
