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
  if (first_sync) {
    return ModeChoice{Approach::kFirstSync, SyncMode::kFull, std::string(), 0};
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

ModeChoice AfterReconcileGaveUp() {
  return Manifest("reconciliation passed the manifest's size; fell back");
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
