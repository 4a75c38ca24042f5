// Scenario tests for every conflict policy through the real engine and
// service (tests/engine/world.h): a device clock 10 minutes behind, an
// offline edit against a server-side delete (and the reverse), concurrent
// edits of different fields, quiet sequential use without conflicts, the
// conflict journal and the clock-offset estimate.
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>

#include "engine/world.h"
#include "syncstack/policies/registry.h"

namespace syncstack::testing {
namespace {

constexpr int64_t kMinute = 60'000;

std::unique_ptr<World> MakeWorld(const std::string& policy) {
  auto p = NewPolicyByName(policy);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::make_unique<World>(StoreKind::kMemory, Schema{},
                                 1'700'000'000'000, std::move(p).value());
}

RecordId Id(int n) {
  std::array<uint8_t, 16> b{};
  b[15] = static_cast<uint8_t>(n);
  return RecordId(b);
}

std::optional<std::string> ServerPayload(World& w, const RecordId& id) {
  auto r = w.ServerStore().GetOne("todo", id);
  EXPECT_TRUE(r.ok());
  if (!r.ok() || !*r || (*r)->deleted) return std::nullopt;
  return (*r)->payload;
}

size_t Conflicts(const SyncReport& r) { return r.conflicts.size(); }

class EveryPolicy : public ::testing::TestWithParam<std::string> {};

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  for (char& c : n) {
    if (c == '-' || c == '+') c = '_';
  }
  return n;
}

INSTANTIATE_TEST_SUITE_P(Policies, EveryPolicy,
                         ::testing::Values("lww", "hlc", "server-clock",
                                           "server-clock-client-wins",
                                           "version-vector", "lww+fields",
                                           "version-vector+fields"),
                         TestName);

// Devices that take turns (each syncs before the next edits) never
// conflict, under any policy, and all end equal to the server.
TEST_P(EveryPolicy, TakingTurnsNeverConflicts) {
  auto w = MakeWorld(GetParam());
  Device& phone = w->AddDevice("phone");
  Device& laptop = w->AddDevice("laptop");
  auto sync = [&](Device& d) {
    w->clock().Advance(1000);
    auto r = d.Sync();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (r.ok()) {
      EXPECT_EQ(Conflicts(*r), 0u) << d.name << ": " << r->conflicts[0].what;
    }
  };
  ASSERT_OK(phone.Put("todo", Id(1), R"({"t":"a","n":1})"));
  ASSERT_OK(phone.Put("todo", Id(2), R"({"t":"b"})"));
  sync(phone);
  sync(laptop);
  w->clock().Advance(1000);
  ASSERT_OK(laptop.Put("todo", Id(1), R"({"t":"a","n":2})"));
  ASSERT_OK(laptop.Remove("todo", Id(2)));
  sync(laptop);
  sync(phone);
  w->clock().Advance(1000);
  ASSERT_OK(phone.Put("todo", Id(1), R"({"t":"a","n":3})"));
  ASSERT_OK(phone.Put("todo", Id(3), R"({"t":"c"})"));
  sync(phone);
  sync(laptop);
  sync(phone);
  EXPECT_EQ(ServerPayload(*w, Id(1)), R"({"t":"a","n":3})");
  EXPECT_EQ(ServerPayload(*w, Id(2)), std::nullopt);
  Dump server = DumpLive(w->ServerStore());
  EXPECT_EQ(server.size(), 2u);
  EXPECT_EQ(DumpLive(*phone.store), server);
  EXPECT_EQ(DumpLive(*laptop.store), server);
}

// The seed commenter's fear: a device clock 10 minutes behind. The laptop
// (right clock) writes; a minute later the phone (clock behind), having
// synced that write, edits the record. The phone's edit is the newer one.
// Last-write-wins on device clocks loses it; every other policy keeps it
// (lww+fields too: a field's stamp never goes before its previous one).
TEST_P(EveryPolicy, ADeviceClockTenMinutesBehind) {
  auto w = MakeWorld(GetParam());
  Device& laptop = w->AddDevice("laptop");
  Device& phone = w->AddDevice("phone", "alice", nullptr, -10 * kMinute);
  ASSERT_OK(laptop.Put("todo", Id(1), R"({"t":"from laptop"})"));
  ASSERT_OK_AND_ASSIGN(auto r1, laptop.Sync());
  ASSERT_OK_AND_ASSIGN(auto r2, phone.Sync());
  w->clock().Advance(kMinute);
  ASSERT_OK(phone.Put("todo", Id(1), R"({"t":"from phone, later"})"));
  ASSERT_OK_AND_ASSIGN(auto r3, phone.Sync());
  ASSERT_OK_AND_ASSIGN(auto r4, laptop.Sync());
  const std::string policy = GetParam();
  if (policy == "lww") {
    EXPECT_EQ(ServerPayload(*w, Id(1)), R"({"t":"from laptop"})")
        << "lww on device clocks orders the phone's newer write first";
  } else {
    EXPECT_EQ(ServerPayload(*w, Id(1)), R"({"t":"from phone, later"})");
    // (lww+fields reports it: the whole-record rule would have lost it.)
    if (policy != "lww+fields") {
      EXPECT_EQ(Conflicts(r3), 0u);
    }
  }
  // Either way every device ends with what the server holds.
  EXPECT_EQ(DumpLive(*phone.store), DumpLive(w->ServerStore()));
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w->ServerStore()));
  // The server estimated the phone's clock offset.
  EXPECT_EQ(r3.clock_offset_ms, -10 * kMinute);
  EXPECT_EQ(r4.clock_offset_ms, 0);
}

// Offline edit vs server delete: the laptop deletes a record while the
// phone, offline, edits it (later in real time). How it ends is the
// policy's documented rule (docs/policies.md); it is always reported.
TEST_P(EveryPolicy, OfflineEditVersusServerDelete) {
  auto w = MakeWorld(GetParam());
  Device& phone = w->AddDevice("phone");
  Device& laptop = w->AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", Id(1), R"({"t":"x"})"));
  ASSERT_OK_AND_ASSIGN(auto r0, phone.Sync());
  ASSERT_OK_AND_ASSIGN(auto r1, laptop.Sync());
  w->clock().Advance(1000);
  ASSERT_OK(laptop.Remove("todo", Id(1)));
  ASSERT_OK_AND_ASSIGN(auto r2, laptop.Sync());
  w->clock().Advance(1000);
  ASSERT_OK(phone.Put("todo", Id(1), R"({"t":"edited offline"})"));
  w->clock().Advance(1000);
  ASSERT_OK_AND_ASSIGN(auto r3, phone.Sync());
  ASSERT_OK_AND_ASSIGN(auto r4, laptop.Sync());
  ASSERT_EQ(Conflicts(r3), 1u);
  const std::string policy = GetParam();
  if (policy == "server-clock") {
    // The edit's base is older than the delete: the server wins.
    EXPECT_EQ(r3.conflicts[0].kept, Kept::kServer);
    EXPECT_EQ(ServerPayload(*w, Id(1)), std::nullopt);
  } else {
    // lww/hlc: the later write (the edit) wins; server-clock-client-wins:
    // the device wins; version vectors: the edit is concurrent with the
    // delete and survives.
    EXPECT_EQ(r3.conflicts[0].kept, Kept::kClient);
    EXPECT_EQ(ServerPayload(*w, Id(1)), R"({"t":"edited offline"})");
  }
  EXPECT_EQ(DumpLive(*phone.store), DumpLive(w->ServerStore()));
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w->ServerStore()));
}

// Every conflict the server resolves is in the account's journal, written
// with the resolution: both versions, the policy, the outcome, the device
// and its clock offset, the time.
TEST_P(EveryPolicy, ConflictsAreJournaled) {
  auto w = MakeWorld(GetParam());
  Device& phone = w->AddDevice("phone", "alice", nullptr, -2 * kMinute);
  Device& laptop = w->AddDevice("laptop");
  ASSERT_OK(laptop.Put("todo", Id(1), R"({"t":"x"})"));
  ASSERT_OK_AND_ASSIGN(auto r0, laptop.Sync());
  ASSERT_OK_AND_ASSIGN(auto r1, phone.Sync());
  w->clock().Advance(1000);
  ASSERT_OK(laptop.Remove("todo", Id(1)));
  ASSERT_OK_AND_ASSIGN(auto r2, laptop.Sync());
  w->clock().Advance(1000);
  ASSERT_OK(phone.Put("todo", Id(1), R"({"t":"edited offline"})"));
  ASSERT_OK_AND_ASSIGN(auto r3, phone.Sync());
  std::vector<std::string> entries;
  ASSERT_OK(ReadConflictJournal(
      w->ServerStore(),
      [&](uint64_t, std::string_view json) { entries.emplace_back(json); }));
  ASSERT_EQ(entries.size(), 1u);
  const std::string& e = entries[0];
  auto has = [&](const std::string& part) {
    EXPECT_NE(e.find(part), std::string::npos) << part << " in " << e;
  };
  has("\"policy\":\"" + GetParam() + "\"");
  has("\"device\":\"phone\"");
  has("\"clock_offset_ms\":-120000");
  has("\"collection\":\"todo\"");
  has("\"id\":\"" + Id(1).ToString() + "\"");
  has("\"kept\":\"" + std::string(KeptName(r3.conflicts.at(0).kept)) + "\"");
  has("\"server\":{");
  has("\"deleted\":true");  // the stored side: the tombstone
  has("\"client\":{");
  has(R"({"t":"edited offline"})");
  has("\"time\":\"" + FormatTimestamp(w->clock().Now()) + "\"");
}

// The reverse: the laptop edits while the phone, offline, deletes (later
// in real time).
TEST_P(EveryPolicy, OfflineDeleteVersusServerEdit) {
  auto w = MakeWorld(GetParam());
  Device& phone = w->AddDevice("phone");
  Device& laptop = w->AddDevice("laptop");
  ASSERT_OK(phone.Put("todo", Id(1), R"({"t":"x"})"));
  ASSERT_OK_AND_ASSIGN(auto r0, phone.Sync());
  ASSERT_OK_AND_ASSIGN(auto r1, laptop.Sync());
  w->clock().Advance(1000);
  ASSERT_OK(laptop.Put("todo", Id(1), R"({"t":"edited"})"));
  ASSERT_OK_AND_ASSIGN(auto r2, laptop.Sync());
  w->clock().Advance(1000);
  ASSERT_OK(phone.Remove("todo", Id(1)));
  w->clock().Advance(1000);
  ASSERT_OK_AND_ASSIGN(auto r3, phone.Sync());
  ASSERT_OK_AND_ASSIGN(auto r4, laptop.Sync());
  const std::string policy = GetParam();
  if (policy == "lww" || policy == "hlc" || policy == "lww+fields" ||
      policy == "server-clock-client-wins") {
    // The delete is the later write (lww: stamped on arrival) or the
    // device wins: the record is gone.
    EXPECT_EQ(ServerPayload(*w, Id(1)), std::nullopt);
  } else {
    // server-clock: the delete's base is stale, the server's edit stays;
    // version vectors: an edit concurrent with a delete survives.
    EXPECT_EQ(ServerPayload(*w, Id(1)), R"({"t":"edited"})");
    ASSERT_EQ(Conflicts(r3), 1u);
    EXPECT_EQ(r3.conflicts[0].kept, Kept::kServer);
  }
  EXPECT_EQ(DumpLive(*phone.store), DumpLive(w->ServerStore()));
  EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w->ServerStore()));
}

// Concurrent edits of different fields: with +fields both survive.
TEST(FieldMerge, ConcurrentEditsOfDifferentFieldsBothSurvive) {
  for (const char* policy : {"lww+fields", "hlc+fields",
                             "version-vector+fields", "server-clock+fields"}) {
    SCOPED_TRACE(policy);
    auto w = MakeWorld(policy);
    Device& phone = w->AddDevice("phone");
    Device& laptop = w->AddDevice("laptop");
    ASSERT_OK(phone.Put("todo", Id(1), R"({"title":"milk","qty":1})"));
    ASSERT_OK_AND_ASSIGN(auto r0, phone.Sync());
    ASSERT_OK_AND_ASSIGN(auto r1, laptop.Sync());
    w->clock().Advance(1000);
    ASSERT_OK(phone.Put("todo", Id(1), R"({"title":"oat milk","qty":1})"));
    w->clock().Advance(1000);
    ASSERT_OK(laptop.Put("todo", Id(1), R"({"title":"milk","qty":2})"));
    ASSERT_OK_AND_ASSIGN(auto r2, phone.Sync());
    ASSERT_OK_AND_ASSIGN(auto r3, laptop.Sync());
    ASSERT_OK_AND_ASSIGN(auto r4, phone.Sync());
    EXPECT_EQ(ServerPayload(*w, Id(1)), R"({"title":"oat milk","qty":2})");
    EXPECT_EQ(DumpLive(*phone.store), DumpLive(w->ServerStore()));
    EXPECT_EQ(DumpLive(*laptop.store), DumpLive(w->ServerStore()));
  }
}

// Property: random offline workloads on devices with skewed clocks
// converge after quiescence under every policy: two rounds of syncs make
// every device equal to the server, and nothing is left dirty.
TEST_P(EveryPolicy, RandomSkewedWorkloadsConverge) {
  const char* env = std::getenv("SYNCSTACK_SEED");
  const uint64_t first = env ? std::strtoull(env, nullptr, 10) : 1;
  const uint64_t last = env ? first : 5;
  for (uint64_t seed = first; seed <= last; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed) +
                 " (replay with SYNCSTACK_SEED=" + std::to_string(seed) + ")");
    std::cout << "[ seed     ] " << seed << std::endl;
    std::mt19937_64 rng(seed);
    auto w = MakeWorld(GetParam());
    std::vector<Device*> devices;
    for (int i = 0; i < 3; ++i) {
      int64_t skew = static_cast<int64_t>(rng() % 20) * kMinute - 10 * kMinute;
      devices.push_back(
          &w->AddDevice("d" + std::to_string(i), "alice", nullptr, skew));
    }
    for (int op = 0; op < 120; ++op) {
      w->clock().Advance(1 + static_cast<int64_t>(rng() % 5000));
      Device& d = *devices[rng() % devices.size()];
      unsigned dice = rng() % 10;
      RecordId id = Id(1 + static_cast<int>(rng() % 6));
      if (dice < 2) {
        auto r = d.Sync();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
      } else if (dice < 8) {
        ASSERT_OK(d.Put("todo", id,
                        "{\"n\":" + std::to_string(op) + ",\"f" +
                            std::to_string(rng() % 3) + "\":1}"));
      } else if (auto row = d.Get("todo", id); row && !row->deleted) {
        ASSERT_OK(d.Remove("todo", id));
      }
    }
    for (int round = 0; round < 2; ++round) {
      for (Device* d : devices) {
        w->clock().Advance(1000);
        auto r = d->Sync();
        ASSERT_TRUE(r.ok()) << r.status().ToString();
      }
    }
    Dump server = DumpLive(w->ServerStore());
    for (Device* d : devices) {
      EXPECT_EQ(DumpLive(*d->store), server) << d->name;
      for (auto it = d->store->Scan("todo", ScanOptions{}); it->Valid();
           it->Next()) {
        EXPECT_EQ(it->entry().state, SyncState::kSynced) << d->name;
      }
    }
  }
}

// A seed-dialect write (no _version) works under every policy.
TEST_P(EveryPolicy, SeedClientsWriteWithLastUpdateOnly) {
  auto w = MakeWorld(GetParam());
  SyncRequest add;
  add.add.push_back(
      {"todo", {WireRecord{Id(1), 1'700'000'000'000, "{\"a\":1}"}}});
  ASSERT_OK_AND_ASSIGN(auto a1, w->service().Synchronise("alice", add));
  EXPECT_EQ(ServerPayload(*w, Id(1)), "{\"a\":1}");
  w->clock().Advance(5000);
  SyncRequest update;
  update.update.push_back(
      {"todo", {WireRecord{Id(1), 1'700'000'005'000, "{\"a\":2}"}}});
  ASSERT_OK_AND_ASSIGN(auto a2, w->service().Synchronise("alice", update));
  EXPECT_TRUE(a2.conflicts.empty());
  EXPECT_EQ(ServerPayload(*w, Id(1)), "{\"a\":2}");
  SyncRequest del;
  del.del.push_back({"todo", {Id(1)}});
  ASSERT_OK_AND_ASSIGN(auto a3, w->service().Synchronise("alice", del));
  EXPECT_EQ(ServerPayload(*w, Id(1)), std::nullopt);
  // Answers to seed clients carry no _version.
  for (const auto& c : a2.stamps) {
    for (const auto& s : c.stamps) EXPECT_EQ(s.version, "");
  }
}

}  // namespace
}  // namespace syncstack::testing
