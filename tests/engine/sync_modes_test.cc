// The engine's ways to learn what differs (SyncMode): the streamed full
// manifest, reconciliation, the changes feed, and auto (which adds the
// streamed first sync). They must leave identical stores; auto must say
// why it chose; an interrupted first sync must resume where it stopped; a
// refused checkpoint and a damaged device fall back to reconciliation.
#include <gtest/gtest.h>

#include <random>

#include "syncstack/metadata_keys.h"
#include "syncstack/pages.h"
#include "syncstack/tombstones.h"
#include "world.h"

namespace syncstack::testing {
namespace {

// Every row of a store, tombstones and sync state included.
using FullDump = std::map<std::pair<std::string, RecordId>, std::string>;

FullDump DumpAll(Store& store) {
  FullDump dump;
  auto names = store.Collections();
  EXPECT_TRUE(names.ok());
  for (const auto& name : *names) {
    Status s = ScanRecords(store, name, ScanOptions{}, [&](const Record& r) {
      dump[{name, r.id}] = std::to_string(r.version.timestamp) + " " +
                           std::to_string(static_cast<int>(r.state)) + " " +
                           (r.deleted ? "deleted " : "live ") + r.payload;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return dump;
}

std::string Payload(std::mt19937_64& rng) {
  return "{\"n\":" + std::to_string(rng() % 1000000) + "}";
}

// One replayable workload: a writer device fills the server, a phone syncs
// with `mode`, then rounds of edits, creates and deletes on both sides.
struct Outcome {
  FullDump phone, server;
  std::vector<SyncReport> reports;  // the phone's
};

Outcome RunWorkload(StoreKind kind, uint64_t seed, SyncMode mode) {
  Outcome out;
  World world(kind);
  Device& writer = world.AddDevice("writer");
  Device& phone = world.AddDevice("phone");
  phone.options.mode = mode;
  std::mt19937_64 rng(seed);
  std::vector<std::pair<std::string, RecordId>> ids;
  // Most records in "todo", big enough to reconcile; "budget" stays small.
  auto pick = [&] { return std::string(rng() % 10 == 0 ? "budget" : "todo"); };
  for (int i = 0; i < 2000; ++i) {
    std::string c = pick();
    RecordId id = IdFrom(rng);
    EXPECT_TRUE(writer.Put(c, id, Payload(rng)).ok());
    ids.emplace_back(c, id);
  }
  auto w = writer.Sync();
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  world.clock().Advance(1000);
  auto first = phone.Sync();
  EXPECT_TRUE(first.ok()) << first.status().ToString();
  if (first.ok()) out.reports.push_back(*first);

  for (int round = 0; round < 4; ++round) {
    world.clock().Advance(1000);
    // Server side, through the writer; the phone, offline meanwhile.
    for (Device* d : {&writer, &phone}) {
      int ops = 3 + static_cast<int>(rng() % 10);
      for (int k = 0; k < ops; ++k) {
        auto& [c, id] = ids[rng() % ids.size()];
        switch (rng() % 4) {
          case 0: {
            Status s = d->Remove(c, id);  // may be gone already
            EXPECT_TRUE(s.ok() || s.code() == Status::Code::kNotFound)
                << s.ToString();
            break;
          }
          case 1: {
            std::string nc = pick();
            RecordId nid = IdFrom(rng);
            EXPECT_TRUE(d->Put(nc, nid, Payload(rng)).ok());
            ids.emplace_back(nc, nid);
            break;
          }
          default:
            EXPECT_TRUE(d->Put(c, id, Payload(rng)).ok());
        }
        world.clock().Advance(1 + static_cast<int64_t>(rng() % 5));
      }
    }
    auto ws = writer.Sync();
    EXPECT_TRUE(ws.ok()) << ws.status().ToString();
    world.clock().Advance(500);
    auto ps = phone.Sync();
    EXPECT_TRUE(ps.ok()) << ps.status().ToString();
    if (ps.ok()) out.reports.push_back(*ps);
  }
  // Quiescence: both sync once more, so everything reached everyone.
  EXPECT_TRUE(writer.Sync().ok());
  auto last = phone.Sync();
  EXPECT_TRUE(last.ok());
  if (last.ok()) out.reports.push_back(*last);
  out.phone = DumpAll(*phone.store);
  out.server = DumpAll(world.ServerStore());
  // The phone holds exactly the server's live records.
  Dump phone_live = DumpLive(*phone.store);
  Dump server_live = DumpLive(world.ServerStore());
  EXPECT_EQ(phone_live.size(), server_live.size());
  EXPECT_TRUE(phone_live == server_live);
  return out;
}

class SyncModes : public ::testing::TestWithParam<StoreKind> {};

TEST_P(SyncModes, FullReconcileChangesAndAutoLeaveIdenticalStores) {
  for (uint64_t seed : {1u, 2u}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::printf("sync_modes seed %llu\n",
                static_cast<unsigned long long>(seed));
    Outcome full = RunWorkload(GetParam(), seed, SyncMode::kFull);
    for (const auto& r : full.reports) EXPECT_EQ(r.mode, SyncMode::kFull);
    // Each forced mode leaves the full mode's stores and says it was used.
    for (SyncMode mode : {SyncMode::kReconcile, SyncMode::kChanges}) {
      SCOPED_TRACE(SyncModeName(mode));
      Outcome forced = RunWorkload(GetParam(), seed, mode);
      EXPECT_TRUE(full.phone == forced.phone);
      EXPECT_TRUE(full.server == forced.server);
      for (const auto& r : forced.reports) {
        EXPECT_EQ(r.mode, mode) << r.mode_reason;
        EXPECT_EQ(r.fingerprint_mismatch, "");
        EXPECT_EQ(r.changes_refused, "");
      }
    }
    Outcome automatic = RunWorkload(GetParam(), seed, SyncMode::kAuto);
    EXPECT_TRUE(full.phone == automatic.phone);
    EXPECT_TRUE(full.server == automatic.server);
    // Auto: the first sync streams; later ones, with few changes each,
    // read the changes feed and send far less than the full mode.
    ASSERT_GE(automatic.reports.size(), 3u);
    EXPECT_EQ(automatic.reports[0].cold_records, 2000u);
    EXPECT_NE(automatic.reports[0].mode_reason.find("first sync"),
              std::string::npos)
        << automatic.reports[0].mode_reason;
    uint64_t full_bytes = 0, auto_bytes = 0;
    for (size_t i = 1; i < automatic.reports.size(); ++i) {
      const SyncReport& r = automatic.reports[i];
      EXPECT_NE(r.mode_reason.find("todo: changes (checkpoint at sequence "),
                std::string::npos)
          << r.mode_reason;
      // The streamed first sync counted the figure: no scan afterwards.
      EXPECT_EQ(r.mode_reason.find("counted by one scan"), std::string::npos)
          << r.mode_reason;
      EXPECT_EQ(r.fingerprint_mismatch, "");
      auto_bytes += r.traffic.bytes_received;
      full_bytes += full.reports[i].traffic.bytes_received;
    }
    EXPECT_LT(auto_bytes, full_bytes);
  }
}

INSTANTIATE_TEST_SUITE_P(Stores, SyncModes,
                         ::testing::Values(StoreKind::kMemory,
                                           StoreKind::kSqlite),
                         [](const auto& p) { return KindName(p.param); });

TEST(SyncModeChoice, AutoSaysWhy) {
  World world(StoreKind::kMemory);
  Device& writer = world.AddDevice("writer");
  Device& phone = world.AddDevice("phone");
  std::mt19937_64 rng(7);
  std::vector<RecordId> ids;
  for (int i = 0; i < 1500; ++i) {
    ids.push_back(IdFrom(rng));
    ASSERT_OK(writer.Put("big", ids.back(), "{\"v\":1}"));
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(writer.Put("small", IdFrom(rng), "{\"v\":1}"));
  }
  ASSERT_OK(writer.Sync().status());

  ASSERT_OK_AND_ASSIGN(SyncReport first, phone.Sync());
  EXPECT_EQ(first.cold_records, 1510u);
  EXPECT_NE(first.mode_reason.find("big: full (first sync: "),
            std::string::npos)
      << first.mode_reason;

  // Server writes: both collections read the changes feed after their
  // checkpoint, whatever their size.
  world.clock().Advance(1000);
  for (int i = 0; i < 5; ++i) ASSERT_OK(writer.Put("big", ids[i], "{\"v\":2}"));
  ASSERT_OK(writer.Sync().status());
  ASSERT_OK_AND_ASSIGN(SyncReport second, phone.Sync());
  EXPECT_EQ(second.mode, SyncMode::kChanges);
  EXPECT_NE(second.mode_reason.find("big: changes (checkpoint at sequence "),
            std::string::npos)
      << second.mode_reason;
  EXPECT_NE(second.mode_reason.find("5 server writes since)"),
            std::string::npos)
      << second.mode_reason;
  EXPECT_NE(second.mode_reason.find("small: changes (checkpoint at sequence "),
            std::string::npos)
      << second.mode_reason;
  EXPECT_EQ(second.cases.pulled, 5u);
  EXPECT_EQ(second.changes_pulled, 5u);

  // Forced reconciliation and the manifest still work beside it.
  world.clock().Advance(1000);
  for (int i = 0; i < 200; ++i) {
    ASSERT_OK(writer.Put("big", ids[i], "{\"v\":3}"));
  }
  ASSERT_OK(writer.Sync().status());
  phone.options.mode = SyncMode::kFull;
  ASSERT_OK_AND_ASSIGN(SyncReport third, phone.Sync());
  EXPECT_EQ(third.mode, SyncMode::kFull);
  EXPECT_EQ(third.cases.pulled, 200u);
  phone.options.mode = SyncMode::kAuto;
  // The full run kept the figure current: the next changes run agrees.
  ASSERT_OK_AND_ASSIGN(SyncReport fourth, phone.Sync());
  EXPECT_EQ(fourth.mode, SyncMode::kChanges) << fourth.mode_reason;
  EXPECT_EQ(fourth.fingerprint_mismatch, "");
  EXPECT_TRUE(DumpLive(*phone.store) == DumpLive(world.ServerStore()));
}

// When the server's write count understates what changed (here: the
// device's record of its last sync is doctored, as a restored backup might
// be), reconciliation is abandoned once it costs more than the manifest.
TEST(SyncModeChoice, ReconciliationGivesUpWhenItStopsPaying) {
  World world(StoreKind::kMemory);
  Device& writer = world.AddDevice("writer");
  Device& phone = world.AddDevice("phone");
  std::mt19937_64 rng(9);
  std::vector<RecordId> ids;
  for (int i = 0; i < 3000; ++i) {
    ids.push_back(IdFrom(rng));
    ASSERT_OK(writer.Put("big", ids.back(), "{\"v\":1}"));
  }
  ASSERT_OK(writer.Sync().status());
  ASSERT_OK(phone.Sync().status());
  world.clock().Advance(1000);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_OK(writer.Put("big", ids[i], "{\"v\":2}"));
  }
  ASSERT_OK(writer.Sync().status());
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> seq,
                       world.ServerStore().GetMeta(meta::kSequence));
  ASSERT_TRUE(seq.has_value());
  ChangeBatch doctored;
  doctored.SetMeta(meta::SyncLast("big"),
                   "3000 " + *seq + " " + std::to_string(world.clock().Now()));
  ASSERT_OK(phone.store->Apply(WriteOptions{}, doctored));

  // The doctored checkpoint makes the changes feed look empty; the
  // fingerprint disagrees, and the reconciliation that follows gives up.
  ASSERT_OK_AND_ASSIGN(SyncReport report, phone.Sync());
  EXPECT_EQ(report.mode, SyncMode::kFull);
  EXPECT_NE(report.fingerprint_mismatch.find("big: device 3000:"),
            std::string::npos)
      << report.fingerprint_mismatch;
  EXPECT_NE(report.mode_reason.find("reconciliation passed the manifest's "
                                    "size; fell back"),
            std::string::npos)
      << report.mode_reason;
  EXPECT_EQ(report.cases.pulled, 2000u);
  EXPECT_TRUE(DumpLive(*phone.store) == DumpLive(world.ServerStore()));
}

// A device whose checkpoint of a collection is older than the server's
// tombstone horizon while its tombstone mark is not (so the lock does not
// order a full resync; the feed's refusal is the backstop): the feed
// refuses it (410 changes_refused), the run reconciles instead in the same
// run, deleting what the server deleted (their tombstones gone, the
// absence is the proof), and the next run reads the feed again.
TEST(ChangesMode, ACheckpointPastCollectedTombstonesIsRefusedAndRecovers) {
  const uint64_t seed = 21;
  std::printf("changes refusal seed %llu\n",
              static_cast<unsigned long long>(seed));
  World world(StoreKind::kMemory);
  Device& writer = world.AddDevice("writer");
  Device& phone = world.AddDevice("phone");
  std::mt19937_64 rng(seed);
  std::vector<RecordId> ids;
  for (int i = 0; i < 1200; ++i) {
    ids.push_back(IdFrom(rng));
    ASSERT_OK(writer.Put("todo", ids.back(), "{\"v\":1}"));
  }
  ASSERT_OK(writer.Sync().status());
  ASSERT_OK(phone.Sync().status());

  // The phone stays away past the device ttl; the writer deletes and edits,
  // and syncs until the server knows its mark is past its own deletes (a
  // device tells its mark at the lock of its next sync).
  world.clock().Advance(2 * 3600 * 1000);
  for (int i = 0; i < 10; ++i) ASSERT_OK(writer.Remove("todo", ids[i]));
  for (int i = 10; i < 20; ++i) {
    ASSERT_OK(writer.Put("todo", ids[i], "{\"v\":2}"));
  }
  for (int k = 0; k < 3; ++k) {
    world.clock().Advance(1000);
    ASSERT_OK(writer.Sync().status());
  }
  ASSERT_OK_AND_ASSIGN(GcReport gc, world.service().CollectTombstones(
                                        "alice", std::chrono::hours(1)));
  EXPECT_GE(gc.collected, 10u);
  // The phone's mark, but not its checkpoint of "todo", past the horizon.
  ChangeBatch mark;
  mark.SetMeta(std::string(meta::kSyncMark), std::to_string(gc.sequence));
  ASSERT_OK(phone.store->Apply(WriteOptions{}, mark));

  ASSERT_OK_AND_ASSIGN(SyncReport refused, phone.Sync());
  EXPECT_NE(refused.changes_refused.find("tombstone horizon"),
            std::string::npos)
      << refused.changes_refused;
  EXPECT_EQ(refused.mode, SyncMode::kReconcile) << refused.mode_reason;
  EXPECT_NE(
      refused.mode_reason.find("todo: reconcile (changes refused: after: "),
      std::string::npos)
      << refused.mode_reason;
  EXPECT_EQ(refused.cases.deleted_here, 10u);
  EXPECT_EQ(refused.cases.pulled, 10u);
  EXPECT_TRUE(DumpLive(*phone.store) == DumpLive(world.ServerStore()));

  world.clock().Advance(1000);
  ASSERT_OK(writer.Put("todo", ids[30], "{\"v\":3}"));
  ASSERT_OK(writer.Sync().status());
  ASSERT_OK_AND_ASSIGN(SyncReport again, phone.Sync());
  EXPECT_EQ(again.mode, SyncMode::kChanges) << again.mode_reason;
  EXPECT_EQ(again.changes_refused, "");
  EXPECT_EQ(again.fingerprint_mismatch, "");
  EXPECT_EQ(again.cases.pulled, 1u);
  EXPECT_TRUE(DumpLive(*phone.store) == DumpLive(world.ServerStore()));
}

// A device's acknowledged rows damaged behind the engine's back (written
// to its store directly, as a bug or a damaged file might): once the feed
// touches a damaged row the device's figure disagrees with the server's,
// and the reconciliation that follows in the same run repairs every
// damaged row, the ones the feed did not touch too.
TEST(ChangesMode, ADamagedDeviceIsCaughtByTheFingerprintAndRepaired) {
  const uint64_t seed = 23;
  std::printf("changes damage seed %llu\n",
              static_cast<unsigned long long>(seed));
  World world(StoreKind::kMemory);
  Device& writer = world.AddDevice("writer");
  Device& phone = world.AddDevice("phone");
  std::mt19937_64 rng(seed);
  std::vector<RecordId> ids;
  for (int i = 0; i < 1500; ++i) {
    ids.push_back(IdFrom(rng));
    ASSERT_OK(writer.Put("todo", ids.back(), "{\"v\":1}"));
  }
  ASSERT_OK(writer.Sync().status());
  ASSERT_OK(phone.Sync().status());

  // The damage: one row's version and payload overwritten, another erased,
  // both still "synced" as far as the engine can tell.
  const RecordId touched = ids[rng() % ids.size()];
  RecordId erased = ids[rng() % ids.size()];
  while (erased == touched) erased = ids[rng() % ids.size()];
  ASSERT_OK_AND_ASSIGN(std::optional<Record> row,
                       phone.store->GetOne("todo", touched));
  ASSERT_TRUE(row.has_value());
  Record damaged = *row;
  damaged.payload = "{\"v\":\"garbage\"}";
  damaged.version.timestamp += 7;
  damaged.base = damaged.version.timestamp;
  ChangeBatch damage;
  damage.Put(damaged);
  damage.Erase("todo", erased);
  ASSERT_OK(phone.store->Apply(WriteOptions{}, damage));

  // Another device edits the damaged row: the feed brings it.
  world.clock().Advance(1000);
  ASSERT_OK(writer.Put("todo", touched, "{\"v\":2}"));
  ASSERT_OK(writer.Sync().status());

  ASSERT_OK_AND_ASSIGN(SyncReport caught, phone.Sync());
  EXPECT_NE(caught.fingerprint_mismatch.find("todo: device 1500:"),
            std::string::npos)
      << caught.fingerprint_mismatch;
  EXPECT_NE(caught.mode_reason.find(
                "todo: reconcile (fingerprint mismatch: device 1500:"),
            std::string::npos)
      << caught.mode_reason;
  EXPECT_EQ(caught.mode, SyncMode::kReconcile);
  EXPECT_EQ(caught.cases.fetched_new, 1u);  // the erased row, back
  EXPECT_TRUE(DumpLive(*phone.store) == DumpLive(world.ServerStore()));

  // The figure was counted again: the next run agrees at O(1).
  world.clock().Advance(1000);
  ASSERT_OK(writer.Put("todo", ids[0], "{\"v\":3}"));
  ASSERT_OK(writer.Sync().status());
  ASSERT_OK_AND_ASSIGN(SyncReport next, phone.Sync());
  EXPECT_EQ(next.mode, SyncMode::kChanges) << next.mode_reason;
  EXPECT_EQ(next.fingerprint_mismatch, "");
  EXPECT_TRUE(DumpLive(*phone.store) == DumpLive(world.ServerStore()));
}

// Fails the n-th records page request (1-based) once, like a dropped
// connection, and remembers every records query.
class FailNthRecordsPage final : public TransportWrapper {
 public:
  FailNthRecordsPage(Transport& target, int n)
      : TransportWrapper(target), n_(n) {}
  Result<Response> Call(const Request& request) noexcept override {
    if (request.path == kRecordsPath) {
      queries.push_back(request.query);
      if (++seen_ == n_) return Status::Unavailable("connection dropped");
    }
    return TransportWrapper::Call(request);
  }
  std::vector<std::string> queries;

 private:
  int n_;
  int seen_ = 0;
};

TEST(ColdSync, InterruptedFirstSyncResumesWithoutRedoingBatches) {
  World world(StoreKind::kSqlite);
  Device& writer = world.AddDevice("writer");
  std::mt19937_64 rng(11);
  for (int i = 0; i < 12000; ++i) {
    ASSERT_OK(writer.Put("items", IdFrom(rng), "{\"v\":1}"));
  }
  ASSERT_OK(writer.Sync().status());

  FailNthRecordsPage flaky(world.loopback(), 2);
  Device& phone = world.AddDevice("phone", "alice", &flaky);
  auto failed = phone.Sync();
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), Status::Code::kUnavailable);
  // The first batch is in, with its checkpoint.
  size_t after_first = DumpLive(*phone.store).size();
  EXPECT_GT(after_first, 0u);
  EXPECT_LT(after_first, 12000u);
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> mark,
                       phone.store->GetMeta(meta::ColdCheckpoint("items")));
  ASSERT_TRUE(mark.has_value());
  EXPECT_FALSE(mark->empty());

  flaky.queries.clear();
  ASSERT_OK_AND_ASSIGN(SyncReport resumed, phone.Sync());
  EXPECT_EQ(resumed.cold_batches_resumed, 1u);
  EXPECT_EQ(resumed.cold_records, 12000u - after_first);
  ASSERT_FALSE(flaky.queries.empty());
  // The second run starts after the checkpoint, not from the first id.
  EXPECT_NE(flaky.queries[0].find("after=" + *mark), std::string::npos)
      << flaky.queries[0];
  EXPECT_NE(resumed.mode_reason.find("resumed"), std::string::npos)
      << resumed.mode_reason;
  EXPECT_TRUE(DumpLive(*phone.store) == DumpLive(world.ServerStore()));
  ASSERT_OK_AND_ASSIGN(mark,
                       phone.store->GetMeta(meta::ColdCheckpoint("items")));
  EXPECT_TRUE(!mark.has_value() || mark->empty());
}

TEST(ColdSync, LocalWritesMadeBeforeTheFirstSyncArePushed) {
  World world(StoreKind::kMemory);
  Device& writer = world.AddDevice("writer");
  std::mt19937_64 rng(5);
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK(writer.Put("notes", IdFrom(rng), "{\"v\":1}"));
  }
  ASSERT_OK(writer.Sync().status());
  Device& phone = world.AddDevice("phone");
  RecordId mine = IdFrom(rng);
  ASSERT_OK(phone.Put("notes", mine, "{\"mine\":true}"));
  ASSERT_OK_AND_ASSIGN(SyncReport report, phone.Sync());
  EXPECT_EQ(report.cases.pushed_adds, 1u);
  EXPECT_EQ(DumpLive(world.ServerStore()).size(), 51u);
  EXPECT_TRUE(DumpLive(*phone.store) == DumpLive(world.ServerStore()));
}

}  // namespace
}  // namespace syncstack::testing
