// ChunkedScanSince / ChunkedScanUnsynced over a fake index: resuming after
// the last row of each chunk, limits, and reads that go wrong.
#include "syncstack/index_scan.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace syncstack {
namespace {

RecordId IdOf(int b) {
  std::array<uint8_t, 16> bytes{};
  bytes[14] = static_cast<uint8_t>(b >> 8);
  bytes[15] = static_cast<uint8_t>(b);
  return RecordId(bytes);
}

// A (base, id) index of `n` rows: row i has base 10 + i / 3 (three rows
// share a base) and id i.
std::map<std::pair<Timestamp, RecordId>, Record> MakeIndex(int n) {
  std::map<std::pair<Timestamp, RecordId>, Record> index;
  for (int i = 0; i < n; ++i) {
    Record r;
    r.id = IdOf(i);
    r.base = 10 + i / 3;
    r.state = i % 2 == 0 ? SyncState::kCreated : SyncState::kSynced;
    index[{r.base, r.id}] = r;
  }
  return index;
}

TEST(IndexScanTest, SinceKeyAfterExcludesEqualBase) {
  SinceKey k = SinceKey::After(5);
  EXPECT_FALSE(k.Before(5, IdOf(255)));
  EXPECT_TRUE(k.Before(6, IdOf(0)));
  EXPECT_FALSE(k.Before(4, IdOf(0)));
}

TEST(IndexScanTest, ResumesAcrossChunksInOrderAndStopsAtLimit) {
  auto index = MakeIndex(200);
  int reads = 0;
  auto read = [&](const SinceKey& from, RowChunk& chunk) -> Status {
    ++reads;
    // Small chunks, to cross many of them.
    size_t taken = 0;
    for (const auto& [key, row] : index) {
      if (!from.Before(key.first, key.second)) continue;
      if (!chunk.HasRoom() || taken == 7) return Status::Ok();
      chunk.Add() = row;
      ++taken;
    }
    chunk.SetEnd();
    return Status::Ok();
  };
  std::vector<Record> got;
  ASSERT_TRUE(ChunkedScanSince(20, 50, read, [&](const Record& r) {
                got.push_back(r);
              }).ok());
  ASSERT_EQ(got.size(), 50u);
  EXPECT_GT(reads, 5);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_GT(got[i].base, 20);
    if (i > 0) {
      EXPECT_LT(std::make_pair(got[i - 1].base, got[i - 1].id),
                std::make_pair(got[i].base, got[i].id));
    }
  }
  EXPECT_EQ(got.front().base, 21);
  // Everything after the end: all rows with base > 70 (rows 183..199).
  got.clear();
  ASSERT_TRUE(ChunkedScanSince(70, 1000, read, [&](const Record& r) {
                got.push_back(r);
              }).ok());
  EXPECT_EQ(got.size(), 200u - 183u);
}

TEST(IndexScanTest, ReadThatNeitherAddsNorEndsIsAnError) {
  auto read = [](const SinceKey&, RowChunk&) { return Status::Ok(); };
  Status s = ChunkedScanSince(0, 10, read, [](const Record&) {});
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  auto unsynced = [](const RecordId*, RowChunk&) { return Status::Ok(); };
  EXPECT_EQ(ChunkedScanUnsynced(unsynced, [](const Record&) {}).code(),
            Status::Code::kIOError);
}

TEST(IndexScanTest, ReadErrorIsReturnedAndItsRowsNotCalledBack) {
  auto read = [](const SinceKey&, RowChunk& chunk) {
    chunk.Add().base = 1;
    return Status::IOError("disk");
  };
  int calls = 0;
  Status s = ChunkedScanSince(0, 10, read, [&](const Record&) { ++calls; });
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(calls, 0);
}

TEST(IndexScanTest, UnsyncedResumesAfterLastId) {
  auto index = MakeIndex(300);
  std::map<RecordId, Record> unsynced;
  for (const auto& [key, row] : index) {
    if (row.state != SyncState::kSynced) unsynced[row.id] = row;
  }
  auto read = [&](const RecordId* from, RowChunk& chunk) -> Status {
    auto it = from == nullptr ? unsynced.begin() : unsynced.upper_bound(*from);
    for (; it != unsynced.end(); ++it) {
      if (!chunk.HasRoom()) return Status::Ok();
      chunk.Add() = it->second;
    }
    chunk.SetEnd();
    return Status::Ok();
  };
  std::vector<RecordId> got;
  ASSERT_TRUE(ChunkedScanUnsynced(read, [&](const Record& r) {
                got.push_back(r.id);
              }).ok());
  ASSERT_EQ(got.size(), unsynced.size());
  size_t i = 0;
  for (const auto& [id, row] : unsynced) EXPECT_EQ(got[i++], id);
}

}  // namespace
}  // namespace syncstack
