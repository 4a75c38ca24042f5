// The Store conformance suite (see store_conformance.h): the tests every
// Store implementation must pass, written once over StoreFactory.
#include "syncstack/conformance/store_conformance.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "syncstack/faults/fault_store.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/store.h"

namespace syncstack::conformance {

std::string StoreFactoryName(
    const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

void PrintTo(const StoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

void StoreConformance::SetUp() {
  std::string tmpl =
      (std::filesystem::temp_directory_path() / "syncstack-store-XXXXXX")
          .string();
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  dir_ = tmpl;
  auto db = GetParam().open(dir_);
  if (IsSkipped()) return;  // e.g. no PostgreSQL server outside CI
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  db_ = std::move(db).value();
  store_ = Account(kLocalAccount);
  ASSERT_NE(store_, nullptr);
}

void StoreConformance::TearDown() {
  store_.reset();  // stores must not outlive their database
  db_.reset();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::shared_ptr<Store> StoreConformance::Account(std::string_view name) {
  auto store = db_->OpenAccount(name);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

void StoreConformance::Reopen() {
  ASSERT_TRUE(GetParam().persistent);
  store_.reset();
  db_.reset();
  auto db = GetParam().reopen(dir_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  db_ = std::move(db).value();
  store_ = Account(kLocalAccount);
}

Status StoreConformance::Put(Record r, std::optional<Expect> expect) {
  ChangeBatch b;
  b.Put(std::move(r), std::move(expect));
  return store_->Apply(WriteOptions(), b);
}

Status StoreConformance::Apply(const ChangeBatch& b, bool sync) {
  WriteOptions o;
  o.sync = sync;
  return store_->Apply(o, b);
}

namespace {

// ---------------------------------------------------------------------------
// Helpers

// An id whose first four bytes are `n`, big-endian: ids order as numbers.
RecordId IdN(uint32_t n, uint8_t tail = 0) {
  std::array<uint8_t, 16> b{};
  b[0] = static_cast<uint8_t>(n >> 24);
  b[1] = static_cast<uint8_t>(n >> 16);
  b[2] = static_cast<uint8_t>(n >> 8);
  b[3] = static_cast<uint8_t>(n);
  b[15] = tail;
  return RecordId(b);
}

RecordId IdBytes(std::initializer_list<uint8_t> prefix) {
  std::array<uint8_t, 16> b{};
  std::copy(prefix.begin(), prefix.end(), b.begin());
  return RecordId(b);
}

Record MakeRecord(std::string collection, RecordId id, std::string payload,
                  Timestamp ts = 1700000000000) {
  Record r;
  r.collection = std::move(collection);
  r.id = id;
  r.version.timestamp = ts;
  r.payload = std::move(payload);
  return r;
}

Record Tombstone(std::string collection, RecordId id, Timestamp ts) {
  Record r = MakeRecord(std::move(collection), id, "", ts);
  r.deleted = true;
  r.state = SyncState::kDeleted;
  r.base = ts - 1;
  return r;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

// Readable one-line forms, so failures print diffs that make sense.
std::string Describe(const ManifestEntry& e) {
  return e.id.ToString() + " ts=" + std::to_string(e.version.timestamp) +
         " extra=" + Hex(e.version.extra) + (e.deleted ? " deleted" : "") +
         " state=" + std::string(SyncStateName(e.state)) +
         " base=" + std::to_string(e.base);
}

ManifestEntry EntryOf(const Record& r) {
  ManifestEntry e;
  e.id = r.id;
  e.version = r.version;
  e.deleted = r.deleted;
  e.state = r.state;
  e.base = r.base;
  return e;
}

std::string Describe(const Record& r) {
  std::string payload = r.payload.size() <= 64
                            ? Hex(r.payload)
                            : std::to_string(r.payload.size()) + " bytes";
  return r.collection + "/" + Describe(EntryOf(r)) + " payload=" + payload;
}

std::vector<std::string> Describe(const std::vector<ManifestEntry>& v) {
  std::vector<std::string> out;
  for (const ManifestEntry& e : v) out.push_back(Describe(e));
  return out;
}

std::vector<std::string> Describe(const std::vector<Record>& v) {
  std::vector<std::string> out;
  for (const Record& r : v) out.push_back(Describe(r));
  return out;
}

std::vector<ManifestEntry> ScanAll(Store& store, std::string_view collection,
                                   const ScanOptions& options = {}) {
  std::vector<ManifestEntry> out;
  auto it = store.Scan(collection, options);
  EXPECT_NE(it, nullptr);
  if (it == nullptr) return out;
  for (; it->Valid(); it->Next()) out.push_back(it->entry());
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

std::vector<RecordId> ScanIds(Store& store, std::string_view collection,
                              const ScanOptions& options = {}) {
  std::vector<RecordId> ids;
  for (const ManifestEntry& e : ScanAll(store, collection, options)) {
    ids.push_back(e.id);
  }
  return ids;
}

std::vector<Record> GetAll(Store& store, std::string_view collection,
                           const std::vector<RecordId>& ids) {
  std::vector<Record> out;
  Status s =
      store.Get(collection, ids, [&](const Record& r) { out.push_back(r); });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<Record> Since(Store& store, std::string_view collection,
                          Timestamp after, size_t limit = SIZE_MAX) {
  std::vector<Record> out;
  Status s = store.ScanSince(collection, after, limit,
                             [&](const Record& r) { out.push_back(r); });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<Record> Unsynced(Store& store, std::string_view collection) {
  std::vector<Record> out;
  Status s = store.ScanUnsynced(collection,
                                [&](const Record& r) { out.push_back(r); });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

std::vector<RecordId> IdsOf(const std::vector<Record>& rows) {
  std::vector<RecordId> ids;
  for (const Record& r : rows) ids.push_back(r.id);
  return ids;
}

// A server-side row: synced, `base` = the write sequence `seq`.
Record Written(std::string collection, RecordId id, Timestamp seq,
               bool deleted = false) {
  Record r = MakeRecord(std::move(collection), id,
                        deleted ? "" : R"({"s":)" + std::to_string(seq) + "}",
                        1700000000000 + seq);
  r.base = seq;
  r.deleted = deleted;
  return r;
}

ScanOptions Range(RecordId begin, std::optional<RecordId> end,
                  bool tombstones = true) {
  ScanOptions o;
  o.range.begin = begin;
  if (end) {
    o.range.end = *end;
    o.range.has_end = true;
  }
  o.include_tombstones = tombstones;
  return o;
}

std::string TestName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return std::string(info->test_suite_name()) + "." + info->name();
}

// A fixed default seed, printed, overridable with SYNCSTACK_SEED=N.
uint64_t TestSeed(uint64_t fallback) {
  uint64_t seed = fallback;
  if (const char* env = std::getenv("SYNCSTACK_SEED"); env && *env) {
    seed = std::strtoull(env, nullptr, 0);
  }
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  std::cout << TestName() << " seed=" << seed
            << " (replay: SYNCSTACK_SEED=" << seed << ")" << std::endl;
  return seed;
}

// ---------------------------------------------------------------------------
// ScanSince and ScanUnsynced

TEST_P(StoreConformance, ScanSinceOrdersByBaseThenId) {
  ChangeBatch b;
  // Bases out of id order; two rows share base 5.
  b.Put(Written("todo", IdN(1), 9));
  b.Put(Written("todo", IdN(2), 5));
  b.Put(Written("todo", IdN(3), 7, /*deleted=*/true));
  b.Put(Written("todo", IdN(4), 5));
  b.Put(Written("todo", IdN(5), 2));
  b.Put(Written("other", IdN(6), 8));
  ASSERT_TRUE(Apply(b).ok());
  auto all = Since(*store_, "todo", 0);
  EXPECT_EQ(IdsOf(all),
            (std::vector<RecordId>{IdN(5), IdN(2), IdN(4), IdN(3), IdN(1)}));
  // Whole rows, payload and tombstones included.
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all[0], Written("todo", IdN(5), 2));
  EXPECT_EQ(all[3], Written("todo", IdN(3), 7, true));
  // Strictly after: base 5 itself is out.
  EXPECT_EQ(IdsOf(Since(*store_, "todo", 5)),
            (std::vector<RecordId>{IdN(3), IdN(1)}));
  EXPECT_EQ(IdsOf(Since(*store_, "todo", 4)),
            (std::vector<RecordId>{IdN(2), IdN(4), IdN(3), IdN(1)}));
  EXPECT_TRUE(Since(*store_, "todo", 9).empty());
  EXPECT_EQ(IdsOf(Since(*store_, "todo", 0, 2)),
            (std::vector<RecordId>{IdN(5), IdN(2)}));
  EXPECT_TRUE(Since(*store_, "todo", 0, 0).empty());
  // Negative bases order below the others.
  Record fresh = MakeRecord("dev", IdN(1), "{}");
  fresh.base = -5;
  Record seen = MakeRecord("dev", IdN(2), "{}");
  seen.base = 3;
  ChangeBatch d;
  d.Put(fresh);
  d.Put(seen);
  ASSERT_TRUE(Apply(d).ok());
  EXPECT_EQ(IdsOf(Since(*store_, "dev", kNoTimestamp)),
            (std::vector<RecordId>{IdN(1), IdN(2)}));
  EXPECT_EQ(IdsOf(Since(*store_, "dev", -1)), (std::vector<RecordId>{IdN(2)}));
}

TEST_P(StoreConformance, ScanSinceRewrittenRowAppearsOnceAtItsLastBase) {
  ASSERT_TRUE(Put(Written("todo", IdN(1), 1)).ok());
  ASSERT_TRUE(Put(Written("todo", IdN(2), 2)).ok());
  ASSERT_TRUE(Put(Written("todo", IdN(1), 3)).ok());
  ASSERT_TRUE(Put(Written("todo", IdN(1), 4, /*deleted=*/true)).ok());
  auto rows = Since(*store_, "todo", 0);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], Written("todo", IdN(2), 2));
  EXPECT_EQ(rows[1], Written("todo", IdN(1), 4, true));
  // An erased row leaves the index.
  ChangeBatch e;
  e.Erase("todo", IdN(1));
  ASSERT_TRUE(Apply(e).ok());
  EXPECT_EQ(IdsOf(Since(*store_, "todo", 0)), (std::vector<RecordId>{IdN(2)}));
}

TEST_P(StoreConformance, ScanSinceUnknownAndBadCollections) {
  ASSERT_TRUE(Put(Written("todo", IdN(1), 1)).ok());
  EXPECT_TRUE(Since(*store_, "nothing_here", 0).empty());
  EXPECT_TRUE(Unsynced(*store_, "nothing_here").empty());
  int calls = 0;
  Status s =
      store_->ScanSince("bad name", 0, 10, [&](const Record&) { ++calls; });
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  s = store_->ScanUnsynced("9bad", [&](const Record&) { ++calls; });
  EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
  EXPECT_EQ(calls, 0);
}

TEST_P(StoreConformance, ScanSinceAccountsAreIsolated) {
  auto other = Account("someone_else");
  ASSERT_NE(other, nullptr);
  ASSERT_TRUE(Put(Written("todo", IdN(1), 1)).ok());
  ChangeBatch b;
  b.Put(Written("todo", IdN(2), 2));
  Record mine = MakeRecord("todo", IdN(3), "{}");
  mine.state = SyncState::kCreated;
  b.Put(mine);
  ASSERT_TRUE(other->Apply(WriteOptions(), b).ok());
  EXPECT_EQ(IdsOf(Since(*store_, "todo", 0)), (std::vector<RecordId>{IdN(1)}));
  EXPECT_TRUE(Unsynced(*store_, "todo").empty());
  EXPECT_EQ(IdsOf(Unsynced(*other, "todo")), (std::vector<RecordId>{IdN(3)}));
}

TEST_P(StoreConformance, ScanSincePagesAcrossChunksAndConcurrentWrites) {
  // More rows than one read chunk holds, written one batch per sequence.
  constexpr int kRows = 700;
  ChangeBatch b;
  for (int i = 1; i <= kRows; ++i) {
    // Ids in an order unrelated to sequences.
    b.Put(Written("todo", IdN(static_cast<uint32_t>((i * 389) % 1000)), i));
  }
  ASSERT_TRUE(Apply(b).ok());
  // Page by `limit`, resuming after the last base, while a writer rewrites
  // rows already paged (they move to new, higher sequences) and adds new
  // ones between pages.
  Timestamp after = 0;
  Timestamp next_seq = kRows + 1;
  std::vector<std::pair<Timestamp, RecordId>> seen;
  for (int page = 0; page < 100; ++page) {
    auto rows = Since(*store_, "todo", after, 97);
    if (rows.empty()) break;
    for (const Record& r : rows) {
      ASSERT_GT(r.base, after);
      seen.push_back({r.base, r.id});
      after = r.base;
    }
    if (page < 5) {
      ChangeBatch w;
      w.Put(Written("todo", rows.front().id, next_seq++));   // a rewrite
      w.Put(Written("todo", IdN(5000 + page), next_seq++));  // a new row
      ASSERT_TRUE(Apply(w).ok());
    }
  }
  // Every row's last write was seen, in ascending sequence; a rewritten
  // row also at its earlier place, read before the rewrite.
  ASSERT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  std::map<RecordId, Timestamp> last;
  for (const auto& [base, id] : seen) last[id] = base;
  std::map<RecordId, Timestamp> want;
  for (const Record& r : Since(*store_, "todo", 0)) want[r.id] = r.base;
  EXPECT_EQ(last, want);
  EXPECT_EQ(want.size(), size_t{kRows} + 5);
  EXPECT_EQ(seen.size(), size_t{kRows} + 10);
  EXPECT_EQ(after, next_seq - 1);
}

TEST_P(StoreConformance, ScanSinceBigPayloadsComeWhole) {
  // More payload than one read chunk holds (4 MiB).
  ChangeBatch b;
  for (int i = 1; i <= 6; ++i) {
    Record r = Written("todo", IdN(static_cast<uint32_t>(i)), i);
    r.payload = R"({"x":")" + std::string(1 << 20, static_cast<char>('a' + i)) +
                R"("})";
    b.Put(std::move(r));
  }
  ASSERT_TRUE(Apply(b).ok());
  auto rows = Since(*store_, "todo", 0);
  ASSERT_EQ(rows.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(rows[i].base, i + 1);
    EXPECT_EQ(rows[i].payload.size(), (1u << 20) + 8);
    EXPECT_EQ(rows[i].payload[7], static_cast<char>('a' + i + 1));
  }
}

TEST_P(StoreConformance, ScanUnsyncedYieldsExactlyTheUnsyncedRows) {
  ChangeBatch b;
  Record synced = MakeRecord("todo", IdN(1), R"({"a":1})");
  synced.base = 5;
  Record created = MakeRecord("todo", IdN(4), R"({"b":2})");
  created.state = SyncState::kCreated;
  Record changed = MakeRecord("todo", IdN(2), R"({"c":3})");
  changed.state = SyncState::kChanged;
  changed.base = 6;
  Record deleted = Tombstone("todo", IdN(3), 50);
  Record elsewhere = created;
  elsewhere.collection = "notes";
  b.Put(synced);
  b.Put(created);
  b.Put(changed);
  b.Put(deleted);
  b.Put(elsewhere);
  ASSERT_TRUE(Apply(b).ok());
  EXPECT_EQ(Unsynced(*store_, "todo"),
            (std::vector<Record>{changed, deleted, created}));
  // Written back as synced, a row stops being yielded; edited again, it
  // comes back.
  Record acked = changed;
  acked.state = SyncState::kSynced;
  ChangeBatch ack;
  ack.Put(acked);
  ack.Erase("todo", IdN(3));  // an acknowledged delete leaves the store
  ASSERT_TRUE(Apply(ack).ok());
  EXPECT_EQ(Unsynced(*store_, "todo"), (std::vector<Record>{created}));
  Record again = acked;
  again.state = SyncState::kChanged;
  again.payload = R"({"c":4})";
  ASSERT_TRUE(Put(again).ok());
  EXPECT_EQ(Unsynced(*store_, "todo"), (std::vector<Record>{again, created}));
  // A failed batch changes nothing, indexes included.
  ChangeBatch failing;
  Record quiet = again;
  quiet.state = SyncState::kSynced;
  failing.Put(quiet);
  Expect absent;  // IdN(9) exists below: the expectation fails
  ChangeBatch nine;
  nine.Put(MakeRecord("todo", IdN(9), "{}"));
  ASSERT_TRUE(Apply(nine).ok());
  failing.Put(MakeRecord("todo", IdN(9), "{}"), absent);
  EXPECT_EQ(Apply(failing).code(), Status::Code::kConflict);
  EXPECT_EQ(Unsynced(*store_, "todo"), (std::vector<Record>{again, created}));
}

TEST_P(StoreConformance, ScanUnsyncedManyRowsAndCallbacksMayUseTheStore) {
  ChangeBatch b;
  std::vector<RecordId> want;
  for (uint32_t i = 0; i < 1500; ++i) {
    Record r = MakeRecord("todo", IdN(i), R"({"i":)" + std::to_string(i) + "}");
    if (i % 3 == 0) {
      r.state = SyncState::kCreated;
      want.push_back(r.id);
    }
    b.Put(std::move(r));
  }
  ASSERT_TRUE(Apply(b).ok());
  // Acknowledge each row from inside the callback, as an engine could.
  std::vector<RecordId> got;
  Status s = store_->ScanUnsynced("todo", [&](const Record& r) {
    got.push_back(r.id);
    Record acked = r;
    acked.state = SyncState::kSynced;
    ChangeBatch one;
    one.Put(std::move(acked));
    EXPECT_TRUE(store_->Apply(WriteOptions(), one).ok());
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, want);
  EXPECT_TRUE(Unsynced(*store_, "todo").empty());
}

TEST_P(StoreConformance, IndexesSurviveReopen) {
  if (!GetParam().persistent) GTEST_SKIP() << "not persistent";
  ChangeBatch b;
  b.Put(Written("todo", IdN(1), 3));
  Record created = MakeRecord("todo", IdN(2), "{}");
  created.state = SyncState::kCreated;
  created.base = 1;
  b.Put(created);
  ASSERT_TRUE(Apply(b).ok());
  Reopen();
  EXPECT_EQ(IdsOf(Since(*store_, "todo", 0)),
            (std::vector<RecordId>{IdN(2), IdN(1)}));
  EXPECT_EQ(IdsOf(Unsynced(*store_, "todo")), (std::vector<RecordId>{IdN(2)}));
}

TEST_P(StoreConformance, WrappersForwardTheIndexScans) {
  ASSERT_TRUE(Put(Written("todo", IdN(1), 1)).ok());
  FaultStore faulty(*store_, 1);
  std::vector<RecordId> got;
  ASSERT_TRUE(faulty
                  .ScanSince("todo", 0, 10,
                             [&](const Record& r) { got.push_back(r.id); })
                  .ok());
  EXPECT_EQ(got, (std::vector<RecordId>{IdN(1)}));
  faulty.CrashAtApply(1);
  ChangeBatch b;
  b.Put(Written("todo", IdN(2), 2));
  EXPECT_FALSE(faulty.Apply(WriteOptions(), b).ok());
  EXPECT_EQ(faulty.ScanSince("todo", 0, 10, [](const Record&) {}).code(),
            Status::Code::kIOError);
  EXPECT_EQ(faulty.ScanUnsynced("todo", [](const Record&) {}).code(),
            Status::Code::kIOError);
}

// ---------------------------------------------------------------------------
// Basics

TEST_P(StoreConformance, EmptyStore) {
  EXPECT_TRUE(ScanAll(*store_, "todo").empty());
  EXPECT_TRUE(GetAll(*store_, "todo", {IdN(1)}).empty());
  auto names = store_->Collections();
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_TRUE(names->empty());
  auto meta = store_->GetMeta("checkpoint");
  ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  EXPECT_FALSE(meta->has_value());
  EXPECT_TRUE(Apply(ChangeBatch()).ok());
}

TEST_P(StoreConformance, OpenAccountRejectsEmptyName) {
  auto store = db_->OpenAccount("");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), Status::Code::kInvalidArgument);
}

TEST_P(StoreConformance, PutReplacesAndEraseRemoves) {
  RecordId id = IdN(7);
  ASSERT_TRUE(Put(MakeRecord("todo", id, R"({"v":1})", 10)).ok());
  ASSERT_TRUE(Put(MakeRecord("todo", id, R"({"v":2})", 20)).ok());
  auto one = store_->GetOne("todo", id);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_TRUE(one->has_value());
  EXPECT_EQ((*one)->payload, R"({"v":2})");
  EXPECT_EQ((*one)->version.timestamp, 20);
  EXPECT_EQ((*one)->collection, "todo");
  EXPECT_EQ(ScanAll(*store_, "todo").size(), 1u);

  ChangeBatch erase;
  erase.Erase("todo", id);
  erase.Erase("todo", IdN(8));     // absent: a no-op
  erase.Erase("nothing", IdN(9));  // absent collection: a no-op
  ASSERT_TRUE(Apply(erase).ok());
  one = store_->GetOne("todo", id);
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->has_value());
  EXPECT_TRUE(ScanAll(*store_, "todo").empty());
}

TEST_P(StoreConformance, RoundTripsEveryField) {
  std::vector<Record> records;
  const SyncState states[] = {SyncState::kSynced, SyncState::kCreated,
                              SyncState::kChanged, SyncState::kDeleted};
  const Timestamp stamps[] = {kNoTimestamp, INT64_MAX, -1, 0, 1700000000123};
  for (uint32_t i = 0; i < 20; ++i) {
    Record r = MakeRecord("notes", IdN(i), "{\"i\":" + std::to_string(i) + "}",
                          stamps[i % 5]);
    r.state = states[i % 4];
    r.base = stamps[(i + 2) % 5];
    r.version.extra = i % 3 == 0   ? std::string()
                      : i % 3 == 1 ? std::string("\0\xff\x01hlc", 6)
                                   : std::string(300, static_cast<char>(i));
    if (i % 4 == 3) {
      r.deleted = true;
      r.payload.clear();
    }
    records.push_back(r);
  }
  ChangeBatch b;
  for (const Record& r : records) b.Put(r);
  ASSERT_TRUE(Apply(b).ok());

  std::vector<RecordId> ids;
  for (const Record& r : records) ids.push_back(r.id);
  EXPECT_EQ(Describe(GetAll(*store_, "notes", ids)), Describe(records));
  EXPECT_EQ(GetAll(*store_, "notes", ids), records);
  std::vector<ManifestEntry> entries;
  for (const Record& r : records) entries.push_back(EntryOf(r));
  EXPECT_EQ(Describe(ScanAll(*store_, "notes")), Describe(entries));
}

TEST_P(StoreConformance, PayloadBytesKeptAsGiven) {
  const std::string payloads[] = {
      R"({"title":"Hochzeit 💍","note":"café, naïve, 日本語, עברית"})",
      std::string("{\"nul\":\"a\0b\"}", 14),
      "\xff\xfe not UTF-8 \xc3",
      " { \"spaced\" : [ 1 , 2 ] } ",
      "x",
  };
  ChangeBatch b;
  for (uint32_t i = 0; i < std::size(payloads); ++i) {
    b.Put(MakeRecord("todo", IdN(i), payloads[i]));
  }
  ASSERT_TRUE(Apply(b).ok());
  for (uint32_t i = 0; i < std::size(payloads); ++i) {
    auto got = store_->GetOne("todo", IdN(i));
    ASSERT_TRUE(got.ok() && got->has_value()) << i;
    EXPECT_EQ(Hex((*got)->payload), Hex(payloads[i])) << i;
  }
}

TEST_P(StoreConformance, OneMebibytePayloads) {
  // A JSON string of 1 MiB mixing ASCII and multi-byte characters.
  std::string big = "{\"blob\":\"";
  const std::string pieces[] = {"abc", "é", "€", "𝄞", "z"};
  for (size_t i = 0; big.size() < (1u << 20) - 8; ++i) {
    big += pieces[i % std::size(pieces)];
  }
  big += "\"}";
  std::string big2 = big;
  std::reverse(big2.begin() + 9, big2.end() - 2);  // a different payload
  ChangeBatch b;
  b.Put(MakeRecord("files", IdN(1), big));
  b.Put(MakeRecord("files", IdN(2), big2));
  b.Put(MakeRecord("files", IdN(3), "{}"));
  ASSERT_TRUE(Apply(b).ok());
  auto got = GetAll(*store_, "files", {IdN(2), IdN(1), IdN(3)});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(got[0].payload == big2);
  EXPECT_TRUE(got[1].payload == big);
  EXPECT_EQ(got[2].payload, "{}");
  // Shrink one and grow the other.
  ChangeBatch swap;
  swap.Put(MakeRecord("files", IdN(1), "{}"));
  swap.Put(MakeRecord("files", IdN(3), big));
  ASSERT_TRUE(Apply(swap).ok());
  got = GetAll(*store_, "files", {IdN(1), IdN(3)});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "{}");
  EXPECT_TRUE(got[1].payload == big);
  EXPECT_EQ(ScanAll(*store_, "files").size(), 3u);
}

// ---------------------------------------------------------------------------
// Scans

TEST_P(StoreConformance, ScanOrdersIdsBytewise) {
  // High bytes must sort after low ones (no signed char comparison).
  std::vector<RecordId> ids = {
      IdBytes({0xff, 0xff}), IdBytes({0x00}),       IdBytes({0x80}),
      IdBytes({0x7f, 0xff}), IdBytes({0x00, 0x01}), IdBytes({0x80, 0x00, 1}),
      IdBytes({0xfe}),       IdBytes({0x01}),       IdBytes({0x00, 0x80}),
  };
  for (int i = 0; i < 40; ++i) ids.push_back(RecordId::Random());
  ChangeBatch b;
  for (const RecordId& id : ids) b.Put(MakeRecord("todo", id, "{}"));
  ASSERT_TRUE(Apply(b).ok());

  std::vector<RecordId> want = ids;
  std::sort(want.begin(), want.end(), [](const RecordId& x, const RecordId& y) {
    return std::memcmp(x.bytes().data(), y.bytes().data(), 16) < 0;
  });
  std::vector<RecordId> got = ScanIds(*store_, "todo");
  ASSERT_EQ(got, want);
  // Byte order is also the order of the canonical text.
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_LT(got[i - 1].ToString(), got[i].ToString());
  }
}

TEST_P(StoreConformance, ScanRanges) {
  // Enough rows for several scan pages in every store.
  constexpr uint32_t kN = 3000;
  ChangeBatch b;
  for (uint32_t i = 0; i < kN; ++i) {
    b.Put(MakeRecord("todo", IdN(2 * i), "{}"));  // even ids only
  }
  ASSERT_TRUE(Apply(b, /*sync=*/false).ok());
  auto evens = [](uint32_t from, uint32_t to) {  // even n in [from, to)
    std::vector<RecordId> v;
    for (uint32_t n = from + (from & 1); n < to; n += 2) v.push_back(IdN(n));
    return v;
  };
  EXPECT_EQ(ScanIds(*store_, "todo"), evens(0, 2 * kN));
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(10), IdN(20))), evens(10, 20));
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(11), IdN(21))), evens(11, 21));
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(1001), IdN(5099))),
            evens(1001, 5099));
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(4000), std::nullopt)),
            evens(4000, 2 * kN));
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(10), IdN(11))), evens(10, 11));
  // Empty ranges.
  EXPECT_TRUE(ScanIds(*store_, "todo", Range(IdN(10), IdN(10))).empty());
  EXPECT_TRUE(ScanIds(*store_, "todo", Range(IdN(20), IdN(10))).empty());
  EXPECT_TRUE(ScanIds(*store_, "todo", Range(IdN(11), IdN(12))).empty());
  EXPECT_TRUE(
      ScanIds(*store_, "todo", Range(IdN(2 * kN), std::nullopt)).empty());
  // The highest possible id, and an end above every id.
  RecordId max_id(std::array<uint8_t, 16>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff});
  ASSERT_TRUE(Put(MakeRecord("todo", max_id, "{}")).ok());
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(5998), std::nullopt)),
            (std::vector<RecordId>{IdN(5998), max_id}));
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(5998), max_id)),
            (std::vector<RecordId>{IdN(5998)}));
  EXPECT_EQ(ScanIds(*store_, "todo", Range(max_id, std::nullopt)),
            (std::vector<RecordId>{max_id}));
}

TEST_P(StoreConformance, ScanTombstones) {
  // Long runs of tombstones (longer than any page) between live rows.
  constexpr uint32_t kN = 2600;
  ChangeBatch b;
  std::vector<RecordId> all, live;
  for (uint32_t i = 0; i < kN; ++i) {
    bool dead = (i >= 1 && i < 2500) || i % 7 == 0;
    if (dead) {
      b.Put(Tombstone("todo", IdN(i), 100 + i));
    } else {
      b.Put(MakeRecord("todo", IdN(i), "{}", 100 + i));
      live.push_back(IdN(i));
    }
    all.push_back(IdN(i));
  }
  ASSERT_TRUE(Apply(b, /*sync=*/false).ok());
  EXPECT_EQ(ScanIds(*store_, "todo"), all);  // the default includes them
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(0), std::nullopt, true)), all);
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(0), std::nullopt, false)), live);
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(2), IdN(2500), false)),
            (std::vector<RecordId>{}));
  EXPECT_EQ(ScanIds(*store_, "todo", Range(IdN(0), IdN(2502), false)),
            (std::vector<RecordId>{IdN(2500), IdN(2501)}));
  auto entries = ScanAll(*store_, "todo");
  ASSERT_EQ(entries.size(), kN);
  EXPECT_TRUE(entries[1].deleted);
  EXPECT_EQ(entries[1].state, SyncState::kDeleted);
  EXPECT_EQ(entries[1].base, 100);
  EXPECT_FALSE(entries[2500].deleted);
  // Tombstones are rows: Get returns them.
  auto got = GetAll(*store_, "todo", {IdN(5)});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(got[0].deleted);
  EXPECT_EQ(got[0].payload, "");
}

TEST_P(StoreConformance, CollectionsAreSeparate) {
  ChangeBatch b;
  b.Put(MakeRecord("b_items", IdN(1), R"({"in":"b"})"));
  b.Put(MakeRecord("a_items", IdN(1), R"({"in":"a"})"));
  b.Put(MakeRecord("Zeta", IdN(2), "{}"));
  b.Put(MakeRecord("_under", IdN(3), "{}"));
  b.Put(Tombstone("tombs_only", IdN(4), 5));
  ASSERT_TRUE(Apply(b).ok());
  auto names = store_->Collections();
  ASSERT_TRUE(names.ok()) << names.status().ToString();
  EXPECT_EQ(*names, (std::vector<std::string>{"Zeta", "_under", "a_items",
                                              "b_items", "tombs_only"}));
  EXPECT_EQ(GetAll(*store_, "a_items", {IdN(1)}).at(0).payload,
            R"({"in":"a"})");
  EXPECT_EQ(GetAll(*store_, "b_items", {IdN(1)}).at(0).payload,
            R"({"in":"b"})");
  EXPECT_EQ(ScanIds(*store_, "a_items"), std::vector<RecordId>{IdN(1)});
  EXPECT_TRUE(ScanIds(*store_, "a_item").empty());

  // A collection whose rows are all erased is no longer listed.
  ChangeBatch erase;
  erase.Erase("b_items", IdN(1));
  erase.Erase("Zeta", IdN(2));
  ASSERT_TRUE(Apply(erase).ok());
  names = store_->Collections();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names,
            (std::vector<std::string>{"_under", "a_items", "tombs_only"}));
  // And comes back with its next row.
  ASSERT_TRUE(Put(MakeRecord("Zeta", IdN(9), "{}")).ok());
  EXPECT_EQ(ScanIds(*store_, "Zeta"), std::vector<RecordId>{IdN(9)});
}

// ---------------------------------------------------------------------------
// Get

TEST_P(StoreConformance, GetFollowsIdOrderAndSkipsMissing) {
  ChangeBatch b;
  b.Put(MakeRecord("todo", IdN(1), R"({"n":1})"));
  b.Put(MakeRecord("todo", IdN(2), R"({"n":2})"));
  b.Put(Tombstone("todo", IdN(3), 9));
  b.Put(MakeRecord("other", IdN(4), R"({"n":4})"));
  ASSERT_TRUE(Apply(b).ok());
  auto got = GetAll(*store_, "todo",
                    {IdN(3), IdN(99), IdN(2), IdN(4), IdN(1), IdN(2)});
  std::vector<RecordId> ids;
  for (const Record& r : got) {
    ids.push_back(r.id);
    EXPECT_EQ(r.collection, "todo");
  }
  EXPECT_EQ(ids, (std::vector<RecordId>{IdN(3), IdN(2), IdN(1), IdN(2)}));
  EXPECT_TRUE(got[0].deleted);
  EXPECT_EQ(got[1].payload, R"({"n":2})");
  EXPECT_TRUE(GetAll(*store_, "todo", {}).empty());
  EXPECT_TRUE(GetAll(*store_, "absent", {IdN(1)}).empty());
}

TEST_P(StoreConformance, GetManyIdsAndBigPayloads) {
  // More ids and bytes than one internal chunk of any store.
  constexpr uint32_t kN = 1500;
  ChangeBatch b;
  std::vector<RecordId> ids;
  for (uint32_t i = 0; i < kN; ++i) {
    std::string payload = i % 100 == 0 ? std::string(100000, 'p') : "{}";
    b.Put(MakeRecord("todo", IdN(i), payload));
    ids.push_back(IdN(kN - 1 - i));               // backwards
    if (i % 10 == 0) ids.push_back(IdN(kN + i));  // missing
  }
  ASSERT_TRUE(Apply(b, /*sync=*/false).ok());
  std::vector<RecordId> got;
  size_t bytes = 0;
  Status s = store_->Get("todo", ids, [&](const Record& r) {
    got.push_back(r.id);
    bytes += r.payload.size();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), kN);
  for (uint32_t i = 0; i < kN; ++i) EXPECT_EQ(got[i], IdN(kN - 1 - i));
  EXPECT_EQ(bytes, 15 * 100000 + (kN - 15) * 2);
}

TEST_P(StoreConformance, CallbacksMayUseTheStore) {
  ChangeBatch b;
  for (uint32_t i = 0; i < 10; ++i) b.Put(MakeRecord("todo", IdN(i), "{}"));
  ASSERT_TRUE(Apply(b).ok());
  // Reading from, and writing to, the store inside a Get callback must not
  // deadlock.
  std::vector<RecordId> ids = {IdN(1), IdN(2)};
  int calls = 0;
  Status s = store_->Get("todo", ids, [&](const Record& r) {
    ++calls;
    EXPECT_EQ(ScanAll(*store_, "todo").size(), 10u);
    ChangeBatch copy;
    Record c = r;
    c.collection = "copies";
    copy.Put(std::move(c));
    EXPECT_TRUE(store_->Apply(WriteOptions(), copy).ok());
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(ScanIds(*store_, "copies"), ids);
}

// ---------------------------------------------------------------------------
// Apply: atomicity and expectations

TEST_P(StoreConformance, FailedExpectAppliesNothing) {
  ASSERT_TRUE(Put(MakeRecord("todo", IdN(1), R"({"v":1})", 10)).ok());
  ChangeBatch seed_meta;
  seed_meta.SetMeta("checkpoint", "old");
  ASSERT_TRUE(Apply(seed_meta).ok());

  ChangeBatch b;
  b.Put(MakeRecord("todo", IdN(1), R"({"v":2})", 20));  // replaces
  b.Put(MakeRecord("todo", IdN(2), R"({"v":1})", 20));  // inserts
  b.Put(MakeRecord("new_coll", IdN(3), "{}"));          // a new collection
  b.Erase("todo", IdN(1));
  Expect absent;  // IdN(4) must be absent: it is, so this one passes
  b.Put(MakeRecord("todo", IdN(4), "{}"), absent);
  Expect wrong;  // IdN(2) now exists (put above), so "absent" fails
  b.Put(MakeRecord("todo", IdN(2), R"({"v":3})"), wrong);
  b.Put(MakeRecord("todo", IdN(5), "{}"));  // after the failure
  b.SetMeta("checkpoint", "new");
  b.SetMeta("other", "x");
  Status s = Apply(b);
  ASSERT_EQ(s.code(), Status::Code::kConflict) << s.ToString();
  EXPECT_NE(s.message().find("todo"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find(IdN(2).ToString()), std::string::npos)
      << s.message();

  auto all = GetAll(*store_, "todo", {IdN(1), IdN(2), IdN(4), IdN(5)});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].payload, R"({"v":1})");
  EXPECT_EQ(all[0].version.timestamp, 10);
  EXPECT_EQ(ScanIds(*store_, "todo"), std::vector<RecordId>{IdN(1)});
  EXPECT_TRUE(ScanIds(*store_, "new_coll").empty());
  auto names = store_->Collections();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"todo"});
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "old");
  EXPECT_FALSE(store_->GetMeta("other")->has_value());

  // The store is still usable, including the collection the failed batch
  // would have created.
  ChangeBatch ok;
  ok.Put(MakeRecord("new_coll", IdN(3), "{}"));
  ok.SetMeta("checkpoint", "newer");
  ASSERT_TRUE(Apply(ok).ok());
  EXPECT_EQ(ScanIds(*store_, "new_coll"), std::vector<RecordId>{IdN(3)});
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "newer");
  EXPECT_EQ(*store_->Collections(),
            (std::vector<std::string>{"new_coll", "todo"}));
  auto second = Account(kLocalAccount);  // a handle with no cached state
  EXPECT_EQ(ScanIds(*second, "new_coll"), std::vector<RecordId>{IdN(3)});
  EXPECT_EQ(GetAll(*second, "new_coll", {IdN(3)}).size(), 1u);
}

TEST_P(StoreConformance, ExpectSeesEarlierOpsOfTheBatch) {
  Record a = MakeRecord("todo", IdN(1), R"({"a":1})", 50);
  a.state = SyncState::kChanged;
  Expect is_a;
  is_a.exists = true;
  is_a.state = SyncState::kChanged;
  is_a.timestamp = 50;
  is_a.payload = R"({"a":1})";

  ChangeBatch b;
  b.Put(MakeRecord("todo", IdN(1), "{}"), Expect{});  // absent before
  b.Put(a);
  b.Put(MakeRecord("todo", IdN(1), R"({"a":2})", 60), is_a);  // sees `a`
  b.Erase("todo", IdN(1));
  b.Put(MakeRecord("todo", IdN(1), R"({"a":3})", 70), Expect{});  // absent
  ASSERT_TRUE(Apply(b).ok());
  auto got = store_->GetOne("todo", IdN(1));
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->payload, R"({"a":3})");

  // The same expectation against the committed state now fails.
  ChangeBatch again;
  again.Erase("todo", IdN(1), is_a);
  EXPECT_EQ(Apply(again).code(), Status::Code::kConflict);
  EXPECT_EQ(ScanIds(*store_, "todo"), std::vector<RecordId>{IdN(1)});
}

TEST_P(StoreConformance, ExpectComparesEachField) {
  Record row = MakeRecord("todo", IdN(1), R"({"x":1})", 500);
  row.state = SyncState::kCreated;
  row.version.extra = "ignored-by-expect";
  row.base = 400;
  ASSERT_TRUE(Put(row).ok());
  ASSERT_TRUE(Put(Tombstone("todo", IdN(2), 600)).ok());

  Expect match;
  match.exists = true;
  match.state = SyncState::kCreated;
  match.deleted = false;
  match.timestamp = 500;
  struct Case {
    const char* what;
    RecordId id;
    Expect expect;
    bool ok;
  };
  std::vector<Case> cases;
  cases.push_back({"match without payload", IdN(1), match, true});
  Expect e = match;
  e.payload = R"({"x":1})";
  cases.push_back({"match with payload", IdN(1), e, true});
  e.payload = R"({"x":2})";
  cases.push_back({"payload differs", IdN(1), e, false});
  e.payload = "";
  cases.push_back({"payload empty vs set", IdN(1), e, false});
  e = match;
  e.state = SyncState::kChanged;
  cases.push_back({"state differs", IdN(1), e, false});
  e = match;
  e.deleted = true;
  cases.push_back({"deleted differs", IdN(1), e, false});
  e = match;
  e.timestamp = 501;
  cases.push_back({"timestamp differs", IdN(1), e, false});
  cases.push_back({"absent expected, present", IdN(1), Expect{}, false});
  cases.push_back({"present expected, absent", IdN(3), match, false});
  cases.push_back({"absent expected, absent", IdN(3), Expect{}, true});
  Expect tomb;
  tomb.exists = true;
  tomb.state = SyncState::kDeleted;
  tomb.deleted = true;
  tomb.timestamp = 600;
  cases.push_back({"tombstone matches", IdN(2), tomb, true});
  tomb.payload = "";
  cases.push_back({"tombstone empty payload", IdN(2), tomb, true});
  cases.push_back({"tombstone is present", IdN(2), Expect{}, false});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    // The checked op sits between writes; the last op always fails, so the
    // batch never applies and the conflict's message tells which op failed.
    Expect never;  // IdN(99) in "scratch" never exists
    never.exists = true;
    ChangeBatch b;
    b.Put(MakeRecord("scratch", IdN(1), "{}"));
    b.Erase("todo", c.id, c.expect);
    b.SetMeta("probe", c.what);
    b.Put(MakeRecord("scratch", IdN(99), "{}"), never);
    Status s = Apply(b);
    ASSERT_EQ(s.code(), Status::Code::kConflict) << s.ToString();
    bool failed_at_last =
        s.message().find("scratch") != std::string::npos &&
        s.message().find(IdN(99).ToString()) != std::string::npos;
    EXPECT_EQ(failed_at_last, c.ok) << s.ToString();
    if (!c.ok) {
      EXPECT_NE(s.message().find(c.id.ToString()), std::string::npos)
          << s.ToString();
    }
  }
  // Nothing changed.
  EXPECT_EQ(GetAll(*store_, "todo", {IdN(1)}), std::vector<Record>{row});
  EXPECT_EQ(ScanIds(*store_, "todo"), (std::vector<RecordId>{IdN(1), IdN(2)}));
  EXPECT_FALSE(store_->GetMeta("probe")->has_value());
}

TEST_P(StoreConformance, InvalidCollectionNameAppliesNothing) {
  const std::string bad_names[] = {
      "",        "1abc", "has space",          "dash-ed",
      "dot.ted", "ünï",  std::string(65, 'a'), std::string("nul\0", 4)};
  for (const std::string& bad : bad_names) {
    SCOPED_TRACE("collection \"" + bad + "\"");
    ChangeBatch b;
    b.Put(MakeRecord("todo", IdN(1), "{}"));
    b.Put(MakeRecord(bad, IdN(2), "{}"));
    b.SetMeta("checkpoint", "x");
    Status s = Apply(b);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << s.ToString();
    ChangeBatch e;
    e.Erase(bad, IdN(2));
    EXPECT_EQ(Apply(e).code(), Status::Code::kInvalidArgument);

    auto it = store_->Scan(bad, ScanOptions());
    ASSERT_NE(it, nullptr);
    EXPECT_FALSE(it->Valid());
    EXPECT_EQ(it->status().code(), Status::Code::kInvalidArgument);
    int calls = 0;
    Status g = store_->Get(bad, std::vector<RecordId>{IdN(2)},
                           [&](const Record&) { ++calls; });
    EXPECT_EQ(g.code(), Status::Code::kInvalidArgument);
    EXPECT_EQ(calls, 0);
  }
  EXPECT_TRUE(ScanIds(*store_, "todo").empty());
  EXPECT_TRUE(store_->Collections()->empty());
  EXPECT_FALSE(store_->GetMeta("checkpoint")->has_value());
  // Edge cases that are valid.
  ChangeBatch good;
  good.Put(MakeRecord(std::string(64, 'a'), IdN(1), "{}"));
  good.Put(MakeRecord("_", IdN(1), "{}"));
  good.Put(MakeRecord("A1_b2", IdN(1), "{}"));
  EXPECT_TRUE(Apply(good).ok());
}

// The n-th write of a batch fails inside the store's transaction, after the
// writes before it (FaultStore poisons it with a precondition that cannot
// hold): for every n, nothing of the batch may remain, meta included.
TEST_P(StoreConformance, WriteFailingMidBatchLeavesNothing) {
  ChangeBatch before;
  before.Put(MakeRecord("todo", IdN(1), R"({"v":1})", 10));
  before.Put(MakeRecord("todo", IdN(2), R"({"v":1})", 10));
  before.SetMeta("checkpoint", "old");
  ASSERT_TRUE(Apply(before).ok());

  ChangeBatch b;
  b.Put(MakeRecord("todo", IdN(1), R"({"v":2})", 20));   // replaces
  b.Erase("todo", IdN(2));                               // erases
  b.Put(MakeRecord("todo", IdN(3), R"({"v":1})", 20));   // inserts
  b.Put(MakeRecord("other", IdN(4), R"({"v":1})", 20));  // a new collection
  Record tomb = MakeRecord("todo", IdN(5), "", 20);
  tomb.deleted = true;
  b.Put(tomb);  // a tombstone
  b.Put(MakeRecord("todo", IdN(6), std::string(1 << 16, 'x'), 20));
  b.SetMeta("checkpoint", "new");

  FaultStore faulty(*store_);
  for (uint64_t n = 1; n <= b.size(); ++n) {
    SCOPED_TRACE("write " + std::to_string(n) + " fails");
    faulty.FailWriteAt(n);
    Status s = faulty.Apply(WriteOptions(), b);
    ASSERT_EQ(s.code(), Status::Code::kIOError) << s.ToString();
    auto all =
        GetAll(*store_, "todo", {IdN(1), IdN(2), IdN(3), IdN(5), IdN(6)});
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].payload, R"({"v":1})");
    EXPECT_EQ(all[0].version.timestamp, 10);
    EXPECT_EQ(all[1].id, IdN(2));
    EXPECT_EQ(ScanIds(*store_, "todo"),
              (std::vector<RecordId>{IdN(1), IdN(2)}));
    EXPECT_TRUE(ScanIds(*store_, "other").empty());
    EXPECT_EQ(*store_->Collections(), std::vector<std::string>{"todo"});
    EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "old");
  }
  EXPECT_EQ(faulty.counts().failed_writes, b.size());

  // The count runs across batches: the 3rd write from now is the 1st op of
  // the second batch below.
  faulty.FailWriteAt(3);
  ChangeBatch two;
  two.Put(MakeRecord("todo", IdN(7), "{}", 30));
  two.Put(MakeRecord("todo", IdN(8), "{}", 30));
  ASSERT_TRUE(faulty.Apply(WriteOptions(), two).ok());
  EXPECT_EQ(faulty.Apply(WriteOptions(), b).code(), Status::Code::kIOError);
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "old");

  // Unarmed, the same batch applies in full.
  ASSERT_TRUE(faulty.Apply(WriteOptions(), b).ok());
  EXPECT_EQ(
      ScanIds(*store_, "todo"),
      (std::vector<RecordId>{IdN(1), IdN(3), IdN(5), IdN(6), IdN(7), IdN(8)}));
  EXPECT_EQ(ScanIds(*store_, "other"), std::vector<RecordId>{IdN(4)});
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "new");
}

// ---------------------------------------------------------------------------
// Meta

TEST_P(StoreConformance, MetaIsSetWithTheBatch) {
  ChangeBatch b;
  b.SetMeta("checkpoint", "1");
  b.SetMeta("replica_id", "dev-1");
  b.SetMeta("checkpoint", "2");  // the last one wins
  b.SetMeta("empty", "");
  b.SetMeta("binary", std::string("\0\xff\x80", 3));
  b.SetMeta("ключ", "значение ✓");
  ASSERT_TRUE(Apply(b).ok());
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "2");
  EXPECT_EQ(store_->GetMeta("replica_id")->value_or("unset"), "dev-1");
  auto empty = store_->GetMeta("empty");
  ASSERT_TRUE(empty.ok());
  ASSERT_TRUE(empty->has_value());  // set to "", not unset
  EXPECT_EQ(**empty, "");
  EXPECT_EQ(Hex(store_->GetMeta("binary")->value_or("unset")), "00ff80");
  EXPECT_EQ(store_->GetMeta("ключ")->value_or("unset"), "значение ✓");
  EXPECT_FALSE(store_->GetMeta("check")->has_value());
  EXPECT_FALSE(store_->GetMeta("")->has_value());

  // Meta-only batch, and meta together with records.
  ChangeBatch c;
  c.Put(MakeRecord("todo", IdN(1), "{}"));
  c.SetMeta("checkpoint", "3");
  ASSERT_TRUE(Apply(c).ok());
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "3");
  EXPECT_EQ(ScanIds(*store_, "todo"), std::vector<RecordId>{IdN(1)});
  // Meta is not a collection.
  EXPECT_EQ(*store_->Collections(), std::vector<std::string>{"todo"});
}

// ---------------------------------------------------------------------------
// Accounts

TEST_P(StoreConformance, AccountsAreIsolated) {
  auto alice = Account("alice");
  auto bob = Account("bob");
  ASSERT_NE(alice, nullptr);
  ASSERT_NE(bob, nullptr);
  ChangeBatch a;
  a.Put(MakeRecord("todo", IdN(1), R"({"owner":"alice"})"));
  a.Put(MakeRecord("alice_only", IdN(2), "{}"));
  a.SetMeta("checkpoint", "alice-1");
  ASSERT_TRUE(alice->Apply(WriteOptions(), a).ok());
  ChangeBatch b;
  b.Put(MakeRecord("todo", IdN(1), R"({"owner":"bob"})"));
  b.Put(Tombstone("todo", IdN(3), 7));
  ASSERT_TRUE(bob->Apply(WriteOptions(), b).ok());

  EXPECT_EQ(GetAll(*alice, "todo", {IdN(1)}).at(0).payload,
            R"({"owner":"alice"})");
  EXPECT_EQ(GetAll(*bob, "todo", {IdN(1)}).at(0).payload, R"({"owner":"bob"})");
  EXPECT_EQ(ScanIds(*alice, "todo"), std::vector<RecordId>{IdN(1)});
  EXPECT_EQ(ScanIds(*bob, "todo"), (std::vector<RecordId>{IdN(1), IdN(3)}));
  EXPECT_TRUE(ScanIds(*bob, "alice_only").empty());
  EXPECT_EQ(*alice->Collections(),
            (std::vector<std::string>{"alice_only", "todo"}));
  EXPECT_EQ(*bob->Collections(), std::vector<std::string>{"todo"});
  EXPECT_EQ(alice->GetMeta("checkpoint")->value_or("unset"), "alice-1");
  EXPECT_FALSE(bob->GetMeta("checkpoint")->has_value());
  // The local account (opened by the fixture) saw none of it.
  EXPECT_TRUE(store_->Collections()->empty());

  // An erase and an expectation in one account ignore the other.
  ChangeBatch erase;
  Expect bob_row;  // "absent": true in alice's store only after the erase
  erase.Erase("todo", IdN(1));
  erase.Put(MakeRecord("todo", IdN(1), R"({"owner":"alice2"})"), bob_row);
  ASSERT_TRUE(alice->Apply(WriteOptions(), erase).ok());
  EXPECT_EQ(GetAll(*bob, "todo", {IdN(1)}).at(0).payload, R"({"owner":"bob"})");

  // A second handle on an account sees the same data.
  auto alice2 = Account("alice");
  EXPECT_EQ(GetAll(*alice2, "todo", {IdN(1)}).at(0).payload,
            R"({"owner":"alice2"})");

  // Account names are compared exactly.
  auto alice_upper = Account("Alice");
  EXPECT_TRUE(alice_upper->Collections()->empty());
}

// The metadata of `store` under `prefix`, as "key=value" lines in the
// order ScanMeta gives them.
std::vector<std::string> MetaUnder(Store& store, std::string_view prefix) {
  std::vector<std::string> out;
  Status s =
      store.ScanMeta(prefix, [&](std::string_view k, std::string_view v) {
        out.push_back(std::string(k) + "=" + std::string(v));
      });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST_P(StoreConformance, ScanMetaListsOnePrefixOfOneAccountInKeyOrder) {
  ChangeBatch b;
  b.SetMeta("user/bob", "2");
  b.SetMeta("user/alice", "1");
  b.SetMeta("user/", "root");
  b.SetMeta("user/carol", "");  // set to "": listed
  b.SetMeta("users", "not under user/");
  b.SetMeta("use", "shorter");
  b.SetMeta("created/alice", "5");
  auto admin = Account("_users");
  ASSERT_NE(admin, nullptr);
  ASSERT_TRUE(admin->Apply(WriteOptions(), b).ok());
  ChangeBatch other;
  other.SetMeta("user/mallory", "other account");
  ASSERT_TRUE(Account("_users2")->Apply(WriteOptions(), other).ok());
  ASSERT_TRUE(Apply(other).ok());  // the local account

  EXPECT_EQ(MetaUnder(*admin, "user/"),
            (std::vector<std::string>{"user/=root", "user/alice=1",
                                      "user/bob=2", "user/carol="}));
  EXPECT_EQ(MetaUnder(*admin, "user/b"),
            std::vector<std::string>{"user/bob=2"});
  EXPECT_TRUE(MetaUnder(*admin, "user/d").empty());
  EXPECT_TRUE(MetaUnder(*admin, "zzz").empty());
  EXPECT_EQ(MetaUnder(*admin, ""),
            (std::vector<std::string>{
                "created/alice=5", "use=shorter", "user/=root", "user/alice=1",
                "user/bob=2", "user/carol=", "users=not under user/"}));
  EXPECT_TRUE(MetaUnder(*Account("nobody"), "").empty());
}

TEST_P(StoreConformance, RemoveAccountTakesEveryRowAndMetaOfOneAccount) {
  auto alice = Account("alice");
  auto bob = Account("bob");
  auto ledger = Account("_users");
  ASSERT_TRUE(alice && bob && ledger);
  ChangeBatch a;
  a.Put(MakeRecord("todo", IdN(1), R"({"owner":"alice"})"));
  a.Put(MakeRecord("todo", IdN(2), std::string(100000, 'x')));
  a.Put(Tombstone("todo", IdN(3), 7));
  a.Put(MakeRecord("notes", IdN(1), "{}"));
  a.SetMeta(std::string(meta::kSequence), "12");
  a.SetMeta(meta::HistorySlot(3), "3:abc");
  ASSERT_TRUE(alice->Apply(WriteOptions(), a).ok());
  ChangeBatch b;
  b.Put(MakeRecord("todo", IdN(1), R"({"owner":"bob"})"));
  b.SetMeta(std::string(meta::kSequence), "4");
  ASSERT_TRUE(bob->Apply(WriteOptions(), b).ok());
  ChangeBatch l;
  l.SetMeta("user/alice", "hash-a");
  l.SetMeta("user/bob", "hash-b");
  ASSERT_TRUE(ledger->Apply(WriteOptions(), l).ok());

  ChangeBatch ends;
  ends.SetMeta("user/alice", "");
  ends.SetMeta("token_gen/alice", "1");
  ends.SetMeta("token_gen/alice", "2");  // the last one wins, as in Apply
  ASSERT_TRUE(db_->RemoveAccount("alice", "_users", ends).ok());

  auto check_removed = [&](Store& gone) {
    EXPECT_TRUE(gone.Collections()->empty());
    EXPECT_TRUE(ScanIds(gone, "todo").empty());
    EXPECT_TRUE(ScanIds(gone, "notes").empty());
    EXPECT_TRUE(GetAll(gone, "todo", {IdN(1), IdN(2), IdN(3)}).empty());
    EXPECT_FALSE(gone.GetMeta(meta::kSequence)->has_value());
    EXPECT_TRUE(MetaUnder(gone, "").empty());
    EXPECT_EQ(GetAll(*bob, "todo", {IdN(1)}).at(0).payload,
              R"({"owner":"bob"})");
    EXPECT_EQ(bob->GetMeta(meta::kSequence)->value_or("unset"), "4");
    EXPECT_EQ(MetaUnder(*ledger, ""),
              (std::vector<std::string>{"token_gen/alice=2",
                                        "user/alice=", "user/bob=hash-b"}));
  };
  check_removed(*alice);  // a handle opened before
  check_removed(*Account("alice"));
  if (GetParam().persistent) {
    alice.reset();
    bob.reset();
    ledger.reset();
    Reopen();
    alice = Account("alice");
    bob = Account("bob");
    ledger = Account("_users");
    check_removed(*alice);
  }

  // The name may be used again: it starts empty, also through a handle
  // opened before the removal (rows "absent" as Expect says).
  auto before = Account("alice");
  ChangeBatch again;
  again.Put(MakeRecord("todo", IdN(1), R"({"owner":"alice 2"})"), Expect{});
  ASSERT_TRUE(before->Apply(WriteOptions(), again).ok());
  EXPECT_EQ(ScanIds(*Account("alice"), "todo"), std::vector<RecordId>{IdN(1)});
  EXPECT_EQ(*Account("alice")->Collections(), std::vector<std::string>{"todo"});

  // Removing an account without data sets the ledger's metadata only.
  ChangeBatch nobody;
  nobody.SetMeta("user/nobody", "");
  ASSERT_TRUE(db_->RemoveAccount("nobody", "_users", nobody).ok());
  EXPECT_EQ(ledger->GetMeta("user/nobody")->value_or("unset"), "");
}

TEST_P(StoreConformance, RemoveAccountRefusesBadArgumentsChangingNothing) {
  auto alice = Account("alice");
  ASSERT_NE(alice, nullptr);
  ChangeBatch a;
  a.Put(MakeRecord("todo", IdN(1), "{}"));
  a.SetMeta("k", "v");
  ASSERT_TRUE(alice->Apply(WriteOptions(), a).ok());
  ChangeBatch meta;
  meta.SetMeta("user/alice", "");
  ChangeBatch with_ops;
  with_ops.SetMeta("user/alice", "");
  with_ops.Put(MakeRecord("todo", IdN(9), "{}"));
  struct Case {
    std::string_view account, ledger;
    const ChangeBatch* batch;
  } const cases[] = {{"", "_users", &meta},
                     {"alice", "", &meta},
                     {"alice", "alice", &meta},
                     {"alice", "_users", &with_ops}};
  for (const Case& c : cases) {
    EXPECT_EQ(db_->RemoveAccount(c.account, c.ledger, *c.batch).code(),
              Status::Code::kInvalidArgument)
        << "account \"" << c.account << "\" ledger \"" << c.ledger << "\"";
  }
  EXPECT_EQ(ScanIds(*alice, "todo"), std::vector<RecordId>{IdN(1)});
  EXPECT_EQ(alice->GetMeta("k")->value_or("unset"), "v");
  EXPECT_TRUE(MetaUnder(*Account("_users"), "").empty());
}

// ---------------------------------------------------------------------------
// Persistence

TEST_P(StoreConformance, DataAndCheckpointsSurviveReopen) {
  if (!GetParam().persistent) GTEST_SKIP() << "not a persistent store";
  Record live = MakeRecord("todo", IdN(1), R"({"t":"milk ü"})", 1000);
  live.state = SyncState::kChanged;
  live.base = 900;
  live.version.extra = std::string("\x01\x00\x02", 3);
  Record tomb = Tombstone("todo", IdN(2), 1100);
  ChangeBatch b;
  b.Put(live);
  b.Put(tomb);
  b.Put(MakeRecord("gone", IdN(3), "{}"));
  b.SetMeta("checkpoint", "cp-42");
  ASSERT_TRUE(Apply(b).ok());
  ChangeBatch e;
  e.Erase("gone", IdN(3));
  ASSERT_TRUE(Apply(e).ok());
  auto other = Account("server_user");
  ChangeBatch o;
  o.Put(MakeRecord("todo", IdN(1), "{}"));
  o.SetMeta("checkpoint", "other");
  ASSERT_TRUE(other->Apply(WriteOptions(), o).ok());
  other.reset();
  // A failed batch before closing must stay unapplied.
  ChangeBatch fail;
  fail.SetMeta("checkpoint", "cp-bad");
  fail.Put(MakeRecord("todo", IdN(1), "{}"), Expect{});
  ASSERT_EQ(Apply(fail).code(), Status::Code::kConflict);

  Reopen();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(GetAll(*store_, "todo", {IdN(1), IdN(2)}),
            (std::vector<Record>{live, tomb}));
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "cp-42");
  EXPECT_EQ(*store_->Collections(), std::vector<std::string>{"todo"});
  auto other2 = Account("server_user");
  EXPECT_EQ(other2->GetMeta("checkpoint")->value_or("unset"), "other");
  EXPECT_EQ(ScanIds(*other2, "todo"), std::vector<RecordId>{IdN(1)});
  other2.reset();

  // Writes after reopening work, to old and new collections.
  ChangeBatch more;
  more.Put(MakeRecord("todo", IdN(3), "{}"));
  more.Put(MakeRecord("gone", IdN(4), "{}"));
  more.SetMeta("checkpoint", "cp-43");
  ASSERT_TRUE(Apply(more).ok());
  Reopen();
  EXPECT_EQ(ScanIds(*store_, "todo"),
            (std::vector<RecordId>{IdN(1), IdN(2), IdN(3)}));
  EXPECT_EQ(ScanIds(*store_, "gone"), std::vector<RecordId>{IdN(4)});
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "cp-43");
}

// ---------------------------------------------------------------------------
// Size

TEST_P(StoreConformance, HundredThousandRecordBatch) {
  constexpr uint32_t kN = 100000;
  ChangeBatch b;
  std::mt19937 rng(7);
  std::vector<uint32_t> order(kN);
  for (uint32_t i = 0; i < kN; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (uint32_t n : order) {
    Record r = MakeRecord("big", IdN(n, static_cast<uint8_t>(n)),
                          "{\"n\":" + std::to_string(n) + "}", n);
    b.Put(std::move(r));
  }
  b.SetMeta("checkpoint", "100k");
  ASSERT_TRUE(Apply(b, /*sync=*/false).ok());
  auto it = store_->Scan("big", ScanOptions());
  uint32_t count = 0;
  for (; it->Valid(); it->Next(), ++count) {
    ASSERT_EQ(it->entry().id, IdN(count, static_cast<uint8_t>(count)));
    ASSERT_EQ(it->entry().version.timestamp, count);
  }
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  EXPECT_EQ(count, kN);
  std::vector<RecordId> sample;
  for (uint32_t n = 0; n < kN; n += 9973) {
    sample.push_back(IdN(n, static_cast<uint8_t>(n)));
  }
  auto got = GetAll(*store_, "big", sample);
  ASSERT_EQ(got.size(), sample.size());
  for (const Record& r : got) {
    EXPECT_EQ(r.payload, "{\"n\":" + std::to_string(r.version.timestamp) + "}");
  }
  EXPECT_EQ(store_->GetMeta("checkpoint")->value_or("unset"), "100k");
}

// ---------------------------------------------------------------------------
// Concurrency

TEST_P(StoreConformance, ScanWhileApplyingWrites) {
  // Even ids exist before the scan; during it, every step writes ahead of,
  // behind, and at the iterator's position.
  constexpr uint32_t kN = 3000;
  ChangeBatch b;
  for (uint32_t i = 0; i < kN; ++i) b.Put(MakeRecord("todo", IdN(2 * i), "{}"));
  ASSERT_TRUE(Apply(b, /*sync=*/false).ok());

  std::set<RecordId> touched;  // ids whose rows the scan may or may not see
  auto it = store_->Scan("todo", ScanOptions());
  std::vector<RecordId> seen;
  uint32_t step = 0;
  for (; it->Valid(); it->Next(), ++step) {
    RecordId id = it->entry().id;
    ASSERT_TRUE(seen.empty() || seen.back() < id)
        << "went backwards or repeated at " << id.ToString();
    seen.push_back(id);
    uint32_t pos = (static_cast<uint32_t>(id.bytes()[2]) << 8) | id.bytes()[3];
    ChangeBatch w;
    w.Put(MakeRecord("todo", IdN(pos + 1), "{}"));  // just ahead (odd id)
    touched.insert(IdN(pos + 1));
    if (pos >= 3) w.Put(MakeRecord("todo", IdN(pos - 3), "{}"));  // behind
    w.Put(MakeRecord("todo", id, R"({"updated":true})"));         // here
    if (step % 5 == 0 && pos + 40 < 2 * kN) {  // erase and re-put ahead
      w.Erase("todo", IdN(pos + 40));
      touched.insert(IdN(pos + 40));
    }
    if (step % 7 == 0 && pos + 60 < 2 * kN) {
      w.Erase("todo", IdN(pos + 60));
      w.Put(MakeRecord("todo", IdN(pos + 60), "{}"));
      touched.insert(IdN(pos + 60));
    }
    ASSERT_TRUE(Apply(w, /*sync=*/false).ok());
  }
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  // Every row that existed throughout the scan and was never erased was
  // seen exactly once.
  std::set<RecordId> seen_set(seen.begin(), seen.end());
  ASSERT_EQ(seen_set.size(), seen.size());
  for (uint32_t i = 0; i < kN; ++i) {
    if (touched.count(IdN(2 * i))) continue;
    EXPECT_TRUE(seen_set.count(IdN(2 * i))) << "missed " << 2 * i;
  }
  for (const RecordId& id : seen) {
    uint32_t n = (static_cast<uint32_t>(id.bytes()[2]) << 8) | id.bytes()[3];
    EXPECT_TRUE(n % 2 == 0 || touched.count(id)) << n;
  }
}

TEST_P(StoreConformance, ConcurrentReadersDuringWrites) {
  // One writer adds batches; readers scan, get, list and read meta at the
  // same time. A row committed before a read starts must be seen by it.
  constexpr uint32_t kBatches = 120;
  constexpr uint32_t kPerBatch = 40;
  std::atomic<uint32_t> committed{0};  // batches whose Apply returned
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) < 5) ADD_FAILURE() << what;
  };
  // Batch k writes ids k + kBatches * j, so each batch is spread over the
  // whole id space, ahead of and behind any scan.
  auto id_of = [](uint32_t k, uint32_t j) { return IdN(k + kBatches * j); };

  std::thread writer([&] {
    for (uint32_t k = 0; k < kBatches; ++k) {
      ChangeBatch b;
      for (uint32_t j = 0; j < kPerBatch; ++j) {
        b.Put(MakeRecord("todo", id_of(k, j), std::to_string(k), k));
      }
      b.SetMeta("progress", std::to_string(k));
      Status s = Apply(b, /*sync=*/k % 10 == 0);
      if (!s.ok()) fail("apply: " + s.ToString());
      committed.store(k + 1);
    }
    done.store(true);
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      size_t last_count = 0;
      int64_t last_progress = -1;
      std::mt19937 rng(t);
      while (!done.load() && failures.load() == 0) {
        uint32_t before = committed.load();
        // A scan sees at least what was committed before it started.
        size_t count = 0;
        std::optional<RecordId> prev;
        auto it = store_->Scan("todo", ScanOptions());
        for (; it->Valid(); it->Next(), ++count) {
          if (prev && !(*prev < it->entry().id)) fail("scan out of order");
          prev = it->entry().id;
        }
        if (!it->status().ok()) fail("scan: " + it->status().ToString());
        if (count < before * kPerBatch) fail("scan missed committed rows");
        if (count < last_count) fail("scan count went down");
        last_count = count;
        // Get: committed rows are there.
        if (before > 0) {
          uint32_t k = rng() % before;
          std::vector<RecordId> ids;
          for (uint32_t j = 0; j < kPerBatch; j += 7)
            ids.push_back(id_of(k, j));
          size_t got = 0;
          Status s = store_->Get("todo", ids, [&](const Record& r) {
            ++got;
            if (r.payload != std::to_string(k)) fail("bad payload");
          });
          if (!s.ok()) fail("get: " + s.ToString());
          if (got != ids.size()) fail("get missed committed rows");
        }
        auto meta = store_->GetMeta("progress");
        if (!meta.ok()) fail("meta: " + meta.status().ToString());
        int64_t progress =
            meta.ok() && meta->has_value() ? std::stoll(**meta) : int64_t{-1};
        if (progress < last_progress) fail("meta went backwards");
        if (progress + 1 < static_cast<int64_t>(before)) fail("meta stale");
        last_progress = progress;
        auto names = store_->Collections();
        if (!names.ok()) fail("collections: " + names.status().ToString());
      }
    });
  }
  writer.join();
  for (std::thread& r : readers) r.join();
  ASSERT_EQ(failures.load(), 0);
  EXPECT_EQ(ScanAll(*store_, "todo").size(), kBatches * kPerBatch);
}

TEST_P(StoreConformance, ConcurrentWritersToTwoAccounts) {
  auto alice = Account("alice");
  auto bob = Account("bob");
  auto write = [](Store& store, uint32_t salt) {
    for (uint32_t k = 0; k < 50; ++k) {
      ChangeBatch b;
      for (uint32_t j = 0; j < 20; ++j) {
        b.Put(MakeRecord("todo", IdN(k * 20 + j), std::to_string(salt)));
      }
      ASSERT_TRUE(store.Apply(WriteOptions{false}, b).ok());
    }
  };
  std::thread a([&] { write(*alice, 1); });
  std::thread b([&] { write(*bob, 2); });
  write(*store_, 3);
  a.join();
  b.join();
  for (auto& [store, salt] :
       {std::pair{alice, "1"}, std::pair{bob, "2"}, std::pair{store_, "3"}}) {
    auto entries = ScanIds(*store, "todo");
    ASSERT_EQ(entries.size(), 1000u);
    auto got = GetAll(*store, "todo", entries);
    for (const Record& r : got) ASSERT_EQ(r.payload, salt);
  }
}

// ---------------------------------------------------------------------------
// Model-based random test: the store must agree with a std::map after each
// batch of random puts, erases, expectations (some failing) and meta.

struct Model {
  std::map<std::string, std::map<RecordId, Record>> rows;
  std::map<std::string, std::string> meta;

  const Record* Find(const std::string& c, const RecordId& id) const {
    auto col = rows.find(c);
    if (col == rows.end()) return nullptr;
    auto it = col->second.find(id);
    return it == col->second.end() ? nullptr : &it->second;
  }

  // Applies `batch` with Store::Apply's semantics; false on a failed Expect.
  bool Apply(const ChangeBatch& batch) {
    Model next = *this;
    for (const ChangeBatch::Op& op : batch.ops()) {
      const Record* row = next.Find(op.record.collection, op.record.id);
      if (op.expect && !Satisfies(row, *op.expect)) return false;
      if (op.kind == ChangeBatch::Op::Kind::kPut) {
        next.rows[op.record.collection][op.record.id] = op.record;
      } else if (auto col = next.rows.find(op.record.collection);
                 col != next.rows.end()) {
        col->second.erase(op.record.id);
        if (col->second.empty()) next.rows.erase(col);
      }
    }
    for (const auto& [k, v] : batch.meta()) next.meta[k] = v;
    *this = std::move(next);
    return true;
  }
};

TEST_P(StoreConformance, ModelBasedRandomBatches) {
  const uint64_t seed = TestSeed(20261126);
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](uint64_t n) { return rng() % n; };

  const std::vector<std::string> collections = {"todo", "notes", "t3"};
  std::vector<RecordId> pool;  // few ids, so ops collide often
  for (int i = 0; i < 48; ++i) {
    std::array<uint8_t, 16> b{};
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    if (i % 4 == 0) b[0] = 0xff;  // high bytes
    if (i % 4 == 1) b[0] = 0x00;
    pool.push_back(RecordId(b));
  }
  const std::string payloads[] = {"{}", R"({"a":1})", R"({"title":"ü ✓"})",
                                  std::string(3000, 'x'), ""};
  const SyncState states[] = {SyncState::kSynced, SyncState::kCreated,
                              SyncState::kChanged, SyncState::kDeleted};

  auto random_record = [&](const std::string& c, const RecordId& id) {
    Record r = MakeRecord(c, id, payloads[pick(std::size(payloads))],
                          static_cast<Timestamp>(pick(4)) - 1);
    r.state = states[pick(4)];
    r.base = static_cast<Timestamp>(pick(3));
    r.version.extra = pick(3) == 0 ? std::string("\0e", 2) : "";
    if (pick(5) == 0) {
      r.deleted = true;
      r.payload.clear();
    }
    return r;
  };
  Model model;
  // An Expect that the row `m` holds satisfies, or (when `wrong`) one it
  // does not.
  auto make_expect = [&](const Model& m, const std::string& c,
                         const RecordId& id, bool wrong) {
    const Record* row = m.Find(c, id);
    Expect e;
    if (row != nullptr) {
      e.exists = true;
      e.state = row->state;
      e.deleted = row->deleted;
      e.timestamp = row->version.timestamp;
      if (pick(2) == 0) e.payload = row->payload;
    }
    if (wrong && row == nullptr) {
      e.exists = true;
    } else if (wrong) {
      switch (pick(5)) {
        case 0:
          e = Expect{};
          break;
        case 1:
          e.timestamp += 1;
          break;
        case 2:
          e.state = static_cast<SyncState>((static_cast<int>(e.state) + 1) % 4);
          break;
        case 3:
          e.deleted = !e.deleted;
          break;
        default:
          e.payload = row->payload + "x";
          break;
      }
    }
    EXPECT_EQ(Satisfies(row, e), !wrong);
    return e;
  };

  int applied = 0, conflicts = 0;
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ChangeBatch b;
    // Expectations are computed against the model as the batch's earlier
    // ops leave it.
    Model shadow = model;
    bool want_fail = pick(4) == 0;
    size_t n_ops = 1 + pick(round % 10 == 0 ? 200 : 12);
    size_t fail_at = pick(n_ops);
    for (size_t i = 0; i < n_ops; ++i) {
      const std::string& c = collections[pick(collections.size())];
      const RecordId& id = pool[pick(pool.size())];
      std::optional<Expect> expect;
      if (pick(3) == 0 || (want_fail && i == fail_at)) {
        expect = make_expect(shadow, c, id, want_fail && i == fail_at);
      }
      if (pick(4) == 0) {
        b.Erase(c, id, expect);
      } else {
        b.Put(random_record(c, id), expect);
      }
      ChangeBatch one;  // keeps the shadow in step, ignoring expectations
      if (b.ops().back().kind == ChangeBatch::Op::Kind::kPut) {
        one.Put(b.ops().back().record);
      } else {
        one.Erase(c, id);
      }
      (void)shadow.Apply(one);
    }
    if (pick(3) == 0) b.SetMeta("checkpoint", std::to_string(round));
    if (pick(5) == 0) b.SetMeta("k" + std::to_string(pick(3)), "v");

    bool model_ok = model.Apply(b);
    Status s = Apply(b, /*sync=*/pick(4) == 0);
    if (model_ok) {
      ASSERT_TRUE(s.ok()) << s.ToString();
      ++applied;
    } else {
      ASSERT_EQ(s.code(), Status::Code::kConflict) << s.ToString();
      ++conflicts;
    }

    // Compare everything.
    auto names = store_->Collections();
    ASSERT_TRUE(names.ok());
    std::vector<std::string> want_names;
    for (const auto& [c, rows] : model.rows) want_names.push_back(c);
    ASSERT_EQ(*names, want_names);
    for (const std::string& c : collections) {
      std::vector<ManifestEntry> all, live;
      std::vector<Record> records;
      if (auto col = model.rows.find(c); col != model.rows.end()) {
        for (const auto& [id, r] : col->second) {
          all.push_back(EntryOf(r));
          if (!r.deleted) live.push_back(EntryOf(r));
          records.push_back(r);
        }
      }
      ASSERT_EQ(Describe(ScanAll(*store_, c)), Describe(all)) << c;
      ScanOptions no_tombs;
      no_tombs.include_tombstones = false;
      ASSERT_EQ(Describe(ScanAll(*store_, c, no_tombs)), Describe(live)) << c;
      std::vector<RecordId> ids(pool.begin(), pool.end());
      std::sort(ids.begin(), ids.end());
      ASSERT_EQ(GetAll(*store_, c, ids), records) << c;
      // A random range.
      RecordId lo = pool[pick(pool.size())], hi = pool[pick(pool.size())];
      std::vector<RecordId> want_range;
      for (const Record& r : records) {
        if (r.id >= lo && r.id < hi) want_range.push_back(r.id);
      }
      ASSERT_EQ(ScanIds(*store_, c, Range(lo, hi)), want_range);
      // The indexes: rows after a random base in (base, id) order, and the
      // rows not synced in id order.
      Timestamp after = static_cast<Timestamp>(pick(4)) - 1;
      std::vector<Record> since, unsynced;
      for (const Record& r : records) {
        if (r.base > after) since.push_back(r);
        if (r.state != SyncState::kSynced) unsynced.push_back(r);
      }
      std::stable_sort(
          since.begin(), since.end(),
          [](const Record& x, const Record& y) { return x.base < y.base; });
      ASSERT_EQ(Describe(Since(*store_, c, after)), Describe(since)) << c;
      ASSERT_EQ(Since(*store_, c, after), since) << c;
      ASSERT_EQ(Unsynced(*store_, c), unsynced) << c;
    }
    for (const char* k : {"checkpoint", "k0", "k1", "k2"}) {
      auto got = store_->GetMeta(k);
      ASSERT_TRUE(got.ok());
      auto want = model.meta.find(k);
      ASSERT_EQ(got->has_value(), want != model.meta.end()) << k;
      if (got->has_value()) {
        ASSERT_EQ(**got, want->second) << k;
      }
    }
  }
  RecordProperty("applied", applied);
  RecordProperty("conflicts", conflicts);
  EXPECT_GT(applied, 100);
  EXPECT_GT(conflicts, 20);
}

}  // namespace
}  // namespace syncstack::conformance
