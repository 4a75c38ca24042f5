// ChunkedGet over a fake read (a std::map as the rows): chunk bounds by
// count and by payload bytes, order and repeats of ids, missing ids, an
// unknown collection, errors, and callbacks that run outside the read.
#include "syncstack/chunked_get.h"

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

namespace syncstack {
namespace {

RecordId Id(uint32_t n) {
  std::array<uint8_t, 16> b{};
  for (int i = 15; i >= 12; --i, n >>= 8) b[i] = static_cast<uint8_t>(n);
  return RecordId(b);
}

struct Fake {
  std::map<RecordId, std::string> rows;  // id -> payload
  std::vector<size_t> chunk_sizes;       // records per read
  bool reading = false;                  // inside `read`
  int fail_on_read = -1;

  Status Read(RecordChunk& chunk) {
    int call = static_cast<int>(chunk_sizes.size());
    chunk_sizes.push_back(0);
    if (call == fail_on_read) return Status::IOError("fake: read failed");
    reading = true;
    while (chunk.HasRoom()) {
      auto it = rows.find(chunk.next_id());
      if (it == rows.end()) {
        chunk.NotFound();
        continue;
      }
      Record& r = chunk.Found();
      r.id = it->first;
      r.payload = it->second;
      ++chunk_sizes.back();
    }
    reading = false;
    return Status::Ok();
  }

  Status Get(std::span<const RecordId> ids, std::vector<Record>& out) {
    return ChunkedGet(
        ids, [&](RecordChunk& chunk) { return Read(chunk); },
        [&](const Record& r) {
          EXPECT_FALSE(reading) << "callback while the read holds the store";
          out.push_back(r);
        });
  }
};

TEST(ChunkedGet, CallsBackInTheOrderOfIdsWithRepeatsAndGaps) {
  Fake fake;
  for (uint32_t i = 0; i < 10; ++i) fake.rows[Id(i)] = "p" + std::to_string(i);
  std::vector<RecordId> ids = {Id(7), Id(100), Id(2), Id(7), Id(0), Id(55)};
  std::vector<Record> out;
  ASSERT_TRUE(fake.Get(ids, out).ok());
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].id, Id(7));
  EXPECT_EQ(out[1].id, Id(2));
  EXPECT_EQ(out[2].id, Id(7));
  EXPECT_EQ(out[3].id, Id(0));
  EXPECT_EQ(out[3].payload, "p0");
}

TEST(ChunkedGet, ChunksHoldAtMostMaxRecords) {
  Fake fake;
  std::vector<RecordId> ids;
  const uint32_t n = 2 * RecordChunk::kMaxRecords + 3;
  for (uint32_t i = 0; i < n; ++i) {
    fake.rows[Id(i)] = "x";
    ids.push_back(Id(i));
    ids.push_back(Id(1000000 + i));  // missing ids do not count
  }
  std::vector<Record> out;
  ASSERT_TRUE(fake.Get(ids, out).ok());
  EXPECT_EQ(out.size(), n);
  EXPECT_EQ(fake.chunk_sizes,
            (std::vector<size_t>{RecordChunk::kMaxRecords,
                                 RecordChunk::kMaxRecords, 3}));
  for (uint32_t i = 0; i < n; ++i) EXPECT_EQ(out[i].id, Id(i));
}

TEST(ChunkedGet, ChunksCloseOnceTheirPayloadsReachMaxBytes) {
  Fake fake;
  const std::string big(RecordChunk::kMaxBytes / 2, 'b');
  std::vector<RecordId> ids;
  for (uint32_t i = 0; i < 5; ++i) {
    fake.rows[Id(i)] = big;
    ids.push_back(Id(i));
  }
  std::vector<Record> out;
  ASSERT_TRUE(fake.Get(ids, out).ok());
  EXPECT_EQ(out.size(), 5u);
  EXPECT_EQ(fake.chunk_sizes, (std::vector<size_t>{2, 2, 1}));
}

TEST(ChunkedGet, NoneLeftEndsTheGet) {
  std::vector<RecordId> ids = {Id(1), Id(2)};
  int reads = 0;
  int calls = 0;
  Status s = ChunkedGet(
      ids,
      [&](RecordChunk& chunk) {
        ++reads;
        chunk.NoneLeft();
        return Status::Ok();
      },
      [&](const Record&) { ++calls; });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(calls, 0);
}

TEST(ChunkedGet, NoIdsNoRead) {
  int reads = 0;
  Status s = ChunkedGet(
      {},
      [&](RecordChunk&) {
        ++reads;
        return Status::Ok();
      },
      [](const Record&) {});
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(reads, 0);
}

TEST(ChunkedGet, AReadErrorIsReturnedAndItsChunkNotCalledBack) {
  Fake fake;
  std::vector<RecordId> ids;
  for (uint32_t i = 0; i < RecordChunk::kMaxRecords + 10; ++i) {
    fake.rows[Id(i)] = "x";
    ids.push_back(Id(i));
  }
  fake.fail_on_read = 1;
  std::vector<Record> out;
  Status s = fake.Get(ids, out);
  EXPECT_EQ(s.code(), Status::Code::kIOError);
  EXPECT_EQ(s.message(), "fake: read failed");
  EXPECT_EQ(out.size(), RecordChunk::kMaxRecords);  // the first chunk only
}

TEST(ChunkedGet, AReadWithoutProgressIsAnErrorNotALoop) {
  std::vector<RecordId> ids = {Id(1)};
  Status s = ChunkedGet(
      ids, [](RecordChunk&) { return Status::Ok(); }, [](const Record&) {});
  EXPECT_EQ(s.code(), Status::Code::kIOError);
}

}  // namespace
}  // namespace syncstack
