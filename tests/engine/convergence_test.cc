// Randomized convergence: devices make random offline edits and sync in
// random order over the loopback transport; after the final rounds every
// device equals the server.
//
// Replay a failure: SYNCSTACK_SEED=<printed seed> ctest -R Convergence
// More seeds:       SYNCSTACK_SEEDS=<count> ...
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <set>

#include "world.h"

namespace syncstack::testing {
namespace {

struct Params {
  StoreKind kind;
  int devices;
  int ops_per_device;
  uint64_t first_seed;
  int seeds;
};

std::vector<uint64_t> Seeds(const Params& p) {
  if (const char* one = std::getenv("SYNCSTACK_SEED")) {
    return {std::strtoull(one, nullptr, 10)};
  }
  int count = p.seeds;
  if (const char* n = std::getenv("SYNCSTACK_SEEDS")) count = std::atoi(n);
  std::vector<uint64_t> seeds;
  for (int i = 0; i < count; ++i) seeds.push_back(p.first_seed + i);
  return seeds;
}

void RunSeed(const Params& p, uint64_t seed) {
  SCOPED_TRACE("seed=" + std::to_string(seed) +
               " (replay with SYNCSTACK_SEED=" + std::to_string(seed) + ")");
  std::cout << "[ seed     ] " << KindName(p.kind) << " seed=" << seed
            << std::endl;
  std::mt19937_64 rng(seed);
  World w(p.kind);
  std::vector<Device*> devices;
  for (int i = 0; i < p.devices; ++i) {
    Device& d = w.AddDevice("device" + std::to_string(i));
    d.options.batch_records = 1 + rng() % 40;  // small batches: many calls
    devices.push_back(&d);
  }
  const char* kCollections[] = {"todo", "budget"};
  std::set<std::pair<std::string, RecordId>> created;
  std::map<std::pair<std::string, RecordId>, std::set<std::string>> written;
  int counter = 0;

  std::vector<int> ops_left(p.devices, p.ops_per_device);
  int total_left = p.devices * p.ops_per_device;
  while (total_left > 0) {
    int di = static_cast<int>(rng() % p.devices);
    if (ops_left[di] == 0) continue;
    Device& d = *devices[di];
    w.clock().Advance(static_cast<int64_t>(rng() % 4));  // ties happen
    if (rng() % 12 == 0) {
      auto r = d.Sync();
      ASSERT_TRUE(r.ok()) << d.name << ": " << r.status().ToString();
      continue;
    }
    --ops_left[di];
    --total_left;
    std::string collection = kCollections[rng() % 2];
    std::vector<RecordId> mine;  // the device's live ids in `collection`
    ScanOptions live;
    live.include_tombstones = false;
    for (auto it = d.store->Scan(collection, live); it->Valid(); it->Next()) {
      mine.push_back(it->entry().id);
    }
    unsigned dice = rng() % 10;
    std::string payload =
        "{\"by\":\"" + d.name + "\",\"n\":" + std::to_string(++counter) + "}";
    if (mine.empty() || dice < 4) {
      RecordId id = IdFrom(rng);
      created.insert({collection, id});
      written[{collection, id}].insert(payload);
      ASSERT_TRUE(d.Put(collection, id, payload).ok());
    } else if (dice < 8) {
      RecordId id = mine[rng() % mine.size()];
      written[{collection, id}].insert(payload);
      ASSERT_TRUE(d.Put(collection, id, payload).ok());
    } else {
      RecordId id = mine[rng() % mine.size()];
      ASSERT_TRUE(d.Remove(collection, id).ok());
    }
  }

  // Final rounds: at most two per device.
  for (int round = 0; round < 2; ++round) {
    for (Device* d : devices) {
      w.clock().Advance(1);
      auto r = d->Sync();
      ASSERT_TRUE(r.ok()) << d->name << ": " << r.status().ToString();
    }
  }
  Dump server = DumpLive(w.ServerStore());
  for (Device* d : devices) {
    EXPECT_EQ(DumpLive(*d->store), server) << d->name << " did not converge";
  }
  for (const auto& [key, value] : server) {
    EXPECT_TRUE(created.count(key))
        << "phantom record " << key.second.ToString();
    EXPECT_TRUE(written[key].count(value.first))
        << "payload no device wrote: " << value.first;
  }
  // Nothing is left dirty anywhere.
  for (Device* d : devices) {
    for (const char* c : kCollections) {
      for (auto it = d->store->Scan(c, ScanOptions{}); it->Valid();
           it->Next()) {
        EXPECT_EQ(it->entry().state, SyncState::kSynced) << d->name;
      }
    }
  }
}

class ConvergenceTest : public ::testing::TestWithParam<Params> {};

TEST_P(ConvergenceTest, DevicesEqualTheServerAfterTwoRounds) {
  for (uint64_t seed : Seeds(GetParam())) {
    RunSeed(GetParam(), seed);
    if (HasFatalFailure() || HasNonfatalFailure()) break;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Loopback, ConvergenceTest,
    ::testing::Values(Params{StoreKind::kMemory, 3, 1000, 1, 4},
                      Params{StoreKind::kSqlite, 3, 1000, 101, 1}),
    [](const auto& p) { return KindName(p.param.kind); });

}  // namespace
}  // namespace syncstack::testing
