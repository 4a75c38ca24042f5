// The reconcile item cache is bounded by bytes as well as by entries
// (issue 14, item 6): a collection's index larger than the budget serves
// its request and is not kept, and the kept indexes never take more than
// the budget together.
#include "service/item_cache.h"

#include <gtest/gtest.h>

#include "syncstack/memory/memory_store.h"

namespace syncstack {
namespace {

// A store of account "a" with `n` live records in each of `collections`.
std::shared_ptr<Store> StoreWith(Database& db,
                                 const std::vector<std::string>& collections,
                                 size_t n) {
  auto store = db.OpenAccount("a");
  EXPECT_TRUE(store.ok());
  ChangeBatch batch;
  for (const std::string& c : collections) {
    for (size_t i = 0; i < n; ++i) {
      std::array<uint8_t, 16> bytes{};
      for (size_t b = 0; b < 8; ++b) bytes[15 - b] = (i >> (8 * b)) & 0xFF;
      Record r;
      r.collection = c;
      r.id = RecordId(bytes);
      r.version.timestamp = 1'700'000'000'000 + static_cast<int64_t>(i);
      r.payload = "{}";
      batch.Put(std::move(r));
    }
  }
  EXPECT_TRUE((*store)->Apply(WriteOptions{}, batch).ok());
  return *store;
}

TEST(ItemCache, KeptIndexesStayWithinTheByteBudget) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  std::vector<std::string> names = {"c0", "c1", "c2", "c3", "c4", "c5"};
  auto store = StoreWith(**db, names, 3000);
  // One index of 3000 items is 6 chunks or more: budget room for two.
  service::ItemCaches probe;
  auto one = probe.Current(*store, "a", "c0", 1);
  ASSERT_TRUE(one.ok());
  const size_t each = service::ItemCaches::IndexBytes(*(*one)->items);
  ASSERT_GT(each, 3000u * 48);

  service::ItemCaches cache(2 * each + each / 2);
  for (const std::string& c : names) {
    auto entry = cache.Current(*store, "a", c, 1);
    ASSERT_TRUE(entry.ok());
    EXPECT_EQ((*entry)->items->size(), 3000u) << "the request is served";
    EXPECT_LE(cache.bytes(), 2 * each + each / 2);
  }
  EXPECT_EQ(cache.entry_count(), 2u);
  EXPECT_EQ(cache.bytes(), 2 * each);
}

TEST(ItemCache, AnIndexOverTheBudgetIsNotKept) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  auto store = StoreWith(**db, {"big"}, 5000);
  service::ItemCaches cache(1000);
  auto entry = cache.Current(*store, "a", "big", 1);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ((*entry)->items->size(), 5000u);
  EXPECT_EQ(cache.entry_count(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
  EXPECT_FALSE(cache.Holds(*entry));  // the service then trims the heap
  service::ItemCaches::ReleaseFreedMemory();
  EXPECT_EQ((*entry)->items->size(), 5000u);  // a user's index is untouched
}

TEST(ItemCache, AnIndexWithinTheBudgetIsHeld) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  auto store = StoreWith(**db, {"small"}, 100);
  service::ItemCaches cache;
  auto entry = cache.Current(*store, "a", "small", 1);
  ASSERT_TRUE(entry.ok());
  EXPECT_TRUE(cache.Holds(*entry));
  auto other = cache.Current(*store, "b", "small", 1);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(*entry, *other);
  EXPECT_TRUE(cache.Holds(*other));
}

}  // namespace
}  // namespace syncstack
