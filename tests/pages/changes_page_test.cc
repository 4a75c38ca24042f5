// The changes page of pages.h (GET /v1/changes): binary round trips, the
// JSON shape, and the rejection of damaged binary pages.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <random>
#include <string>

#include "syncstack/pages.h"
#include "syncstack/varint.h"

namespace syncstack {
namespace {

RecordId IdN(uint64_t n) {
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) b[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  b[0] = 0x20;
  return RecordId(b);
}

ChangesPage SamplePage() {
  ChangesPage page;
  page.collection = "todo";
  page.id_key = "id";
  page.changes.push_back(
      {WireRecord{IdN(2), 1367422970000, "{\"title\":\"milk\"}", "v1"}, 17,
       false});
  page.changes.push_back({WireRecord{IdN(1), 1367422971000, "", ""}, 18, true});
  page.more = true;
  page.last = 18;
  page.seq = 20;
  page.count = 1234;
  page.fingerprint = 0x89abcdef01234567;
  return page;
}

TEST(ChangesPageTest, BinaryRoundTrip) {
  ChangesPage page = SamplePage();
  std::string body;
  EncodeChangesPageBinary(page, body);
  EXPECT_EQ(body.substr(0, 5), std::string("SSP1\x03", 5));
  auto back = DecodeChangesPageBinary(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, page);
}

TEST(ChangesPageTest, EmptyPageRoundTrip) {
  ChangesPage page;
  page.collection = "c";
  page.id_key = "uuid";
  page.last = 7;
  page.seq = 9;
  std::string body;
  EncodeChangesPageBinary(page, body);
  auto back = DecodeChangesPageBinary(body);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, page);
}

TEST(ChangesPageTest, RandomPagesRoundTrip) {
  const unsigned seed = 130013;
  std::printf("changes_page_test: seed %u\n", seed);
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 50; ++round) {
    ChangesPage page;
    page.collection = "c" + std::to_string(round);
    page.id_key = "id";
    uint64_t seq = rng() % 1000;
    size_t n = rng() % 20;
    for (size_t i = 0; i < n; ++i) {
      seq += 1 + rng() % 5;
      bool deleted = rng() % 3 == 0;
      std::string payload =
          deleted ? "" : "{\"n\":" + std::to_string(rng() % 100000) + "}";
      page.changes.push_back(
          {WireRecord{IdN(rng()), static_cast<Timestamp>(rng() >> 20), payload,
                      rng() % 2 ? "x" : ""},
           seq, deleted});
    }
    page.last = seq;
    page.seq = seq + rng() % 3;
    page.more = rng() % 2 == 0;
    page.count = rng();
    page.fingerprint = rng();
    std::string body;
    EncodeChangesPageBinary(page, body);
    auto back = DecodeChangesPageBinary(body);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(*back, page) << "round " << round;
  }
}

void ExpectRejected(const std::string& body, const std::string& what) {
  auto page = DecodeChangesPageBinary(body);
  ASSERT_FALSE(page.ok()) << what;
  EXPECT_EQ(page.status().code(), Status::Code::kInvalidArgument) << what;
  EXPECT_FALSE(page.status().message().empty());
}

TEST(ChangesPageTest, EveryTruncationIsRejected) {
  std::string body;
  EncodeChangesPageBinary(SamplePage(), body);
  for (size_t n = 0; n < body.size(); ++n) {
    ExpectRejected(body.substr(0, n), "truncated at " + std::to_string(n));
  }
  ExpectRejected(body + "x", "a byte after the last entry");
}

TEST(ChangesPageTest, BadPagesAreRejected) {
  std::string good;
  EncodeChangesPageBinary(SamplePage(), good);
  std::string body = good;
  body[0] = 'X';
  ExpectRejected(body, "bad magic");
  body = good;
  body[4] = 2;
  ExpectRejected(body, "a records page's kind");
  // Header: magic(4) kind(1) seq varint(1: 20) more(1).
  body = good;
  body[6] = 2;
  ExpectRejected(body, "more flag 2");

  ChangesPage page = SamplePage();
  page.changes[1].seq = 17;  // not strictly ascending
  EncodeChangesPageBinary(page, body);
  ExpectRejected(body, "equal sequences");
  page = SamplePage();
  page.seq = 17;  // the last entry (18) is past it
  EncodeChangesPageBinary(page, body);
  ExpectRejected(body, "an entry past the page's seq");
  page = SamplePage();
  page.last = 17;
  EncodeChangesPageBinary(page, body);
  ExpectRejected(body, "last is not the last entry's");
  page = SamplePage();
  page.changes.clear();
  page.last = 21;  // past seq 20
  EncodeChangesPageBinary(page, body);
  ExpectRejected(body, "last past seq");
}

TEST(ChangesPageTest, TombstoneWithPayloadAndBadDeletedFlagRejected) {
  ChangesPage page = SamplePage();
  page.changes.resize(1);
  page.last = 17;
  std::string body;
  EncodeChangesPageBinary(page, body);
  // The entry: its id (16 bytes), seq 17 (one byte), then the flag.
  const size_t entry = body.find(IdN(2).raw());
  ASSERT_NE(entry, std::string::npos);
  const size_t flag = entry + 16 + 1;
  ASSERT_EQ(body[flag], 0);
  std::string bad = body;
  bad[flag] = 1;
  ExpectRejected(bad, "a tombstone with a payload");
  bad[flag] = 2;
  ExpectRejected(bad, "deleted flag 2");
}

TEST(ChangesPageTest, CountBeyondTheBodyRejectedBeforeAllocating) {
  std::string body = "SSP1";
  body += '\x03';
  PutVarint(5, body);
  body += '\0';
  PutVarint(1, body);
  body += 'c';
  PutVarint(2, body);
  body += "id";
  PutVarint(0, body);
  body += std::string(8, '\0');
  PutVarint(0, body);
  PutVarint(uint64_t{1} << 60, body);
  ExpectRejected(body, "a huge entry count");
}

TEST(ChangesPageTest, JsonShape) {
  std::string out;
  EncodeChangesPageJson(SamplePage(), out);
  rapidjson::Document doc;
  doc.Parse(out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << out;
  EXPECT_STREQ(doc["collection"].GetString(), "todo");
  EXPECT_STREQ(doc["id_key"].GetString(), "id");
  EXPECT_TRUE(doc["more"].GetBool());
  EXPECT_EQ(doc["last"].GetUint64(), 18u);
  EXPECT_EQ(doc["seq"].GetUint64(), 20u);
  EXPECT_EQ(doc["count"].GetUint64(), 1234u);
  EXPECT_STREQ(doc["fingerprint"].GetString(), "89abcdef01234567");
  const auto& changes = doc["changes"];
  ASSERT_EQ(changes.Size(), 2u);
  EXPECT_EQ(changes[0]["id"].GetString(), IdN(2).ToString());
  EXPECT_STREQ(changes[0]["title"].GetString(), "milk");
  EXPECT_STREQ(changes[0]["last_update"].GetString(),
               "2013-05-01 15:42:50.000");
  EXPECT_EQ(changes[0]["_seq"].GetUint64(), 17u);
  EXPECT_STREQ(changes[0]["_version"].GetString(), "v1");
  EXPECT_FALSE(changes[0].HasMember("_deleted"));
  EXPECT_EQ(changes[1]["_seq"].GetUint64(), 18u);
  EXPECT_TRUE(changes[1]["_deleted"].GetBool());
  EXPECT_FALSE(changes[1].HasMember("_version"));
  EXPECT_EQ(changes[1].MemberCount(), 4u);  // id, last_update, _seq, _deleted
}

}  // namespace
}  // namespace syncstack
