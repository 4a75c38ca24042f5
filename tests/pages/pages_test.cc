// The page encodings of pages.h: binary manifest and records pages, the
// collection list, and the JSON pages (which must stay fetch.json's shape).
// The random tests print their seed; try others with SYNCSTACK_SEED=<n>.
#include "syncstack/pages.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "codec/test_util.h"
#include "syncstack/codec.h"
#include "syncstack/reconcile/reconcile.h"
#include "syncstack/record.h"

namespace syncstack {
namespace {

using ::syncstack::testing::IsInvalid;

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("SYNCSTACK_SEED");
    uint64_t s = env != nullptr ? std::strtoull(env, nullptr, 10) : 20240611;
    std::printf("pages_test: SYNCSTACK_SEED=%llu\n",
                static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

// Ids 00000000-0000-0000-0000-0000000000nn style: ascending in n.
RecordId IdN(uint64_t n) {
  std::array<uint8_t, 16> b{};
  for (int i = 0; i < 8; ++i) b[15 - i] = static_cast<uint8_t>(n >> (8 * i));
  b[0] = 0x10;  // not the zero id
  return RecordId(b);
}

std::string BinaryBytes() {
  std::string v;
  for (int i = 0; i < 256; ++i) v += static_cast<char>(i);
  return v;
}

ManifestPage SampleManifest(size_t n) {
  ManifestPage page;
  page.collection = "budget";
  page.id_key = "bid";
  page.seq = 1234567;
  page.more = true;
  for (size_t i = 0; i < n; ++i) {
    Stamp s;
    s.id = IdN(i * 3 + 1);
    s.last_update = 1'700'000'000'000 + static_cast<int64_t>(i);
    if (i % 3 == 1) s.version = "v" + std::to_string(i);
    page.entries.push_back(s);
  }
  return page;
}

RecordsPage SampleRecords(size_t n) {
  RecordsPage page;
  page.collection = "todo";
  page.id_key = "id";
  page.seq = 42;
  page.more = false;
  for (size_t i = 0; i < n; ++i) {
    WireRecord r;
    r.id = IdN(i * 5 + 2);
    r.last_update = 1'700'000'000'000 + static_cast<int64_t>(i) * 1000;
    r.payload = "{\"n\":" + std::to_string(i) + ",\"t\":\"x\"}";
    if (i % 4 == 3) r.version = "ver-" + std::to_string(i);
    page.records.push_back(r);
  }
  return page;
}

// The format of pages.h, written out independently of pages.cc.
void Varint(uint64_t v, std::string& out) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
std::string Header(uint8_t kind, uint64_t seq, uint8_t more,
                   std::string_view collection, std::string_view id_key,
                   uint64_t count) {
  std::string out = "SSP1";
  out += static_cast<char>(kind);
  Varint(seq, out);
  out += static_cast<char>(more);
  Varint(collection.size(), out);
  out += collection;
  Varint(id_key.size(), out);
  out += id_key;
  Varint(count, out);
  return out;
}
void Entry(const RecordId& id, int64_t ts, std::string_view version,
           std::string& out) {
  out += id.raw();
  Varint(ZigZag(ts), out);
  Varint(version.size(), out);
  out += version;
}

void ExpectSame(const ManifestPage& a, const ManifestPage& b) {
  EXPECT_EQ(a.collection, b.collection);
  EXPECT_EQ(a.id_key, b.id_key);
  EXPECT_EQ(a.more, b.more);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.entries, b.entries);
}

void ExpectSame(const RecordsPage& a, const RecordsPage& b) {
  EXPECT_EQ(a.collection, b.collection);
  EXPECT_EQ(a.id_key, b.id_key);
  EXPECT_EQ(a.more, b.more);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.records, b.records);
}

ManifestPage RoundTrip(const ManifestPage& page) {
  std::string bytes;
  EncodeManifestPageBinary(page, bytes);
  auto back = DecodeManifestPageBinary(bytes);
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  return back.ok() ? *back : ManifestPage{};
}

RecordsPage RoundTrip(const RecordsPage& page) {
  std::string bytes;
  EncodeRecordsPageBinary(page, bytes);
  auto back = DecodeRecordsPageBinary(bytes);
  EXPECT_TRUE(back.ok()) << back.status().ToString();
  return back.ok() ? *back : RecordsPage{};
}

// ---- binary round trips ----------------------------------------------

TEST(BinaryPages, EmptyPagesRoundTrip) {
  ManifestPage m;
  ExpectSame(RoundTrip(m), m);
  m.collection = "budget";
  m.id_key = "bid";
  m.more = true;
  m.seq = UINT64_MAX;
  ExpectSame(RoundTrip(m), m);

  RecordsPage r;
  ExpectSame(RoundTrip(r), r);
  r.collection = "c";
  r.id_key = "k";
  r.seq = 1;
  ExpectSame(RoundTrip(r), r);
}

TEST(BinaryPages, OneAndManyEntriesRoundTrip) {
  for (size_t n : {1u, 2u, 127u, 128u, 5000u}) {
    SCOPED_TRACE(n);
    ManifestPage m = SampleManifest(n);
    ExpectSame(RoundTrip(m), m);
    m.more = false;
    ExpectSame(RoundTrip(m), m);
    RecordsPage r = SampleRecords(n);
    ExpectSame(RoundTrip(r), r);
    r.more = true;
    ExpectSame(RoundTrip(r), r);
  }
}

TEST(BinaryPages, ExtremeTimestampsAndBinaryVersions) {
  const std::vector<int64_t> stamps = {
      kNoTimestamp, INT64_MAX, -1,  0, 1, -62135596800000 /* year 1 */,
      -86400000,    63,        -64, 64};
  ManifestPage m;
  m.collection = "c";
  m.id_key = "id";
  RecordsPage r;
  r.collection = "c";
  r.id_key = "id";
  for (size_t i = 0; i < stamps.size(); ++i) {
    std::string version = i % 2 == 0 ? BinaryBytes() : std::string("\0\xff", 2);
    m.entries.push_back(Stamp{IdN(i + 1), stamps[i], version});
    r.records.push_back(
        WireRecord{IdN(i + 1), stamps[i], std::string("{}"), version});
  }
  ExpectSame(RoundTrip(m), m);
  ExpectSame(RoundTrip(r), r);
}

TEST(BinaryPages, LargePayloadsRoundTrip) {
  RecordsPage r;
  r.collection = "blobs";
  r.id_key = "id";
  r.seq = 99;
  r.more = true;
  std::string big = "{\"b\":\"" + std::string(3u << 20, 'x') + "\"}";
  std::string binary;
  for (int i = 0; i < 4096; ++i) binary += BinaryBytes();  // 1 MiB
  r.records.push_back(WireRecord{IdN(1), 5, big, {}});
  r.records.push_back(WireRecord{IdN(2), 6, binary, std::string(70000, 'v')});
  r.records.push_back(WireRecord{IdN(3), 7, "", {}});
  ExpectSame(RoundTrip(r), r);
}

TEST(BinaryPages, MatchesTheDocumentedLayout) {
  ManifestPage m;
  m.collection = "budget";
  m.id_key = "bid";
  m.seq = 300;  // two varint bytes
  m.more = true;
  m.entries.push_back(Stamp{IdN(1), -3, ""});
  m.entries.push_back(Stamp{IdN(2), 1'700'000'000'000, "v2"});
  std::string want = Header(1, 300, 1, "budget", "bid", 2);
  Entry(IdN(1), -3, "", want);
  Entry(IdN(2), 1'700'000'000'000, "v2", want);
  std::string got;
  EncodeManifestPageBinary(m, got);
  EXPECT_EQ(got, want);

  RecordsPage r;
  r.collection = "todo";
  r.id_key = "id";
  r.seq = 0;
  r.records.push_back(WireRecord{IdN(7), kNoTimestamp, "{\"a\":1}", "x"});
  want = Header(2, 0, 0, "todo", "id", 1);
  Entry(IdN(7), kNoTimestamp, "x", want);
  Varint(7, want);
  want += "{\"a\":1}";
  EncodeRecordsPageBinary(r, got);
  EXPECT_EQ(got, want);
  // kNoTimestamp (INT64_MIN) zigzags to 2^64 - 1: a ten-byte varint.
  std::string ts;
  Varint(ZigZag(kNoTimestamp), ts);
  EXPECT_EQ(ts.size(), 10u);
}

// ---- malformed binary pages ------------------------------------------

TEST(BinaryPages, EveryTruncationIsRejected) {
  for (size_t n : {0u, 1u, 3u}) {
    SCOPED_TRACE(n);
    std::string manifest, records;
    EncodeManifestPageBinary(SampleManifest(n), manifest);
    EncodeRecordsPageBinary(SampleRecords(n), records);
    for (size_t len = 0; len < manifest.size(); ++len) {
      auto page = DecodeManifestPageBinary(manifest.substr(0, len));
      ASSERT_FALSE(page.ok()) << "prefix " << len;
      EXPECT_TRUE(IsInvalid(page.status(), "page: ")) << "prefix " << len;
    }
    for (size_t len = 0; len < records.size(); ++len) {
      auto page = DecodeRecordsPageBinary(records.substr(0, len));
      ASSERT_FALSE(page.ok()) << "prefix " << len;
      EXPECT_TRUE(IsInvalid(page.status(), "page: ")) << "prefix " << len;
    }
  }
}

TEST(BinaryPages, BadMagicAndWrongKind) {
  std::string manifest, records;
  EncodeManifestPageBinary(SampleManifest(2), manifest);
  EncodeRecordsPageBinary(SampleRecords(2), records);
  for (std::string bad : {manifest, records}) {
    bad[3] = '2';  // "SSP2"
    EXPECT_TRUE(IsInvalid(DecodeManifestPageBinary(bad).status(), "bad magic"));
    EXPECT_TRUE(IsInvalid(DecodeRecordsPageBinary(bad).status(), "bad magic"));
  }
  EXPECT_TRUE(IsInvalid(DecodeManifestPageBinary("{\"budget\":[]}").status(),
                        "bad magic"));
  EXPECT_TRUE(IsInvalid(DecodeManifestPageBinary(records).status(),
                        "not a manifest page"));
  EXPECT_TRUE(IsInvalid(DecodeRecordsPageBinary(manifest).status(),
                        "not a records page"));
  for (uint8_t kind : {0, 3, 0xff}) {
    std::string bad = Header(kind, 0, 0, "c", "id", 0);
    EXPECT_TRUE(
        IsInvalid(DecodeManifestPageBinary(bad).status(), "not a manifest"));
    EXPECT_TRUE(
        IsInvalid(DecodeRecordsPageBinary(bad).status(), "not a records"));
  }
}

TEST(BinaryPages, IdsOutOfOrderOrDuplicated) {
  for (auto [a, b] : {std::pair{2, 1}, std::pair{5, 5}}) {
    std::string m = Header(1, 0, 0, "c", "id", 3);
    Entry(IdN(1), 1, "", m);
    Entry(IdN(a + 1), 1, "", m);
    Entry(IdN(b + 1), 1, "", m);
    EXPECT_TRUE(IsInvalid(DecodeManifestPageBinary(m).status(),
                          "ids out of order at " + IdN(b + 1).ToString()));
    std::string r = Header(2, 0, 0, "c", "id", 2);
    Entry(IdN(a), 1, "", r);
    Varint(2, r);
    r += "{}";
    Entry(IdN(b), 1, "", r);
    Varint(2, r);
    r += "{}";
    EXPECT_TRUE(
        IsInvalid(DecodeRecordsPageBinary(r).status(), "ids out of order"));
  }
  // The encoder does not check; the decoder does.
  ManifestPage m = SampleManifest(3);
  std::swap(m.entries[0], m.entries[2]);
  std::string bytes;
  EncodeManifestPageBinary(m, bytes);
  EXPECT_TRUE(
      IsInvalid(DecodeManifestPageBinary(bytes).status(), "out of order"));
}

TEST(BinaryPages, CountBeyondTheBody) {
  for (uint64_t count :
       std::vector<uint64_t>{2, 1000, 1ull << 40, UINT64_MAX}) {
    SCOPED_TRACE(count);
    std::string m = Header(1, 0, 0, "c", "id", count);
    Entry(IdN(1), 1, "", m);
    EXPECT_TRUE(IsInvalid(DecodeManifestPageBinary(m).status(), "page: "));
    std::string r = Header(2, 0, 0, "c", "id", count);
    Entry(IdN(1), 1, "", r);
    Varint(2, r);
    r += "{}";
    EXPECT_TRUE(IsInvalid(DecodeRecordsPageBinary(r).status(), "page: "));
  }
  // Far beyond: refused before anything is allocated for the entries.
  EXPECT_TRUE(IsInvalid(
      DecodeManifestPageBinary(Header(1, 0, 0, "c", "id", 1ull << 40)).status(),
      "is beyond the body"));
  // A length prefix beyond the body.
  std::string bad = "SSP1";
  bad += '\1';
  Varint(0, bad);
  bad += '\0';
  Varint(1000, bad);
  bad += "budget";
  EXPECT_TRUE(
      IsInvalid(DecodeManifestPageBinary(bad).status(), "truncated header"));
  // A version length beyond the body.
  std::string m = Header(1, 0, 0, "c", "id", 1);
  m += IdN(1).raw();
  Varint(2, m);
  Varint(500, m);
  m += std::string(20, 'v');
  EXPECT_TRUE(
      IsInvalid(DecodeManifestPageBinary(m).status(), "truncated entry"));
  // A payload length beyond the body.
  std::string r = Header(2, 0, 0, "c", "id", 1);
  Entry(IdN(1), 1, "", r);
  Varint(100, r);
  r += "{}";
  EXPECT_TRUE(
      IsInvalid(DecodeRecordsPageBinary(r).status(), "truncated record"));
}

TEST(BinaryPages, TrailingBytesAndBadMoreFlag) {
  std::string m, r;
  EncodeManifestPageBinary(SampleManifest(2), m);
  EncodeRecordsPageBinary(SampleRecords(2), r);
  EXPECT_TRUE(IsInvalid(DecodeManifestPageBinary(m + "x").status(),
                        "bytes after the last entry"));
  EXPECT_TRUE(
      IsInvalid(DecodeRecordsPageBinary(r + std::string(1, '\0')).status(),
                "bytes after the last record"));
  EXPECT_TRUE(IsInvalid(
      DecodeManifestPageBinary(Header(1, 0, 0, "c", "id", 0) + "zz").status(),
      "bytes after"));
  for (uint8_t more : {2, 0x80, 0xff}) {
    EXPECT_TRUE(IsInvalid(
        DecodeManifestPageBinary(Header(1, 7, more, "c", "id", 0)).status(),
        "bad \"more\" flag"));
    EXPECT_TRUE(IsInvalid(
        DecodeRecordsPageBinary(Header(2, 300, more, "c", "id", 0)).status(),
        "bad \"more\" flag"));
  }
  // A varint that never ends.
  std::string endless = "SSP1";
  endless += '\1';
  endless += std::string(11, '\xff');
  EXPECT_TRUE(IsInvalid(DecodeManifestPageBinary(endless).status(), "page: "));
}

// Decoding never crashes; a failure is kInvalidArgument; what decodes
// re-encodes to something that decodes to the same page.
template <class Page>
void CheckArbitrary(std::string_view bytes,
                    Result<Page> (*decode)(std::string_view),
                    void (*encode)(const Page&, std::string&),
                    size_t& accepted) {
  auto page = decode(bytes);
  if (!page.ok()) {
    ASSERT_EQ(page.status().code(), Status::Code::kInvalidArgument)
        << page.status().ToString();
    ASSERT_FALSE(page.status().message().empty());
    return;
  }
  ++accepted;
  std::string again;
  encode(*page, again);
  auto back = decode(again);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ExpectSame(*back, *page);
}

TEST(BinaryPages, RandomBytesAndMutationsNeverCrash) {
  std::mt19937_64 rng(TestSeed());
  std::string manifest, records;
  EncodeManifestPageBinary(SampleManifest(6), manifest);
  EncodeRecordsPageBinary(SampleRecords(6), records);
  size_t accepted = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    SCOPED_TRACE("seed " + std::to_string(TestSeed()) + " iter " +
                 std::to_string(iter));
    std::string bytes;
    switch (iter % 4) {
      case 0: {  // noise, sometimes behind a valid magic and kind
        size_t len = rng() % 80;
        if (rng() % 2)
          bytes = std::string("SSP1") + static_cast<char>(rng() % 3);
        for (size_t i = 0; i < len; ++i) bytes += static_cast<char>(rng());
        break;
      }
      case 1:
      case 2: {  // a valid page with a few bytes changed
        bytes = rng() % 2 ? manifest : records;
        int flips = 1 + static_cast<int>(rng() % 4);
        for (int f = 0; f < flips; ++f) {
          bytes[rng() % bytes.size()] = static_cast<char>(rng());
        }
        break;
      }
      case 3: {  // a valid page cut and spliced
        bytes = rng() % 2 ? manifest : records;
        size_t cut = rng() % bytes.size();
        bytes = bytes.substr(0, cut) + bytes.substr(rng() % bytes.size());
        break;
      }
    }
    CheckArbitrary<ManifestPage>(bytes, &DecodeManifestPageBinary,
                                 &EncodeManifestPageBinary, accepted);
    CheckArbitrary<RecordsPage>(bytes, &DecodeRecordsPageBinary,
                                &EncodeRecordsPageBinary, accepted);
    if (HasFatalFailure()) return;
  }
  std::printf("pages_test: %zu of 40000 random decodes accepted\n", accepted);
}

// ---- the collection list ---------------------------------------------

TEST(CollectionList, RoundTrip) {
  CollectionList list;
  auto empty = DecodeCollectionList([&] {
    std::string out;
    EncodeCollectionList(list, out);
    EXPECT_EQ(out, "{\"collections\":[],\"seq\":0}");
    return out;
  }());
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->collections.empty());
  EXPECT_EQ(empty->seq, 0u);

  list.collections = {{"budget", "bid"},
                      {"gift_list", "id"},
                      {"invitations", "iid"},
                      {"q\"uote\\d", "k\u00fc"}};
  list.seq = UINT64_MAX;
  std::string out;
  EncodeCollectionList(list, out);
  auto back = DecodeCollectionList(out);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->collections.size(), list.collections.size());
  for (size_t i = 0; i < list.collections.size(); ++i) {
    EXPECT_EQ(back->collections[i].name, list.collections[i].name);
    EXPECT_EQ(back->collections[i].id_key, list.collections[i].id_key);
  }
  EXPECT_EQ(back->seq, UINT64_MAX);

  // Whitespace and member order are free.
  auto spaced = DecodeCollectionList(
      " { \"seq\" : 7 , \"collections\" : [ { \"id_key\" : \"bid\" , "
      "\"name\" : \"budget\" } ] } ");
  ASSERT_TRUE(spaced.ok()) << spaced.status().ToString();
  ASSERT_EQ(spaced->collections.size(), 1u);
  EXPECT_EQ(spaced->collections[0].name, "budget");
  EXPECT_EQ(spaced->collections[0].id_key, "bid");
  EXPECT_EQ(spaced->seq, 7u);
}

TEST(CollectionList, BadListsAreRejected) {
  struct Case {
    const char* body;
    const char* part;
  };
  const Case cases[] = {
      {"", ""},
      {"{", ""},
      {"[]", "collection list"},
      {"{\"collections\":[],\"seq\":0,\"extra\":1}", "unknown key \"extra\""},
      {"{\"colections\":[]}", "unknown key"},
      {"{\"collections\":[],\"seq\":-1}", "\"seq\" must be a whole number"},
      {"{\"collections\":[],\"seq\":1.5}", "\"seq\" must be a whole number"},
      {"{\"collections\":[],\"seq\":1e3}", "\"seq\" must be a whole number"},
      {"{\"collections\":[],\"seq\":\"7\"}", "\"seq\" must be a whole number"},
      {"{\"collections\":[],\"seq\":null}", "\"seq\" must be a whole number"},
      {"{\"collections\":[],\"seq\":[1]}", "\"seq\": not a number"},
      {"{\"collections\":[],\"seq\":{}}", "\"seq\": not a number"},
      {"{\"collections\":\"budget\"}", "\"collections\": not a list"},
      {"{\"collections\":7}", "\"collections\": not a list"},
      {"{\"collections\":[[\"budget\"]]}", "entries must be objects"},
      {"{\"collections\":[{\"name\":\"a\",\"id_key\":1}]}",
       "entries must be objects of strings"},
      {"{\"collections\":[{\"name\":{\"x\":1}}]}", "collection list"},
      {"{\"collections\":[{\"id_key\":\"bid\"}]}", "an entry has no \"name\""},
      {"{\"collections\":[{}]}", "an entry has no \"name\""},
      {"{\"collections\":[{\"name\":\"\"}]}", "an entry has no \"name\""},
      {"{\"collections\":[{\"name\":\"a\"}],\"seq\":1} x", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.body);
    auto list = DecodeCollectionList(c.body);
    ASSERT_FALSE(list.ok());
    EXPECT_TRUE(IsInvalid(list.status(), c.part));
  }
}

// Entries that are strings (or any scalar) rather than objects must be
// rejected, wherever they stand in the list and whatever the "collections"
// value's container is. DISABLED: pages.cc's ListReader accepts every
// scalar at depth 2 (so ["budget"] and {"budget":"bid"} decode as empty
// lists) and, at depth 3, assigns a bare string after an entry object to
// that entry's last member ([{"name":"a"},"b"] decodes as name "b").
TEST(CollectionList, ScalarEntriesAndObjectListsAreRejected) {
  for (const char* body : {
           "{\"collections\":[\"budget\"]}",
           "{\"collections\":[1,2]}",
           "{\"collections\":[7]}",
           "{\"collections\":[null]}",
           "{\"collections\":{}}",
           "{\"collections\":{\"budget\":\"bid\"}}",
           "{\"collections\":[{\"name\":\"a\"},\"b\"]}",
       }) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(DecodeCollectionList(body).ok());
  }
}

// ---- JSON pages ------------------------------------------------------

TEST(JsonPages, ManifestPageIsFetchJsonForOneCollection) {
  for (size_t n : {0u, 1u, 2500u}) {
    SCOPED_TRACE(n);
    ManifestPage page = SampleManifest(n);
    std::string json;
    EncodeManifestPageJson(page, json);
    auto manifest = DecodeManifest(json);
    ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
    ASSERT_EQ(manifest->collections.size(), 1u);
    const auto& c = manifest->collections[0];
    EXPECT_EQ(c.name, "budget");
    if (n > 0) {
      EXPECT_EQ(c.id_key, "bid");
    }
    EXPECT_EQ(c.entries, page.entries);
    // `more` and `seq` are binary-only.
    EXPECT_EQ(json.find("\"more\""), std::string::npos);
    EXPECT_EQ(json.find("\"seq\""), std::string::npos);
  }
}

TEST(JsonPages, ManifestPageWithoutVersionsIsPlainFetchJson) {
  ManifestPage page;
  page.collection = "todo";
  page.id_key = "id";
  page.entries.push_back(Stamp{IdN(1), 1'367'423'370'000, ""});
  std::string json;
  EncodeManifestPageJson(page, json);
  EXPECT_EQ(json,
            "{\"todo\":[{\"id\":\"10000000-0000-0000-0000-000000000001\","
            "\"last_update\":\"2013-05-01 15:49:30.000\"}]}");
}

// Parses a records page and checks it against `page`: one member named
// after the collection, an array of record objects holding the id key,
// last_update and the payload's members.
void CheckRecordsJson(const std::string& json, const RecordsPage& page) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  ASSERT_FALSE(doc.HasParseError()) << json;
  ASSERT_TRUE(doc.IsObject());
  ASSERT_EQ(doc.MemberCount(), 1u);
  ASSERT_TRUE(doc.HasMember(page.collection.c_str()));
  const auto& list = doc[page.collection.c_str()];
  ASSERT_TRUE(list.IsArray());
  ASSERT_EQ(list.Size(), page.records.size());
  for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
    const auto& obj = list[i];
    const WireRecord& want = page.records[i];
    ASSERT_TRUE(obj.IsObject());
    ASSERT_TRUE(obj.HasMember(page.id_key.c_str()));
    EXPECT_EQ(obj[page.id_key.c_str()].GetString(), want.id.ToString());
    size_t expected_members = 1;
    if (want.last_update != kNoTimestamp) {
      ASSERT_TRUE(obj.HasMember("last_update"));
      EXPECT_EQ(obj["last_update"].GetString(),
                FormatTimestamp(want.last_update));
      ++expected_members;
    } else {
      EXPECT_FALSE(obj.HasMember("last_update"));
    }
    rapidjson::Document payload;
    payload.Parse(want.payload.data(), want.payload.size());
    ASSERT_TRUE(payload.IsObject());
    for (const auto& m : payload.GetObject()) {
      ASSERT_TRUE(obj.HasMember(m.name)) << m.name.GetString();
      EXPECT_TRUE(obj[m.name] == m.value) << m.name.GetString();
      ++expected_members;
    }
    if (!want.version.empty()) {
      ASSERT_TRUE(obj.HasMember("_version"));
      EXPECT_EQ(obj["_version"].GetString(), want.version);
      ++expected_members;
    }
    EXPECT_EQ(obj.MemberCount(), expected_members) << json;
  }
}

TEST(JsonPages, RecordsPageIsAnObjectOfRecordObjects) {
  RecordsPage page;
  page.collection = "invitations";
  page.id_key = "iid";
  page.records.push_back(WireRecord{
      IdN(1), 1'367'423'370'000,
      "{\"name\":\"M\u00fcller \\\"jr\\\"\",\"n\":12345678901234567890,"
      "\"ok\":true,\"nil\":null,\"nested\":{\"a\":[1,2,{\"b\":[]}]}}",
      ""});
  page.records.push_back(WireRecord{IdN(2), 1'000, "{}", ""});
  page.records.push_back(WireRecord{IdN(3), kNoTimestamp, "{\"x\":1}", ""});
  std::string json;
  EncodeRecordsPageJson(page, json);
  CheckRecordsJson(json, page);

  RecordsPage empty;
  empty.collection = "todo";
  empty.id_key = "id";
  EncodeRecordsPageJson(empty, json);
  EXPECT_EQ(json, "{\"todo\":[]}");
}

TEST(JsonPages, RecordsPageOfManyRecords) {
  RecordsPage page = SampleRecords(2500);
  for (auto& r : page.records) r.version.clear();
  std::string json;
  EncodeRecordsPageJson(page, json);
  CheckRecordsJson(json, page);
}

// A record with a policy version must carry "_version" once. DISABLED:
// EncodeRecordsPageJson passes "_version" as an extra member while
// EncodeRecordObject already writes it for a non-empty version, so the
// object has the member twice.
TEST(JsonPages, RecordsPageVersionAppearsOnce) {
  RecordsPage page;
  page.collection = "todo";
  page.id_key = "id";
  page.records.push_back(WireRecord{IdN(1), 1'000, "{\"a\":1}", "v7"});
  std::string json;
  EncodeRecordsPageJson(page, json);
  size_t first = json.find("\"_version\"");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(json.find("\"_version\"", first + 1), std::string::npos) << json;
}

// The worked examples of docs/protocol.md ("Streamed manifests and
// reconciliation"), byte for byte, so the document stays true.
std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    if (!out.empty()) out += ' ';
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

TEST(DocumentedExamples, ManifestPage) {
  ManifestPage page;
  page.collection = "todo";
  page.id_key = "id";
  page.seq = 5;
  auto id = RecordId::Parse("00112233-4455-6677-8899-aabbccddeeff");
  ASSERT_TRUE(id.ok());
  auto ts = ParseTimestamp("2013-05-01 15:49:30.000");
  ASSERT_TRUE(ts.ok());
  EXPECT_EQ(*ts, 1'367'423'370'000);
  page.entries.push_back(Stamp{*id, *ts, ""});
  std::string bytes;
  EncodeManifestPageBinary(page, bytes);
  EXPECT_EQ(Hex(bytes),
            "53 53 50 31 01 05 00 04 74 6f 64 6f 02 69 64 01 00 11 22 33 44 "
            "55 66 77 88 99 aa bb cc dd ee ff a0 8c c6 8c cc 4f 00");
}

TEST(DocumentedExamples, ReconcileMessagesAndFingerprint) {
  auto a = RecordId::Parse("00112233-4455-6677-8899-aabbccddeeff");
  auto b = RecordId::Parse("7f000000-0000-0000-0000-000000000001");
  ASSERT_TRUE(a.ok() && b.ok());
  const Timestamp ts = 1'367'423'370'000;
  std::vector<ReconcileItem> items = {{*a, ts, 0}, {*b, ts + 1000, 0}};

  Fingerprint one;
  one.Add(items[0]);
  EXPECT_EQ(one.lo, 0x22da9f27c428424dULL);
  EXPECT_EQ(one.hi, 0xd189c0a9807ecd5dULL);
  auto source = NewSortedItemSource(items);
  Fingerprint fp = source->RangeFingerprint(IdRange{});
  EXPECT_EQ(fp.lo, 0xf9ef9ac5204fdb5cULL);
  EXPECT_EQ(fp.hi, 0x2fa39d1af7e43720ULL);
  EXPECT_EQ(fp.count, 2u);

  // Two items: the device lists them.
  ReconcileClient lister(*source);
  std::string items_message = lister.Initiate();
  EXPECT_EQ(Hex(items_message),
            "01 ff 02 02 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff a0 "
            "8c c6 8c cc 4f 00 7f 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
            "01 f0 9b c6 8c cc 4f 00");
  // A server holding the same items: an empty diff; the device is done.
  auto answer = ReconcileRespond(*source, items_message);
  ASSERT_TRUE(answer.ok()) << answer.status().ToString();
  EXPECT_EQ(Hex(*answer), "01 ff 03 00");
  auto next = lister.Process(*answer);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, "");

  // Over the list threshold: the device sends the fingerprint.
  ReconcileOptions options;
  options.list_threshold = 1;
  ReconcileClient fingerprinter(*source, options);
  std::string fp_message = fingerprinter.Initiate();
  EXPECT_EQ(Hex(fp_message),
            "01 ff 01 5c db 4f 20 c5 9a ef f9 20 37 e4 f7 1a 9d a3 2f 02");
  answer = ReconcileRespond(*source, fp_message);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(Hex(*answer), "01 ff 00");
  // A server lacking b: it lists its one item; the device works out that
  // b is missing on the server.
  auto server = NewSortedItemSource({items[0]});
  answer = ReconcileRespond(*server, fp_message);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(Hex(*answer),
            "01 ff 02 01 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff a0 "
            "8c c6 8c cc 4f 00");
  next = fingerprinter.Process(*answer);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, "");
  ASSERT_EQ(fingerprinter.differences().size(), 1u);
  EXPECT_EQ(fingerprinter.differences()[0].id, *b);
  EXPECT_FALSE(fingerprinter.differences()[0].theirs.has_value());
}

}  // namespace
}  // namespace syncstack
