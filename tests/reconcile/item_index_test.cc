// ItemIndex answers exactly as a NewSortedItemSource over the same items
// (fingerprints, items, split points) through random sequences of upserts
// and erases, at sizes around the chunk boundaries; and serves as the
// server side of a full reconciliation.
//
// Replay: SYNCSTACK_SEED=<seed printed> ctest -R ItemIndex
#include "syncstack/reconcile/item_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>

namespace syncstack {
namespace {

constexpr size_t kChunk = ItemIndex::kChunk;

uint64_t BaseSeed() {
  const char* s = std::getenv("SYNCSTACK_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 2024;
}

// Ids of three shapes: uniform; crowded into a few short prefixes (long
// common prefixes, so separators are long); and ids that are themselves
// zero-padded prefixes (so a separator may equal an item's id).
RecordId RandomId(std::mt19937_64& rng) {
  std::array<uint8_t, 16> b{};
  switch (rng() % 3) {
    case 0: {
      uint64_t x = rng(), y = rng();
      std::memcpy(b.data(), &x, 8);
      std::memcpy(b.data() + 8, &y, 8);
      break;
    }
    case 1: {
      uint64_t y = rng();
      b[0] = static_cast<uint8_t>(rng() % 3);
      b[1] = static_cast<uint8_t>(rng() % 3);
      std::memcpy(b.data() + 8, &y, 8);
      break;
    }
    default: {
      size_t len = 1 + rng() % 3;
      for (size_t i = 0; i < len; ++i) b[i] = static_cast<uint8_t>(rng() % 4);
    }
  }
  return RecordId(b);
}

ReconcileItem RandomItem(std::mt19937_64& rng) {
  return {RandomId(rng), static_cast<Timestamp>(rng() % 1000),
          rng() % 4 == 0 ? rng() : 0};
}

using Model = std::map<RecordId, ReconcileItem>;

std::vector<ReconcileItem> Sorted(const Model& m) {
  std::vector<ReconcileItem> v;
  v.reserve(m.size());
  for (const auto& [id, item] : m) v.push_back(item);
  return v;
}

// A range bound: random, an item's id, next to an item's id, a prefix of
// one, or an extreme.
RecordId RandomBound(std::mt19937_64& rng, const std::vector<RecordId>& ids) {
  if (ids.empty() || rng() % 5 == 0) {
    switch (rng() % 3) {
      case 0:
        return RecordId();
      case 1: {
        std::array<uint8_t, 16> b;
        b.fill(0xff);
        return RecordId(b);
      }
      default:
        return RandomId(rng);
    }
  }
  std::array<uint8_t, 16> b = ids[rng() % ids.size()].bytes();
  switch (rng() % 4) {
    case 0:
      break;  // the id itself
    case 1:
      for (size_t i = 15; i < 16; --i) {  // the next id
        if (++b[i] != 0) break;
      }
      break;
    case 2: {
      size_t keep = rng() % 16;  // a zero-padded prefix
      std::fill(b.begin() + static_cast<ptrdiff_t>(keep), b.end(), 0);
      break;
    }
    default:
      return RandomId(rng);
  }
  return RecordId(b);
}

IdRange RandomRange(std::mt19937_64& rng, const std::vector<RecordId>& ids) {
  IdRange r;
  switch (rng() % 8) {
    case 0:
      return IdRange::All();
    case 1:  // to the end
      r.begin = RandomBound(rng, ids);
      return r;
    case 2:  // empty: begin == end, or end before begin
      r.begin = RandomBound(rng, ids);
      r.end = rng() % 2 ? r.begin : RandomBound(rng, ids);
      if (r.begin < r.end) std::swap(r.begin, r.end);
      r.has_end = true;
      return r;
    default:
      r.begin = RandomBound(rng, ids);
      r.end = RandomBound(rng, ids);
      if (r.end < r.begin) std::swap(r.begin, r.end);
      r.has_end = true;
      return r;
  }
}

std::string Describe(const IdRange& r) {
  return "[" + r.begin.ToString() + ", " +
         (r.has_end ? r.end.ToString() : std::string("end")) + ")";
}

std::vector<ReconcileItem> Items(ItemSource& s, const IdRange& r) {
  std::vector<ReconcileItem> out;
  s.ForEach(r, [&](const ReconcileItem& item) { out.push_back(item); });
  return out;
}

// Compares `index` with a sorted source over `model` on `queries` random
// ranges, plus the structural bounds on the chunk count.
void ExpectSameAnswers(ItemIndex& index, const Model& model,
                       std::mt19937_64& rng, int queries) {
  ASSERT_EQ(index.size(), model.size());
  size_t n = model.size();
  EXPECT_GE(index.chunk_count() * kChunk, n);
  EXPECT_LE(index.chunk_count(), 4 * n / kChunk + 1);
  std::vector<ReconcileItem> sorted = Sorted(model);
  std::vector<RecordId> ids;
  ids.reserve(sorted.size());
  for (const auto& item : sorted) ids.push_back(item.id);
  auto want = NewSortedItemSource(sorted);
  EXPECT_EQ(index.Total(), want->RangeFingerprint(IdRange::All()));
  for (int q = 0; q < queries; ++q) {
    IdRange r = RandomRange(rng, ids);
    SCOPED_TRACE("range " + Describe(r));
    ASSERT_EQ(index.RangeFingerprint(r), want->RangeFingerprint(r));
    if (q % 4 == 0) {
      ASSERT_EQ(Items(index, r), Items(*want, r));
    }
    size_t parts = std::array<size_t, 6>{0, 1, 2, 3, 16, 1000}[rng() % 6];
    ASSERT_EQ(index.SplitPoints(r, parts), want->SplitPoints(r, parts))
        << "parts=" << parts;
  }
  if (n <= 20'000) {
    ASSERT_EQ(Items(index, IdRange::All()), sorted);
  }
}

// One random write on both the index and the model. `grow`: the share (in
// percent) of writes that insert a new id.
void RandomWrite(ItemIndex& index, Model& model, std::vector<RecordId>& ids,
                 std::mt19937_64& rng, unsigned grow) {
  unsigned dice = static_cast<unsigned>(rng() % 100);
  if (dice < grow || ids.empty()) {
    ReconcileItem item = RandomItem(rng);
    if (!model.count(item.id)) ids.push_back(item.id);
    model[item.id] = item;
    index.Upsert(item);
    return;
  }
  size_t k = rng() % ids.size();
  RecordId id = ids[k];
  bool present = model.count(id) > 0;
  if (dice % 3 == 0) {  // replace (or re-insert an erased id)
    ReconcileItem item{id, static_cast<Timestamp>(rng() % 1000), rng() % 2};
    model[id] = item;
    index.Upsert(item);
    if (rng() % 8 == 0) index.Upsert(item);  // the same again: no change
  } else {
    EXPECT_EQ(index.Erase(id), present);
    model.erase(id);
    if (rng() % 2) {  // forget it, or keep it to erase it again (absent)
      ids[k] = ids.back();
      ids.pop_back();
    }
  }
}

TEST(ItemIndex, RandomWritesAnswerAsTheSortedSource) {
  for (uint64_t seed = BaseSeed(); seed < BaseSeed() + 2; ++seed) {
    for (size_t n : {size_t{0}, size_t{1}, kChunk - 1, kChunk, kChunk + 1,
                     2 * kChunk, 2 * kChunk + 1, size_t{3000}}) {
      SCOPED_TRACE("seed=" + std::to_string(seed) + " n=" + std::to_string(n));
      std::mt19937_64 rng(seed * 1'000'003 + n);
      Model model;
      std::vector<ReconcileItem> given;  // unsorted, with repeated ids
      while (model.size() < n) {
        ReconcileItem item = RandomItem(rng);
        if (!given.empty() && rng() % 10 == 0) item.id = given.back().id;
        given.push_back(item);
        model[item.id] = item;
      }
      std::shuffle(given.begin(), given.end(), rng);
      model.clear();
      for (const auto& item : given) model[item.id] = item;  // last counts
      ItemIndex index(given);
      ExpectSameAnswers(index, model, rng, 100);
      std::vector<RecordId> ids;
      for (const auto& [id, item] : model) ids.push_back(id);
      // Grow, churn, drain to nothing, grow again.
      for (unsigned grow : {80u, 40u, 0u, 90u}) {
        SCOPED_TRACE("grow=" + std::to_string(grow));
        size_t rounds = grow == 0 ? 12 : 4;
        for (size_t round = 0; round < rounds; ++round) {
          size_t writes = 1 + rng() % (2 * kChunk);
          for (size_t w = 0; w < writes; ++w) {
            RandomWrite(index, model, ids, rng, grow);
          }
          ExpectSameAnswers(index, model, rng, 25);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(ItemIndex, AnswersBetweenSingleWrites) {
  // A question after every write: the lazily rebuilt prefix sums must
  // follow each split, merge, and dropped chunk.
  uint64_t seed = BaseSeed() + 7;
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  ItemIndex index;
  Model model;
  std::vector<RecordId> ids;
  Fingerprint total;  // of the model, kept up to date write by write
  for (int step = 0; step < 20'000; ++step) {
    bool grow = rng() % 100 < (step < 10'000 ? 70u : 15u);
    if (grow || ids.empty()) {
      ReconcileItem item = RandomItem(rng);
      auto it = model.find(item.id);
      if (it != model.end()) total.Remove(it->second);
      ids.push_back(item.id);
      model[item.id] = item;
      total.Add(item);
      index.Upsert(item);
    } else {
      size_t k = rng() % ids.size();
      auto it = model.find(ids[k]);
      ASSERT_EQ(index.Erase(ids[k]), it != model.end());
      if (it != model.end()) {
        total.Remove(it->second);
        model.erase(it);
      }
      ids[k] = ids.back();
      ids.pop_back();
    }
    ASSERT_EQ(index.size(), model.size());
    ASSERT_EQ(index.Total(), total) << "step " << step;
    if (step % 500 == 0) ExpectSameAnswers(index, model, rng, 10);
  }
}

TEST(ItemIndex, EmptyIndex) {
  ItemIndex index;
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.Total(), Fingerprint());
  EXPECT_EQ(index.RangeFingerprint(IdRange::All()), Fingerprint());
  EXPECT_TRUE(index.SplitPoints(IdRange::All(), 16).empty());
  EXPECT_TRUE(Items(index, IdRange::All()).empty());
  EXPECT_FALSE(index.Erase(RecordId()));
  ReconcileItem item{RecordId(), 5, 0};
  index.Upsert(item);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.Erase(RecordId()));
  EXPECT_EQ(index.Total(), Fingerprint());
  EXPECT_EQ(index.chunk_count(), 0u);
}

TEST(ItemIndex, MovesLeaveAnEmptyIndex) {
  std::mt19937_64 rng(BaseSeed() + 8);
  std::vector<ReconcileItem> items;
  for (int i = 0; i < 1000; ++i) items.push_back(RandomItem(rng));
  ItemIndex a(items);
  Fingerprint total = a.Total();
  ItemIndex b(std::move(a));
  EXPECT_EQ(b.Total(), total);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): specified
  EXPECT_EQ(a.Total(), Fingerprint());
  a.Upsert(items[0]);
  EXPECT_EQ(a.size(), 1u);
  a = std::move(b);
  EXPECT_EQ(a.Total(), total);
}

TEST(ItemIndex, LargeIndexAnswersAsTheSortedSource) {
  std::mt19937_64 rng(BaseSeed() + 9);
  SCOPED_TRACE("seed=" + std::to_string(BaseSeed() + 9));
  Model model;
  while (model.size() < 100'000) {
    ReconcileItem item = RandomItem(rng);
    model[item.id] = item;
  }
  ItemIndex index(Sorted(model));
  ExpectSameAnswers(index, model, rng, 100);
  std::vector<RecordId> ids;
  for (const auto& [id, item] : model) ids.push_back(id);
  for (int i = 0; i < 20'000; ++i) RandomWrite(index, model, ids, rng, 50);
  ExpectSameAnswers(index, model, rng, 100);
}

// Reconciles a device (a sorted source) with a server (an ItemIndex that
// took the server's writes one by one) and checks the differences found.
TEST(ItemIndex, ServesAFullReconciliation) {
  uint64_t seed = BaseSeed() + 10;
  std::mt19937_64 rng(seed);
  for (size_t n : {size_t{0}, size_t{1}, kChunk - 1, kChunk, kChunk + 1,
                   size_t{10'000}, size_t{100'000}}) {
    for (size_t d : {size_t{0}, size_t{1}, size_t{10}, size_t{1000}}) {
      if (d > 0 && n > 0 && d > 2 * n) continue;
      if (n == 100'000 && d < 10) continue;  // time
      SCOPED_TRACE("seed=" + std::to_string(seed) + " n=" + std::to_string(n) +
                   " d=" + std::to_string(d));
      Model base;
      while (base.size() < n) {
        ReconcileItem item = RandomItem(rng);
        base[item.id] = item;
      }
      Model device = base, server = base;
      ItemIndex index(Sorted(base));
      std::vector<RecordId> ids;
      for (const auto& [id, item] : base) ids.push_back(id);
      for (size_t i = 0; i < d; ++i) {
        switch (rng() % 4) {
          case 0: {  // a server write: new or changed
            ReconcileItem item = RandomItem(rng);
            if (!ids.empty() && rng() % 2) item.id = ids[rng() % ids.size()];
            server[item.id] = item;
            index.Upsert(item);
            break;
          }
          case 1:  // a server delete
            if (!ids.empty()) {
              RecordId id = ids[rng() % ids.size()];
              server.erase(id);
              index.Erase(id);
            }
            break;
          case 2: {  // new on the device
            ReconcileItem item = RandomItem(rng);
            device[item.id] = item;
            break;
          }
          default:  // changed or gone on the device
            if (!ids.empty()) {
              RecordId id = ids[rng() % ids.size()];
              if (rng() % 2) {
                device.erase(id);
              } else if (device.count(id)) {
                device[id].timestamp += 1000;
              }
            }
        }
      }
      auto mine = NewSortedItemSource(Sorted(device));
      ReconcileClient client(*mine);
      std::string message = client.Initiate();
      int rounds = 0;
      while (!message.empty() && rounds < 40) {
        ++rounds;
        auto answer = ReconcileRespond(index, message);
        ASSERT_TRUE(answer.ok()) << answer.status().ToString();
        auto next = client.Process(*answer);
        ASSERT_TRUE(next.ok()) << next.status().ToString();
        message = std::move(next).value();
      }
      EXPECT_TRUE(message.empty());
      std::map<RecordId, std::pair<std::optional<ReconcileItem>,
                                   std::optional<ReconcileItem>>>
          want, got;
      for (const auto& [id, item] : device) {
        auto it = server.find(id);
        if (it == server.end()) {
          want[id] = {item, std::nullopt};
        } else if (!(it->second == item)) {
          want[id] = {item, it->second};
        }
      }
      for (const auto& [id, item] : server) {
        if (!device.count(id)) want[id] = {std::nullopt, item};
      }
      for (const auto& f : client.differences()) {
        EXPECT_FALSE(got.count(f.id)) << "reported twice: " << f.id.ToString();
        got[f.id] = {f.mine, f.theirs};
      }
      EXPECT_EQ(got, want);
    }
  }
}

}  // namespace
}  // namespace syncstack
