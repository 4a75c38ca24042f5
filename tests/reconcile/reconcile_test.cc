// Set reconciliation finds exactly the differing ids: checked against a
// brute-force comparison on random sets (0 to 100k items, 0 to 100%
// different, fixed seeds), plus bad messages and the fingerprint algebra.
//
// Replay: SYNCSTACK_SEED=<seed printed> ctest -R Reconcile
#include "syncstack/reconcile/reconcile.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>

namespace syncstack {
namespace {

RecordId RandomId(std::mt19937_64& rng) {
  std::array<uint8_t, 16> b;
  uint64_t x = rng(), y = rng();
  std::memcpy(b.data(), &x, 8);
  std::memcpy(b.data() + 8, &y, 8);
  return RecordId(b);
}

using Set = std::map<RecordId, ReconcileItem>;

std::vector<ReconcileItem> Sorted(const Set& s) {
  std::vector<ReconcileItem> v;
  for (const auto& [id, item] : s) v.push_back(item);
  return v;
}

struct Outcome {
  std::vector<Difference> found;
  int rounds = 0;
  size_t bytes = 0;
};

Outcome Reconcile(const Set& device, const Set& server,
                  ReconcileOptions options = {}) {
  auto mine = NewSortedItemSource(Sorted(device));
  auto theirs = NewSortedItemSource(Sorted(server));
  ReconcileClient client(*mine, options);
  Outcome o;
  std::string message = client.Initiate();
  while (!message.empty()) {
    ++o.rounds;
    o.bytes += message.size();
    auto answer = ReconcileRespond(*theirs, message, options);
    EXPECT_TRUE(answer.ok()) << answer.status().ToString();
    if (!answer.ok() || o.rounds > 40) break;
    o.bytes += answer->size();
    auto next = client.Process(*answer);
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    if (!next.ok()) break;
    message = std::move(next).value();
  }
  o.found = client.differences();
  return o;
}

// Every id whose items differ, with both sides' items.
std::map<RecordId,
         std::pair<std::optional<ReconcileItem>, std::optional<ReconcileItem>>>
BruteForce(const Set& device, const Set& server) {
  std::map<RecordId, std::pair<std::optional<ReconcileItem>,
                               std::optional<ReconcileItem>>>
      out;
  for (const auto& [id, item] : device) {
    auto it = server.find(id);
    if (it == server.end()) {
      out[id] = {item, std::nullopt};
    } else if (!(it->second == item)) {
      out[id] = {item, it->second};
    }
  }
  for (const auto& [id, item] : server) {
    if (!device.count(id)) out[id] = {std::nullopt, item};
  }
  return out;
}

uint64_t BaseSeed() {
  const char* s = std::getenv("SYNCSTACK_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 1126;
}

TEST(Reconcile, FindsExactlyTheDifferencesOnRandomSets) {
  uint64_t seed = BaseSeed();
  std::cout << "[ seed     ] " << seed << std::endl;
  std::mt19937_64 rng(seed);
  for (size_t n : {0, 1, 5, 33, 100, 1000, 10'000, 100'000}) {
    for (double share : {0.0, 0.0001, 0.01, 0.1, 0.5, 1.0}) {
      if (n == 100'000 && (share == 0.1 || share == 0.5)) continue;  // time
      SCOPED_TRACE("n=" + std::to_string(n) +
                   " share=" + std::to_string(share));
      Set base;
      while (base.size() < n) {
        ReconcileItem item{RandomId(rng),
                           static_cast<Timestamp>(rng() % 1'000'000'000), 0};
        base[item.id] = item;
      }
      Set device = base, server = base;
      size_t d = static_cast<size_t>(static_cast<double>(n) * share);
      if (share > 0 && d == 0) d = 1;
      std::vector<RecordId> ids;
      for (const auto& [id, item] : base) ids.push_back(id);
      for (size_t i = 0; i < d; ++i) {
        switch (rng() % 5) {
          case 0: {  // new on the device
            ReconcileItem item{RandomId(rng), 1, 0};
            device[item.id] = item;
            break;
          }
          case 1: {  // new on the server
            ReconcileItem item{RandomId(rng), 2, 0};
            server[item.id] = item;
            break;
          }
          case 2: {  // edited on one side
            auto it = ids.empty() ? device.end()
                                  : device.find(ids[rng() % ids.size()]);
            if (it != device.end()) it->second.timestamp += 7;
            break;
          }
          case 3:  // deleted on one side (gone, or a tombstone's tag)
            if (!ids.empty()) server.erase(ids[rng() % ids.size()]);
            break;
          default: {
            auto it = ids.empty() ? server.end()
                                  : server.find(ids[rng() % ids.size()]);
            if (it != server.end()) it->second.tag = ReconcileTag("", true);
          }
        }
      }
      Outcome o = Reconcile(device, server);
      auto want = BruteForce(device, server);
      std::map<RecordId, std::pair<std::optional<ReconcileItem>,
                                   std::optional<ReconcileItem>>>
          got;
      for (const auto& f : o.found) {
        EXPECT_FALSE(got.count(f.id)) << "reported twice: " << f.id.ToString();
        got[f.id] = {f.mine, f.theirs};
      }
      EXPECT_EQ(got, want);
      EXPECT_LE(o.rounds, 12);
      if (want.empty()) {
        EXPECT_EQ(o.rounds, 1);  // one fingerprint, one "all equal"
      }
    }
  }
}

TEST(Reconcile, CostGrowsWithDifferencesNotWithSize) {
  std::mt19937_64 rng(BaseSeed() + 1);
  Set base;
  while (base.size() < 200'000) {
    ReconcileItem item{RandomId(rng), 5, 0};
    base[item.id] = item;
  }
  Set device = base;
  std::vector<RecordId> ids;
  for (const auto& [id, item] : base) ids.push_back(id);
  std::set<RecordId> changed;
  while (changed.size() < 10) {
    RecordId id = ids[rng() % ids.size()];
    device.at(id).timestamp = 9;
    changed.insert(id);
  }
  Outcome o = Reconcile(device, base);
  EXPECT_EQ(o.found.size(), 10u);
  // A manifest of 200k entries is megabytes; ten differences cost a few kB.
  EXPECT_LT(o.bytes, 20'000u);
}

TEST(Reconcile, BadMessagesAreErrorsNotCrashes) {
  std::mt19937_64 rng(BaseSeed() + 2);
  Set s;
  while (s.size() < 500) {
    ReconcileItem item{RandomId(rng), 1, 0};
    s[item.id] = item;
  }
  auto source = NewSortedItemSource(Sorted(s));
  ReconcileClient client(*source);
  std::string good = client.Initiate();
  ASSERT_TRUE(ReconcileRespond(*source, good).ok());
  for (std::string bad :
       {std::string(), std::string("\x02"), std::string("\x01"),
        std::string("\x01\x11"), good.substr(0, good.size() - 1), good + "x"}) {
    EXPECT_EQ(ReconcileRespond(*source, bad).status().code(),
              Status::Code::kInvalidArgument);
  }
  for (int i = 0; i < 2000; ++i) {  // random damage
    std::string damaged = good;
    damaged[rng() % damaged.size()] = static_cast<char>(rng());
    (void)ReconcileRespond(*source, damaged);
    (void)client.Process(damaged);
  }
  ReconcileOptions small;
  small.max_message = 4;
  EXPECT_EQ(ReconcileRespond(*source, good, small).status().code(),
            Status::Code::kInvalidArgument);
}

TEST(Reconcile, ItemSourcesSortAndKeepTheLastOfAnId) {
  std::mt19937_64 rng(BaseSeed() + 4);
  std::vector<ReconcileItem> items;
  for (int i = 0; i < 100; ++i) items.push_back({RandomId(rng), i, 0});
  std::vector<ReconcileItem> shuffled = items;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  shuffled.push_back({items[7].id, 999, 0});  // a later item for one id
  auto source = NewSortedItemSource(shuffled);
  Fingerprint want;
  for (const auto& item : items) {
    if (item.id == items[7].id) {
      want.Add({item.id, 999, 0});
    } else {
      want.Add(item);
    }
  }
  EXPECT_EQ(source->RangeFingerprint(IdRange::All()), want);
  RecordId last;
  bool first = true;
  source->ForEach(IdRange::All(), [&](const ReconcileItem& item) {
    EXPECT_TRUE(first || last < item.id);
    first = false;
    last = item.id;
  });
}

TEST(Reconcile, FingerprintsAreIncremental) {
  std::mt19937_64 rng(BaseSeed() + 3);
  std::vector<ReconcileItem> items;
  for (int i = 0; i < 1000; ++i) {
    items.push_back({RandomId(rng), static_cast<Timestamp>(rng()), rng()});
  }
  Fingerprint all;
  for (const auto& item : items) all.Add(item);
  Fingerprint half;
  for (size_t i = 0; i < 500; ++i) half.Add(items[i]);
  Fingerprint rest = all;
  for (size_t i = 0; i < 500; ++i) rest.Remove(items[i]);
  Fingerprint other;
  for (size_t i = 500; i < items.size(); ++i) other.Add(items[i]);
  EXPECT_EQ(rest, other);
  EXPECT_EQ(all - half, other);
  for (const auto& item : items) all.Remove(item);
  EXPECT_EQ(all, Fingerprint());
  // The order of adds does not matter; a different version does.
  Fingerprint a, b;
  a.Add(items[0]);
  a.Add(items[1]);
  b.Add(items[1]);
  b.Add(items[0]);
  EXPECT_EQ(a, b);
  ReconcileItem changed = items[0];
  changed.timestamp += 1;
  Fingerprint c;
  c.Add(changed);
  c.Add(items[1]);
  EXPECT_NE(a, c);
  EXPECT_NE(ReconcileTag("", true), ReconcileTag("", false));
  EXPECT_EQ(ReconcileTag("", false), 0u);
}

}  // namespace
}  // namespace syncstack
