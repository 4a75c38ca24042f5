// The conflict journal's codec (journal.h): the exact text it writes, the
// round trip, the errors a damaged entry gives, and an entry written by the
// service read back into what was sent.
#include "syncstack/journal.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/registry.h"
#include "syncstack/service.h"

namespace syncstack {
namespace {

const RecordId kId = *RecordId::Parse("10000000-0000-4000-8000-000000000001");
constexpr Timestamp kNow = 1796169600000;  // 2026-12-02 00:00:00 UTC

ConflictJournalEntry Sample() {
  ConflictJournalEntry e;
  e.time = kNow;
  e.policy = "lww";
  e.collection = "todo";
  e.id = kId;
  e.device = "phone";
  e.clock_offset_ms = -120000;
  e.kept = Kept::kServer;
  e.server.version = Version{kNow - 1000, ""};
  e.server.deleted = true;
  e.client.version = Version{kNow - 5000, "v2"};
  e.client.payload = R"({"t":"edited offline","n":{"a":[1,2]}})";
  return e;
}

Result<ConflictJournalEntry> RoundTrip(const ConflictJournalEntry& e) {
  std::string json;
  EncodeJournalEntry(e, json);
  return DecodeJournalEntry(json);
}

TEST(JournalCodec, WritesTheDocumentedFormat) {
  std::string json;
  EncodeJournalEntry(Sample(), json);
  EXPECT_EQ(
      json,
      R"({"time":"2026-12-02 00:00:00.000","policy":"lww",)"
      R"("collection":"todo","id":"10000000-0000-4000-8000-000000000001",)"
      R"("device":"phone","clock_offset_ms":-120000,"kept":"server",)"
      R"("server":{"last_update":"2026-12-01 23:59:59.000","version":"",)"
      R"("deleted":true,"payload":null},)"
      R"("client":{"last_update":"2026-12-01 23:59:55.000",)"
      R"("version":"v2","deleted":false,)"
      R"("payload":{"t":"edited offline","n":{"a":[1,2]}}}})");
}

TEST(JournalCodec, RoundTrips) {
  auto back = RoundTrip(Sample());
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, Sample());
}

TEST(JournalCodec, RoundTripsAbsentValuesAndEscapes) {
  ConflictJournalEntry e = Sample();
  e.clock_offset_ms = kNoTimestamp;  // null
  e.device = "";                     // no lease
  e.kept = Kept::kMerged;
  e.server.version.timestamp = kNoTimestamp;  // "last_update": ""
  e.server.deleted = false;
  e.server.payload = "{\"q\":\"a \\\"quoted\\\" \\u00e9 word\"}";
  e.client.version = Version{kNow, "\x01\"\\\n"};
  e.policy = "vector\tclock";
  e.collection = "caf\xc3\xa9";
  auto back = RoundTrip(e);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, e);
}

// Random entries, printed seed; replay with SYNCSTACK_SEED.
TEST(JournalCodec, RandomEntriesRoundTrip) {
  uint64_t seed = 20261202;
  if (const char* s = std::getenv("SYNCSTACK_SEED")) seed = std::stoull(s);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  auto text = [&](size_t max) {
    std::string s(rng() % (max + 1), ' ');
    for (char& c : s) c = static_cast<char>(1 + rng() % 127);  // ASCII
    return s;
  };
  auto side = [&] {
    JournalSide out;
    out.version.timestamp =
        rng() % 5 == 0 ? kNoTimestamp
                       : static_cast<Timestamp>(rng() % 253402300799000ull);
    out.version.extra = text(12);
    out.deleted = rng() % 3 == 0;
    if (!out.deleted && rng() % 4 != 0) {
      out.payload = "{\"k\":";
      AppendJsonString(text(20), out.payload);
      out.payload += "}";
    }
    return out;
  };
  for (int i = 0; i < 500; ++i) {
    ConflictJournalEntry e;
    e.time = static_cast<Timestamp>(rng() % 253402300799000ull);
    e.policy = text(10);
    e.collection = text(10);
    std::array<uint8_t, 16> bytes;
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    e.id = RecordId(bytes);
    e.device = text(16);
    e.clock_offset_ms = rng() % 3 == 0
                            ? kNoTimestamp
                            : static_cast<int64_t>(rng() % 2000000) - 1000000;
    e.kept = static_cast<Kept>(rng() % 3);
    e.server = side();
    e.client = side();
    auto back = RoundTrip(e);
    ASSERT_TRUE(back.ok()) << "seed " << seed << " entry " << i << ": "
                           << back.status().message();
    ASSERT_EQ(*back, e) << "seed " << seed << " entry " << i;
  }
}

TEST(JournalCodec, SkipsUnknownMembers) {
  std::string json;
  EncodeJournalEntry(Sample(), json);
  json.insert(1, R"("later":{"x":[1,{"y":2}]},"note":"n",)");
  size_t server = json.find("\"server\":{") + 10;
  json.insert(server, R"("extra":[true],)");
  auto back = DecodeJournalEntry(json);
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(*back, Sample());
}

TEST(JournalCodec, ErrorsNameTheMember) {
  std::string good;
  EncodeJournalEntry(Sample(), good);
  auto replaced = [&](std::string_view from, std::string_view to) {
    std::string s = good;
    size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  struct Case {
    std::string json;
    std::string says;
  };
  const Case cases[] = {
      {"[]", "expected an object"},
      {"{\"time\":", "not valid JSON"},
      {replaced(R"("policy":"lww",)", ""), "missing \"policy\""},
      {replaced(R"("deleted":true,)", ""), "missing \"server.deleted\""},
      {replaced(R"("kept":"server")", R"("kept":"mine")"), "kept: expected"},
      {replaced(R"("id":"1)", R"("id":"x)"), "id:"},
      {replaced(R"("clock_offset_ms":-120000)", R"("clock_offset_ms":"1")"),
       "clock_offset_ms: expected an integer or null"},
      {replaced(R"("deleted":true)", R"("deleted":1)"),
       "server.deleted: expected a boolean"},
      {replaced(R"("payload":null)", R"("payload":[])"),
       "server.payload: expected an object or null"},
      {replaced(R"("last_update":"2026-12-01 23:59:59.000")",
                R"("last_update":"yesterday")"),
       "server.last_update:"},
      {replaced(R"("device":"phone")", R"("device":"phone","device":"x")"),
       "duplicate member \"device\""},
      {replaced(R"("time":"2026-12-02 00:00:00.000")", R"("time":7)"),
       "time: expected a string"},
  };
  for (const Case& c : cases) {
    auto decoded = DecodeJournalEntry(c.json);
    ASSERT_FALSE(decoded.ok()) << c.json;
    EXPECT_EQ(decoded.status().code(), Status::Code::kInvalidArgument);
    EXPECT_NE(decoded.status().message().find(c.says), std::string::npos)
        << decoded.status().message() << " for " << c.json;
  }
}

TEST(JournalCodec, RefusesDeepNesting) {
  std::string good;
  EncodeJournalEntry(Sample(), good);
  std::string deep = good;
  std::string nest(200, '[');
  nest += std::string(200, ']');
  deep.insert(1, "\"x\":" + nest + ",");
  auto decoded = DecodeJournalEntry(deep);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("nesting deeper than"),
            std::string::npos)
      << decoded.status().message();
}

// A conflict resolved by the service is journaled; the entry reads back
// into both writes as the service saw them.
TEST(JournalCodec, ReadsWhatTheServiceWrote) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  auto policy = NewPolicyByName("lww");
  ASSERT_TRUE(policy.ok());
  ManualClock clock(kNow);
  auto lock = NewMemorySyncLock(clock, std::chrono::seconds(30));
  auto auth = NewInProcessAuthenticator();
  SyncService service(**db, **policy, clock, *lock, *auth, Schema());

  SyncRequest first;
  first.add.push_back({"todo", {WireRecord{kId, kNow - 1000, R"({"t":"a"})"}}});
  ASSERT_TRUE(service.Synchronise("alice", first).ok());
  clock.Advance(60000);
  SyncRequest older;  // an edit stamped before the stored one: lww keeps it
  older.update.push_back(
      {"todo", {WireRecord{kId, kNow - 5000, R"({"t":"b"})"}}});
  auto answer = service.Synchronise("alice", older);
  ASSERT_TRUE(answer.ok()) << answer.status().message();
  ASSERT_EQ(answer->conflicts.size(), 1u);

  auto store = (*db)->OpenAccount("alice");
  ASSERT_TRUE(store.ok());
  std::vector<ConflictJournalEntry> entries;
  Status read =
      ReadConflictJournal(**store, [&](uint64_t index, std::string_view json) {
        EXPECT_EQ(index, entries.size());
        auto e = DecodeJournalEntry(json);
        ASSERT_TRUE(e.ok()) << e.status().message() << " in " << json;
        entries.push_back(*e);
      });
  ASSERT_TRUE(read.ok()) << read.message();
  ASSERT_EQ(entries.size(), 1u);
  const ConflictJournalEntry& e = entries[0];
  EXPECT_EQ(e.time, kNow + 60000);
  EXPECT_EQ(e.policy, "lww");
  EXPECT_EQ(e.collection, "todo");
  EXPECT_EQ(e.id, kId);
  EXPECT_EQ(e.device, "");
  EXPECT_EQ(e.clock_offset_ms, kNoTimestamp);
  EXPECT_EQ(e.kept, Kept::kServer);
  EXPECT_EQ(e.server.payload, R"({"t":"a"})");
  EXPECT_FALSE(e.server.deleted);
  EXPECT_EQ(e.client.version.timestamp, kNow - 5000);
  EXPECT_EQ(e.client.payload, R"({"t":"b"})");
  EXPECT_FALSE(e.client.deleted);
}

}  // namespace
}  // namespace syncstack
