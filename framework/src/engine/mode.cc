#include "engine/mode.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace syncstack::engine {
namespace {

ModeChoice Manifest(std::string reason) {
  return ModeChoice{Approach::kManifest, SyncMode::kFull, std::move(reason), 0};
}

// Reconciliation's cost for `writes` scattered differences among `items`:
// the ranges of about 32 items that hold at least one, each listed once.
double ReconcileEstimate(uint64_t items, uint64_t writes) {
  const double leaves =
      std::max(1.0, static_cast<double>(items) / kReconcileLeafItems);
  const double differing =
      leaves * (1.0 - std::exp(-static_cast<double>(writes) / leaves));
  return differing * kReconcileLeafBytes + 4096;
}

// An automatic choice for a device that synced this collection before.
ModeChoice ByHistory(const ModeInputs& in) {
  const LastSync& last = in.last;
  if (!last.known) return Manifest("no complete sync recorded");
  if (last.items < kReconcileMinItems) {
    return Manifest("small collection: " + std::to_string(last.items) +
                    " records");
  }
  if (in.now - last.time > kReconcileMaxAgeMs) {
    return Manifest("last complete sync over 30 days ago");
  }
  if (in.server_seq < last.seq) {
    return Manifest("the server's write sequence went back");
  }
  const uint64_t writes = in.server_seq - last.seq;
  const uint64_t manifest_bytes = last.items * kManifestEntryBytes;
  if (ReconcileEstimate(last.items, writes) >=
      static_cast<double>(manifest_bytes)) {
    return Manifest(std::to_string(writes) +
                    " server writes since the last sync: the manifest is "
                    "cheaper");
  }
  return ModeChoice{
      Approach::kReconcile, SyncMode::kReconcile,
      std::to_string(writes) + " server writes since the last sync",
      manifest_bytes};
}

// Reconciliation after the changes feed could not be used or trusted,
// given up (for the manifest) once it costs more than the manifest. A
// refusal because the server's history differs takes the manifest with
// versions at once: only versions tell which copy the server lost.
ModeChoice Fallback(const ModeInputs& in) {
  const bool refused = in.blocked == ChangesBlocked::kRefused;
  const std::string why = refused ? "changes refused: " + in.blocked_why
                                  : "fingerprint mismatch: " + in.blocked_why;
  const bool horizon =
      refused && in.blocked_why.find("tombstone horizon") != std::string::npos;
  if (refused && !horizon) {
    ModeChoice c = Manifest(why + "; comparing every record with versions");
    c.restored = true;
    return c;
  }
  const uint64_t budget =
      in.last.known ? std::max<uint64_t>(in.last.items * kManifestEntryBytes,
                                         kReconcileMinBudget)
                    : UINT64_MAX;
  ModeChoice c{Approach::kReconcile, SyncMode::kReconcile,
               why + "; falling back to reconcile", budget, 0};
  c.resync = horizon;
  return c;
}

ModeChoice Changes(std::string reason, uint64_t after) {
  return ModeChoice{Approach::kChanges, SyncMode::kChanges, std::move(reason),
                    0, after};
}

}  // namespace

ModeChoice ChooseMode(const ModeInputs& in) {
  // A first sync (or the rest of an interrupted one) streams the records
  // themselves (auto only).
  const bool first_sync =
      in.asked == SyncMode::kAuto && (in.empty_here || in.first_sync_pending);
  if (in.resync && !first_sync) {
    // Tombstones this device may need are gone: compare everything (a
    // first sync has nothing to resurrect).
    return Manifest("full resync: tombstones were collected");
  }
  if (in.restored && !first_sync) {
    // Only the manifest with versions tells which of the server's records
    // are older than what it had acknowledged.
    return Manifest("the server's history went back (restored from a backup?)");
  }
  if (in.asked == SyncMode::kFull) return Manifest("asked for");
  if (in.asked == SyncMode::kReconcile) {
    return ModeChoice{Approach::kReconcile, SyncMode::kReconcile, "asked for",
                      UINT64_MAX};
  }
  const bool refused = in.blocked == ChangesBlocked::kRefused ||
                       in.blocked == ChangesBlocked::kMismatch;
  if (in.asked == SyncMode::kChanges && !refused &&
      in.blocked != ChangesBlocked::kUnsupported) {
    // Without a checkpoint the feed from the beginning is everything.
    return Changes(in.last.known ? "asked for"
                                 : "asked for; no checkpoint: from sequence 0",
                   in.last.known ? in.last.seq : 0);
  }
  if (first_sync) {
    return ModeChoice{Approach::kFirstSync, SyncMode::kFull, std::string(), 0};
  }
  if (refused) return Fallback(in);
  if (in.last.known && in.blocked == ChangesBlocked::kNo) {
    if (in.server_seq < in.last.seq) {
      // Restored from a backup, or another server: only the manifest with
      // versions tells what it lost.
      return Manifest("the server's write sequence went back");
    }
    return Changes("checkpoint at sequence " + std::to_string(in.last.seq) +
                       ": " + std::to_string(in.server_seq - in.last.seq) +
                       " server writes since",
                   in.last.seq);
  }
  return ByHistory(in);
}

ModeChoice AfterFirstSync(const FirstSyncOutcome& outcome) {
  if (!outcome.done) return Manifest("a first sync met a local write");
  if (outcome.changed) {
    return Manifest("first sync resumed or the server changed during it: " +
                    std::to_string(outcome.records) + " records streamed");
  }
  // Nothing moved on the server while streaming: only local writes made
  // meanwhile are left.
  return ModeChoice{
      Approach::kLocalOnly, SyncMode::kFull,
      "first sync: " + std::to_string(outcome.records) + " records streamed",
      0};
}

ModeChoice AfterReconcileGaveUp(const ModeChoice& gave_up) {
  ModeChoice c =
      Manifest("reconciliation passed the manifest's size; fell back");
  c.resync = gave_up.resync;
  return c;
}

LastSync ParseLastSync(const std::string& text) {
  LastSync last;
  unsigned long long items = 0, seq = 0;
  long long time = 0;
  if (std::sscanf(text.c_str(), "%llu %llu %lld", &items, &seq, &time) != 3) {
    return last;
  }
  last.known = true;
  last.items = items;
  last.seq = seq;
  last.time = time;
  return last;
}

std::string FormatLastSync(uint64_t items, uint64_t seq, Timestamp time) {
  return std::to_string(items) + " " + std::to_string(seq) + " " +
         std::to_string(time);
}

}  // namespace syncstack::engine
