// The pure choice of a sync mode (framework/src/engine/mode.h): every
// branch, with the reason `syncstack sync` prints.
#include "engine/mode.h"

#include <gtest/gtest.h>

namespace syncstack::engine {
namespace {

constexpr Timestamp kNow = 1'700'000'000'000;
constexpr Timestamp kDay = 24LL * 3600 * 1000;

// A device that synced 10,000 records a day ago at sequence 500.
ModeInputs Synced() {
  ModeInputs in;
  in.last = LastSync{true, 10000, 500, kNow - kDay};
  in.now = kNow;
  in.server_seq = 510;
  return in;
}

void ExpectManifest(const ModeChoice& c, const std::string& reason) {
  EXPECT_EQ(c.approach, Approach::kManifest);
  EXPECT_EQ(c.mode, SyncMode::kFull);
  EXPECT_EQ(c.reason, reason);
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
