// The conflict journal's retention (issue 14, item 6): entries older than
// the retention are dropped when new ones are written, and what is left
// reads back in order through ReadConflictJournal, as `syncstack
// conflicts` reads it.
#include <gtest/gtest.h>

#include "service/journal.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

constexpr Timestamp kDay = 24 * 3600 * 1000;
constexpr Timestamp kT0 = 1'700'000'000'000;
constexpr std::chrono::hours kThirtyDays{30 * 24};

ConflictJournalEntry At(Timestamp time, std::string device) {
  ConflictJournalEntry e;
  e.time = time;
  e.policy = "lww";
  e.collection = "todo";
  e.id = *RecordId::Parse("10000000-0000-4000-8000-000000000001");
  e.device = std::move(device);
  e.server.version = Version{time - 1000, ""};
  e.client.version = Version{time - 2000, ""};
  e.client.payload = "{}";
  return e;
}

// Appends `entries` in one transaction.
void Append(Store& store, std::vector<ConflictJournalEntry> entries,
            std::chrono::hours retention) {
  ChangeBatch batch;
  ASSERT_TRUE(service::AppendToJournal(store, entries, retention, batch).ok());
  ASSERT_TRUE(store.Apply(WriteOptions{}, batch).ok());
}

// The devices of the journal's entries, in order, with their indexes.
std::vector<std::pair<uint64_t, std::string>> Read(Store& store) {
  std::vector<std::pair<uint64_t, std::string>> out;
  Status s = ReadConflictJournal(store, [&](uint64_t i, std::string_view j) {
    auto e = DecodeJournalEntry(j);
    EXPECT_TRUE(e.ok());
    out.emplace_back(i, e.ok() ? e->device : "?");
  });
  EXPECT_TRUE(s.ok());
  return out;
}

std::shared_ptr<Store> NewStore(std::unique_ptr<Database>& db) {
  auto opened = OpenMemoryDatabase();
  EXPECT_TRUE(opened.ok());
  db = std::move(*opened);
  auto store = db->OpenAccount("alice");
  EXPECT_TRUE(store.ok());
  return *store;
}

TEST(JournalRetention, EntriesOlderThanTheRetentionAreDropped) {
  std::unique_ptr<Database> db;
  auto store = NewStore(db);
  Append(*store, {At(kT0, "a"), At(kT0 + 1, "b")}, kThirtyDays);
  Append(*store, {At(kT0 + 10 * kDay, "c")}, kThirtyDays);
  using Seen = std::vector<std::pair<uint64_t, std::string>>;
  EXPECT_EQ(Read(*store), (Seen{{0, "a"}, {1, "b"}, {2, "c"}}));

  Append(*store, {At(kT0 + 31 * kDay, "d")}, kThirtyDays);
  EXPECT_EQ(Read(*store), (Seen{{2, "c"}, {3, "d"}}));
  auto slot = store->GetMeta(meta::JournalEntry(0));
  ASSERT_TRUE(slot.ok());
  EXPECT_EQ(slot->value_or("absent"), "") << "a's slot is emptied";

  Append(*store, {At(kT0 + 100 * kDay, "e")}, kThirtyDays);
  EXPECT_EQ(Read(*store), (Seen{{4, "e"}}));
}

TEST(JournalRetention, ZeroKeepsEverything) {
  std::unique_ptr<Database> db;
  auto store = NewStore(db);
  Append(*store, {At(kT0, "a")}, std::chrono::hours(0));
  Append(*store, {At(kT0 + 400 * kDay, "b")}, std::chrono::hours(0));
  EXPECT_EQ(Read(*store).size(), 2u);
}

TEST(JournalRetention, TheSlotsBoundTheJournal) {
  std::unique_ptr<Database> db;
  auto store = NewStore(db);
  std::vector<ConflictJournalEntry> many;
  for (uint64_t i = 0; i < service::kJournalSlots + 5; ++i) {
    many.push_back(At(kT0 + static_cast<Timestamp>(i), std::to_string(i)));
  }
  Append(*store, std::move(many), kThirtyDays);
  auto seen = Read(*store);
  ASSERT_EQ(seen.size(), service::kJournalSlots);
  EXPECT_EQ(seen.front(), std::make_pair(uint64_t{5}, std::string("5")));
  EXPECT_EQ(seen.back().first, service::kJournalSlots + 4);
}

}  // namespace
}  // namespace syncstack
