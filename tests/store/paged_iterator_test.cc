// PagedManifestIterator over a fake page source (a std::map as the rows):
// page boundaries, empty pages, errors mid-way, ranges, the greatest id,
// writes between pages, and a model-based random run (seed printed; replay
// with SYNCSTACK_SEED=<n>).
#include "syncstack/paged_iterator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <string>
#include <vector>

namespace syncstack {
namespace {

RecordId Id(uint8_t last, uint8_t first = 0) {
  std::array<uint8_t, 16> b{};
  b[0] = first;
  b[15] = last;
  return RecordId(b);
}

RecordId MaxId() {
  std::array<uint8_t, 16> b;
  b.fill(0xff);
  return RecordId(b);
}

// The rows of a fake store: id -> deleted.
using Rows = std::map<RecordId, bool>;

// A page source over `rows` that examines at most `max_examined` rows per
// page (like the memory and LMDB stores) and can fail or misbehave on a
// chosen call. Records every request.
class FakeSource final : public ManifestPageSource {
 public:
  struct Shared {
    Rows rows;
    size_t max_examined = SIZE_MAX;
    size_t fail_on_call = SIZE_MAX;  // 0-based index of the failing call
    bool no_progress = false;        // return without examining or ending
    bool throw_bad_alloc = false;
    std::vector<PageRequest> requests;
  };

  explicit FakeSource(Shared& shared) : shared_(shared) {}

  Status Fill(const PageRequest& request, EntryPage& page) override {
    EXPECT_EQ(page.size(), 0u) << "a page must start empty";
    size_t call = shared_.requests.size();
    shared_.requests.push_back(request);
    if (call == shared_.fail_on_call) {
      if (shared_.throw_bad_alloc) throw std::bad_alloc();
      return Status::Unavailable("fake: call " + std::to_string(call));
    }
    if (shared_.no_progress) return Status::Ok();
    auto it = shared_.rows.lower_bound(request.range.begin);
    for (size_t examined = 0;
         examined < shared_.max_examined && page.size() < request.limit;
         ++examined, ++it) {
      if (it == shared_.rows.end() || request.PastEnd(it->first)) {
        page.SetEnd();
        return Status::Ok();
      }
      if (!request.include_tombstones && it->second) {
        page.Skip(it->first);
        continue;
      }
      ManifestEntry& e = page.Add(it->first);
      e.deleted = it->second;
      e.version.timestamp = it->first.bytes()[15];
      e.version.extra.assign(it->first.bytes()[15] % 3, 'x');
    }
    return Status::Ok();
  }

 private:
  Shared& shared_;
};

std::unique_ptr<PagedManifestIterator> NewIterator(FakeSource::Shared& shared,
                                                   const ScanOptions& options,
                                                   size_t limit) {
  return std::make_unique<PagedManifestIterator>(
      std::make_unique<FakeSource>(shared), options, limit);
}

// The ids a scan yields, checking each entry's fields against the row.
std::vector<RecordId> Drain(ManifestIterator& it) {
  std::vector<RecordId> out;
  for (; it.Valid(); it.Next()) {
    const ManifestEntry& e = it.entry();
    EXPECT_EQ(e.version.timestamp, e.id.bytes()[15]);
    EXPECT_EQ(e.version.extra, std::string(e.id.bytes()[15] % 3, 'x'));
    out.push_back(e.id);
  }
  return out;
}

// What the scan must yield: the model's answer.
std::vector<RecordId> Expected(const Rows& rows, const ScanOptions& options) {
  std::vector<RecordId> out;
  for (const auto& [id, deleted] : rows) {
    if (!options.range.Contains(id)) continue;
    if (deleted && !options.include_tombstones) continue;
    out.push_back(id);
  }
  return out;
}

TEST(PagedIterator, EveryPageSizeYieldsEveryRowOnce) {
  for (size_t n : {0, 1, 2, 3, 4, 6, 7, 12, 25}) {
    for (size_t limit : {1, 2, 3, 4, 7, 100}) {
      FakeSource::Shared shared;
      for (size_t i = 0; i < n; ++i) shared.rows[Id(2 * i + 1)] = false;
      auto it = NewIterator(shared, ScanOptions{}, limit);
      EXPECT_EQ(Drain(*it), Expected(shared.rows, ScanOptions{}))
          << "n=" << n << " limit=" << limit;
      EXPECT_TRUE(it->status().ok());
      // One request per full page, plus one that finds the end (a page that
      // ends exactly at the last row cannot know it is the last).
      EXPECT_EQ(shared.requests.size(), n / limit + 1)
          << "n=" << n << " limit=" << limit;
      for (const PageRequest& r : shared.requests) EXPECT_EQ(r.limit, limit);
    }
  }
}

TEST(PagedIterator, NextPageStartsRightAfterTheLastIdExamined) {
  FakeSource::Shared shared;
  for (uint8_t i : {10, 20, 30, 40, 50}) shared.rows[Id(i)] = false;
  auto it = NewIterator(shared, ScanOptions{}, 2);
  EXPECT_EQ(Drain(*it).size(), 5u);
  ASSERT_EQ(shared.requests.size(), 3u);
  EXPECT_EQ(shared.requests[0].range.begin, RecordId());
  EXPECT_EQ(shared.requests[1].range.begin, Id(21));
  EXPECT_EQ(shared.requests[2].range.begin, Id(41));
}

TEST(PagedIterator, SuccessorCarriesAcrossBytes) {
  std::array<uint8_t, 16> b{};
  b[14] = 0x01;
  b[15] = 0xff;
  RecordId next;
  ASSERT_TRUE(NextRecordId(RecordId(b), &next));
  std::array<uint8_t, 16> want{};
  want[14] = 0x02;
  EXPECT_EQ(next, RecordId(want));
  EXPECT_FALSE(NextRecordId(MaxId(), &next));
}

TEST(PagedIterator, EmptyPagesOfSkippedTombstonesAreSkipped) {
  FakeSource::Shared shared;
  shared.max_examined = 2;  // pages of skipped tombstones only
  for (uint8_t i = 1; i <= 9; ++i) shared.rows[Id(i)] = true;
  shared.rows[Id(10)] = false;
  shared.rows[Id(11)] = true;
  shared.rows[Id(12)] = false;
  ScanOptions live;
  live.include_tombstones = false;
  auto it = NewIterator(shared, live, 4);
  ASSERT_TRUE(it->Valid());  // the constructor read past the empty pages
  EXPECT_EQ(it->entry().id, Id(10));
  EXPECT_EQ(Drain(*it), (std::vector<RecordId>{Id(10), Id(12)}));
  EXPECT_TRUE(it->status().ok());
  // Every page resumed after the last row examined, skipped ones included.
  for (size_t i = 1; i < shared.requests.size(); ++i) {
    EXPECT_GT(shared.requests[i].range.begin,
              shared.requests[i - 1].range.begin);
  }
}

TEST(PagedIterator, OnlyTombstonesYieldNothing) {
  FakeSource::Shared shared;
  shared.max_examined = 3;
  for (uint8_t i = 1; i <= 10; ++i) shared.rows[Id(i)] = true;
  ScanOptions live;
  live.include_tombstones = false;
  auto it = NewIterator(shared, live, 5);
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(shared.requests.size(), 4u);  // 3 + 3 + 3 + (1 and the end)
}

TEST(PagedIterator, UnknownCollectionIsOneEmptyPage) {
  FakeSource::Shared shared;  // no rows: the source ends at once
  auto it = NewIterator(shared, ScanOptions{}, 8);
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(shared.requests.size(), 1u);
}

TEST(PagedIterator, ErrorMidwayStopsTheScanWithItsStatus) {
  FakeSource::Shared shared;
  for (uint8_t i = 1; i <= 10; ++i) shared.rows[Id(i)] = false;
  shared.fail_on_call = 2;
  auto it = NewIterator(shared, ScanOptions{}, 3);
  std::vector<RecordId> got = Drain(*it);
  // The two pages read before the failure, and nothing after it.
  EXPECT_EQ(got,
            (std::vector<RecordId>{Id(1), Id(2), Id(3), Id(4), Id(5), Id(6)}));
  EXPECT_EQ(it->status().code(), Status::Code::kUnavailable);
  EXPECT_EQ(it->status().message(), "fake: call 2");
  EXPECT_EQ(shared.requests.size(), 3u);
}

TEST(PagedIterator, ErrorOnTheFirstPage) {
  FakeSource::Shared shared;
  shared.rows[Id(1)] = false;
  shared.fail_on_call = 0;
  auto it = NewIterator(shared, ScanOptions{}, 3);
  EXPECT_FALSE(it->Valid());
  EXPECT_EQ(it->status().code(), Status::Code::kUnavailable);
}

TEST(PagedIterator, BadAllocBecomesIOError) {
  FakeSource::Shared shared;
  for (uint8_t i = 1; i <= 4; ++i) shared.rows[Id(i)] = false;
  shared.fail_on_call = 1;
  shared.throw_bad_alloc = true;
  auto it = NewIterator(shared, ScanOptions{}, 2);
  EXPECT_EQ(Drain(*it).size(), 2u);
  EXPECT_EQ(it->status().code(), Status::Code::kIOError);
}

TEST(PagedIterator, SourceWithoutProgressIsAnErrorNotALoop) {
  FakeSource::Shared shared;
  shared.rows[Id(1)] = false;
  shared.no_progress = true;
  auto it = NewIterator(shared, ScanOptions{}, 2);
  EXPECT_FALSE(it->Valid());
  EXPECT_EQ(it->status().code(), Status::Code::kIOError);
  EXPECT_EQ(shared.requests.size(), 1u);
}

TEST(PagedIterator, RangesBoundEveryRequest) {
  FakeSource::Shared shared;
  for (uint8_t i = 1; i <= 20; ++i) shared.rows[Id(i)] = false;
  ScanOptions options;
  options.range.begin = Id(5);
  options.range.end = Id(15);
  options.range.has_end = true;
  auto it = NewIterator(shared, options, 4);
  EXPECT_EQ(Drain(*it), Expected(shared.rows, options));
  ASSERT_FALSE(shared.requests.empty());
  EXPECT_EQ(shared.requests[0].range.begin, Id(5));
  for (const PageRequest& r : shared.requests) {
    EXPECT_TRUE(r.range.has_end);
    EXPECT_EQ(r.range.end, Id(15));
  }
  // A begin and no end.
  options.range = IdRange{Id(17), RecordId(), false};
  it = NewIterator(shared, options, 3);
  EXPECT_EQ(Drain(*it),
            (std::vector<RecordId>{Id(17), Id(18), Id(19), Id(20)}));
}

TEST(PagedIterator, EmptyRangeNeverAsksTheSource) {
  FakeSource::Shared shared;
  shared.rows[Id(5)] = false;
  for (uint8_t end : {5, 4}) {
    ScanOptions options;
    options.range.begin = Id(5);
    options.range.end = Id(end);
    options.range.has_end = true;
    auto it = NewIterator(shared, options, 4);
    EXPECT_FALSE(it->Valid());
    EXPECT_TRUE(it->status().ok());
  }
  EXPECT_TRUE(shared.requests.empty());
}

TEST(PagedIterator, GreatestIdEndsTheScan) {
  FakeSource::Shared shared;
  shared.rows[Id(1)] = false;
  shared.rows[MaxId()] = false;
  auto it = NewIterator(shared, ScanOptions{}, 2);  // a full page at the end
  EXPECT_EQ(Drain(*it), (std::vector<RecordId>{Id(1), MaxId()}));
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(shared.requests.size(), 1u);  // no id after ff..ff to ask for
}

TEST(PagedIterator, WritesBetweenPagesNeverRepeatOrGoBack) {
  FakeSource::Shared shared;
  for (uint8_t i = 10; i < 30; ++i) shared.rows[Id(2 * i)] = false;
  auto it = NewIterator(shared, ScanOptions{}, 3);
  std::vector<RecordId> seen;
  for (; it->Valid(); it->Next()) {
    RecordId id = it->entry().id;
    if (!seen.empty()) {
      ASSERT_LT(seen.back(), id);
    }
    seen.push_back(id);
    // Behind the position, at it, and far ahead of it.
    shared.rows[Id(id.bytes()[15] - 1)] = false;
    shared.rows[id] = true;
    shared.rows[Id(id.bytes()[15], 1)] = false;
    if (seen.size() > 200) break;
  }
  EXPECT_TRUE(it->status().ok());
  // Every row present for the whole scan was yielded.
  for (uint8_t i = 10; i < 30; ++i) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), Id(2 * i)), seen.end());
  }
}

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("SYNCSTACK_SEED");
    uint64_t s = env != nullptr ? std::strtoull(env, nullptr, 10) : 20261202;
    std::printf("paged_iterator_test: SYNCSTACK_SEED=%llu\n",
                static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

TEST(PagedIterator, RandomScansAgreeWithTheModel) {
  std::mt19937_64 rng(TestSeed());
  auto below = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  auto random_id = [&] {
    return Id(static_cast<uint8_t>(below(256)), static_cast<uint8_t>(below(3)));
  };
  for (int round = 0; round < 500; ++round) {
    FakeSource::Shared shared;
    size_t n = below(60);
    for (size_t i = 0; i < n; ++i) shared.rows[random_id()] = below(3) == 0;
    if (below(10) == 0) shared.rows[MaxId()] = false;
    shared.max_examined = below(3) == 0 ? 1 + below(5) : SIZE_MAX;
    ScanOptions options;
    options.include_tombstones = below(2) == 0;
    if (below(2) == 0) options.range.begin = random_id();
    if (below(2) == 0) {
      options.range.end = random_id();
      options.range.has_end = true;
    }
    size_t limit = 1 + below(8);
    auto it = NewIterator(shared, options, limit);
    ASSERT_EQ(Drain(*it), Expected(shared.rows, options))
        << "seed " << TestSeed() << " round " << round << " limit " << limit;
    ASSERT_TRUE(it->status().ok());
  }
}

}  // namespace
}  // namespace syncstack
