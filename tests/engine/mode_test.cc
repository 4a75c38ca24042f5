// The pure choice of a sync mode (framework/src/engine/mode.h): every
// branch, with the reason `syncstack sync` prints.
#include "engine/mode.h"

#include <gtest/gtest.h>

namespace syncstack::engine {
namespace {

constexpr Timestamp kNow = 1'700'000'000'000;
constexpr Timestamp kDay = 24LL * 3600 * 1000;

// A device that synced 10,000 records a day ago at sequence 500, against
// a server with a changes feed.
ModeInputs WithFeed() {
  ModeInputs in;
  in.last = LastSync{true, 10000, 500, kNow - kDay};
  in.now = kNow;
  in.server_seq = 510;
  return in;
}

// The same device against a server without the feed: the choice by the
// last sync's history.
ModeInputs Synced() {
  ModeInputs in = WithFeed();
  in.blocked = ChangesBlocked::kUnsupported;
  return in;
}

void ExpectChanges(const ModeChoice& c, const std::string& reason,
                   uint64_t after) {
  EXPECT_EQ(c.approach, Approach::kChanges);
  EXPECT_EQ(c.mode, SyncMode::kChanges);
  EXPECT_EQ(c.reason, reason);
  EXPECT_EQ(c.after, after);
}

void ExpectFallback(const ModeChoice& c, const std::string& reason) {
  EXPECT_EQ(c.approach, Approach::kReconcile);
  EXPECT_EQ(c.mode, SyncMode::kReconcile);
  EXPECT_EQ(c.reason, reason);
}

void ExpectManifest(const ModeChoice& c, const std::string& reason) {
  EXPECT_EQ(c.approach, Approach::kManifest);
  EXPECT_EQ(c.mode, SyncMode::kFull);
  EXPECT_EQ(c.reason, reason);
}

TEST(ChooseMode, ACheckpointTakesTheChangesFeed) {
  ExpectChanges(ChooseMode(WithFeed()),
                "checkpoint at sequence 500: 10 server writes since", 500);
  // However long ago and however many writes: the server refuses a
  // checkpoint it cannot answer for, and the run falls back then.
  ModeInputs in = WithFeed();
  in.last.time = kNow - 2 * kReconcileMaxAgeMs;
  in.last.items = 3;
  in.server_seq = 100000;
  ExpectChanges(ChooseMode(in),
                "checkpoint at sequence 500: 99500 server writes since", 500);
}

TEST(ChooseMode, WithoutACheckpointAutoTakesTheManifest) {
  ModeInputs in = WithFeed();
  in.last = LastSync{};
  ExpectManifest(ChooseMode(in), "no complete sync recorded");
}

TEST(ChooseMode, AnEmptyCollectionStreamsAFirstSyncEvenWithACheckpoint) {
  ModeInputs in = WithFeed();
  in.empty_here = true;
  EXPECT_EQ(ChooseMode(in).approach, Approach::kFirstSync);
}

TEST(ChooseMode, AServerSequenceBehindTheCheckpointTakesTheManifest) {
  ModeInputs in = WithFeed();
  in.server_seq = 499;
  ExpectManifest(ChooseMode(in), "the server's write sequence went back");
}

TEST(ChooseMode, AResyncOrARestoreOverridesTheFeed) {
  ModeInputs in = WithFeed();
  in.resync = true;
  ExpectManifest(ChooseMode(in), "full resync: tombstones were collected");
  in.asked = SyncMode::kChanges;
  ExpectManifest(ChooseMode(in), "full resync: tombstones were collected");
  in.resync = false;
  in.restored = true;
  ExpectManifest(ChooseMode(in),
                 "the server's history went back (restored from a backup?)");
}

TEST(ChooseMode, AskedForChanges) {
  ModeInputs in = WithFeed();
  in.asked = SyncMode::kChanges;
  ExpectChanges(ChooseMode(in), "asked for", 500);
  in.empty_here = true;  // only auto streams a first sync
  ExpectChanges(ChooseMode(in), "asked for", 500);
  in.last = LastSync{};
  ExpectChanges(ChooseMode(in), "asked for; no checkpoint: from sequence 0", 0);
}

TEST(ChooseMode, ARefusedCheckpointFallsBackToReconcile) {
  ModeInputs in = WithFeed();
  in.blocked = ChangesBlocked::kRefused;
  in.blocked_why = "after: 500 is below the tombstone horizon 700; resync";
  const std::string why =
      "changes refused: after: 500 is below the tombstone horizon 700; "
      "resync; falling back to reconcile";
  ModeChoice c = ChooseMode(in);
  ExpectFallback(c, why);
  EXPECT_EQ(c.budget, 10000 * kManifestEntryBytes);  // then the manifest
  in.asked = SyncMode::kChanges;  // forced: falls back all the same
  ExpectFallback(ChooseMode(in), why);
  in.last.items = 3;  // a small collection still reconciles a little
  EXPECT_EQ(ChooseMode(in).budget, kReconcileMinBudget);
  // Tombstones past the checkpoint are gone: an absence proves a delete.
  EXPECT_TRUE(ChooseMode(in).resync);
  EXPECT_FALSE(ChooseMode(in).restored);
  // The budget passed, the manifest keeps planning as a resync.
  EXPECT_TRUE(AfterReconcileGaveUp(ChooseMode(in)).resync);
}

TEST(ChooseMode, ARefusedHistoryComparesEveryRecordWithVersions) {
  ModeInputs in = WithFeed();
  in.blocked = ChangesBlocked::kRefused;
  in.blocked_why = "history: the server's history differs";
  ModeChoice c = ChooseMode(in);
  ExpectManifest(c,
                 "changes refused: history: the server's history differs; "
                 "comparing every record with versions");
  EXPECT_TRUE(c.restored);
  EXPECT_FALSE(c.resync);
}

TEST(ChooseMode, AFingerprintMismatchFallsBackToReconcile) {
  ModeInputs in = WithFeed();
  in.blocked = ChangesBlocked::kMismatch;
  in.blocked_why = "device 3:0000000000000001, server 3:0000000000000002";
  ExpectFallback(ChooseMode(in),
                 "fingerprint mismatch: device 3:0000000000000001, server "
                 "3:0000000000000002; falling back to reconcile");
  EXPECT_FALSE(ChooseMode(in).resync);  // absences still need proof
}

TEST(ChooseMode, WithoutTheFeedForcedChangesChoosesByHistory) {
  ModeInputs in = Synced();
  in.asked = SyncMode::kChanges;
  EXPECT_EQ(ChooseMode(in).approach, Approach::kReconcile);
}

TEST(ChooseMode, AFewServerWritesAreReconciled) {
  ModeChoice c = ChooseMode(Synced());
  EXPECT_EQ(c.approach, Approach::kReconcile);
  EXPECT_EQ(c.mode, SyncMode::kReconcile);
  EXPECT_EQ(c.reason, "10 server writes since the last sync");
  EXPECT_EQ(c.budget, 10000 * kManifestEntryBytes);  // the manifest's size
}

TEST(ChooseMode, AnEmptyCollectionHereStreamsAFirstSync) {
  ModeInputs in = Synced();
  in.empty_here = true;
  ModeChoice c = ChooseMode(in);
  EXPECT_EQ(c.approach, Approach::kFirstSync);
  EXPECT_EQ(c.reason, "");  // AfterFirstSync says why
}

TEST(ChooseMode, AnInterruptedFirstSyncGoesOn) {
  ModeInputs in = Synced();
  in.first_sync_pending = true;
  EXPECT_EQ(ChooseMode(in).approach, Approach::kFirstSync);
}

TEST(ChooseMode, AResyncComparesEverythingUnlessFirstSync) {
  ModeInputs in = Synced();
  in.resync = true;
  ExpectManifest(ChooseMode(in), "full resync: tombstones were collected");
  in.asked = SyncMode::kReconcile;  // a resync overrides the ask
  ExpectManifest(ChooseMode(in), "full resync: tombstones were collected");
  in.asked = SyncMode::kAuto;
  in.empty_here = true;  // nothing here to resurrect
  EXPECT_EQ(ChooseMode(in).approach, Approach::kFirstSync);
}

TEST(ChooseMode, AServerThatWentBackComparesEverythingWithVersions) {
  ModeInputs in = Synced();
  in.restored = true;
  const std::string why =
      "the server's history went back (restored from a backup?)";
  ExpectManifest(ChooseMode(in), why);
  in.asked = SyncMode::kReconcile;  // reconciliation carries no versions
  ExpectManifest(ChooseMode(in), why);
  in.asked = SyncMode::kAuto;
  in.empty_here = true;  // nothing here the server could have lost
  EXPECT_EQ(ChooseMode(in).approach, Approach::kFirstSync);
}

TEST(ChooseMode, AskedForFull) {
  ModeInputs in = Synced();
  in.asked = SyncMode::kFull;
  ExpectManifest(ChooseMode(in), "asked for");
  in.empty_here = true;  // only auto streams a first sync
  ExpectManifest(ChooseMode(in), "asked for");
}

TEST(ChooseMode, AskedForReconcile) {
  ModeInputs in;
  in.asked = SyncMode::kReconcile;
  in.empty_here = true;
  ModeChoice c = ChooseMode(in);
  EXPECT_EQ(c.approach, Approach::kReconcile);
  EXPECT_EQ(c.mode, SyncMode::kReconcile);
  EXPECT_EQ(c.reason, "asked for");
  EXPECT_EQ(c.budget, UINT64_MAX);  // never gives up
}

TEST(ChooseMode, NoCompleteSyncRecorded) {
  ModeInputs in = Synced();
  in.last = LastSync{};
  ExpectManifest(ChooseMode(in), "no complete sync recorded");
}

TEST(ChooseMode, ASmallCollectionTakesTheManifest) {
  ModeInputs in = Synced();
  in.last.items = kReconcileMinItems - 1;
  ExpectManifest(ChooseMode(in), "small collection: 999 records");
  in.last.items = kReconcileMinItems;
  in.server_seq = in.last.seq;  // no writes: reconciling is cheap
  EXPECT_EQ(ChooseMode(in).approach, Approach::kReconcile);
}

TEST(ChooseMode, ADeviceAwayOver30DaysTakesTheManifest) {
  ModeInputs in = Synced();
  in.last.time = kNow - kReconcileMaxAgeMs - 1;
  ExpectManifest(ChooseMode(in), "last complete sync over 30 days ago");
  in.last.time = kNow - kReconcileMaxAgeMs;  // exactly 30 days: still fine
  EXPECT_EQ(ChooseMode(in).approach, Approach::kReconcile);
}

TEST(ChooseMode, TheServerSequenceWentBack) {
  ModeInputs in = Synced();
  in.server_seq = in.last.seq - 1;
  ExpectManifest(ChooseMode(in), "the server's write sequence went back");
}

TEST(ChooseMode, ManyServerWritesMakeTheManifestCheaper) {
  // 1,000 records: the manifest is 24 kB. 100 scattered writes touch about
  // 30 of the 31 ranges of 32: 25 kB + 4 kB of reconciliation.
  ModeInputs in = Synced();
  in.last.items = 1000;
  in.server_seq = in.last.seq + 100;
  ExpectManifest(ChooseMode(in),
                 "100 server writes since the last sync: the manifest is "
                 "cheaper");
  // 10 writes: about 9 ranges, 12 kB: reconciliation.
  in.server_seq = in.last.seq + 10;
  ModeChoice c = ChooseMode(in);
  EXPECT_EQ(c.approach, Approach::kReconcile);
  EXPECT_EQ(c.reason, "10 server writes since the last sync");
  EXPECT_EQ(c.budget, 1000 * kManifestEntryBytes);
}

TEST(ChooseMode, TheCheckOrderIsFixed) {
  // Every history check fails at once: the first one names the reason.
  ModeInputs in = Synced();
  in.last.items = 5;
  in.last.time = kNow - 2 * kReconcileMaxAgeMs;
  in.server_seq = 0;
  ExpectManifest(ChooseMode(in), "small collection: 5 records");
}

TEST(AfterFirstSync, EveryOutcome) {
  ExpectManifest(AfterFirstSync({false, false, 7}),
                 "a first sync met a local write");
  ExpectManifest(AfterFirstSync({true, true, 7}),
                 "first sync resumed or the server changed during it: 7 "
                 "records streamed");
  ModeChoice c = AfterFirstSync({true, false, 3});
  EXPECT_EQ(c.approach, Approach::kLocalOnly);
  EXPECT_EQ(c.mode, SyncMode::kFull);
  EXPECT_EQ(c.reason, "first sync: 3 records streamed");
}

TEST(AfterReconcileGaveUp, FallsBackToTheManifest) {
  ExpectManifest(AfterReconcileGaveUp(),
                 "reconciliation passed the manifest's size; fell back");
}

TEST(LastSync, RoundTripsAndRejectsMalformedText) {
  LastSync last = ParseLastSync(FormatLastSync(1234, 56, kNow));
  EXPECT_TRUE(last.known);
  EXPECT_EQ(last.items, 1234u);
  EXPECT_EQ(last.seq, 56u);
  EXPECT_EQ(last.time, kNow);
  EXPECT_EQ(FormatLastSync(1, 2, 3), "1 2 3");
  EXPECT_FALSE(ParseLastSync("").known);
  EXPECT_FALSE(ParseLastSync("1 2").known);
  EXPECT_FALSE(ParseLastSync("one two three").known);
}

}  // namespace
}  // namespace syncstack::engine
