// Every bad input the codec can see is kInvalidArgument (400 bad_request)
// with a message naming the offending part; nothing crashes or recurses.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/protocol.h"
#include "test_util.h"

namespace syncstack {
namespace {

using testing::IsInvalid;
using testing::ReadFixture;

constexpr char kId[] = "f426f326-1cfe-4669-9e74-3c063fba542a";

std::string WithId(std::string_view pattern) {
  std::string s(pattern);
  for (size_t pos; (pos = s.find("$ID")) != std::string::npos;) {
    s.replace(pos, 3, kId);
  }
  return s;
}

// WithId, then '#' becomes a NUL byte.
std::string WithNul(std::string_view pattern) {
  std::string s = WithId(pattern);
  for (char& c : s) {
    if (c == '#') c = '\0';
  }
  return s;
}

Schema StrictSchema() {
  auto schema = Schema::Parse(ReadFixture("seed_schema.json"));
  EXPECT_TRUE(schema.ok());
  return schema.ok() ? *schema : Schema();
}

struct BadCase {
  const char* name;
  std::string body;
  std::string want;  // a part of the message
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class BadSyncRequest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadSyncRequest, IsRejectedNamingThePart) {
  const BadCase& c = GetParam();
  auto result = DecodeSyncRequest(c.body, StrictSchema());
  EXPECT_TRUE(IsInvalid(result.status(), c.want)) << c.body;
  EXPECT_EQ(HttpStatusFor(result.status().code()), 400);
  EXPECT_EQ(ErrorCodeFor(result.status().code()), "bad_request");
}

std::string Deep(int levels, std::string_view open, std::string_view close) {
  std::string s;
  for (int i = 0; i < levels; ++i) s += open;
  for (int i = 0; i < levels; ++i) s += close;
  return s;
}

// A record in add.budget whose member "x" nests `levels` arrays.
std::string DeepRecord(int levels) {
  return WithId(R"({"add":{"budget":[{"bid":"$ID","x":)") +
         Deep(levels, "[", "]") + "}]}}";
}

const BadCase kBadRequests[] = {
    // Not JSON.
    {"Empty", "", "body: not valid JSON at offset 0: The document is empty."},
    {"Spaces", "  \n", "body: not valid JSON at offset 3"},
    {"Garbage", "hello", "body: not valid JSON at offset 0"},
    {"MissingValue", R"({"add": })", "body: not valid JSON at offset 8"},
    {"Truncated", WithId(R"({"add":{"budget":[{"bid":"$I)"),
     "body: not valid JSON at offset"},
    {"TruncatedAfterRecord", WithId(R"({"add":{"budget":[{"bid":"$ID"})"),
     "body: not valid JSON at offset"},
    {"TrailingGarbage", "{} x", "body: not valid JSON at offset 3"},
    {"TwoRoots", "{}{}", "body: not valid JSON at offset 2"},
    {"NulAfterRoot", std::string("{}\0", 3),
     "body: not valid JSON at offset 2"},
    {"TrailingComma", R"({"get":{"todo":[],}})",
     "body: not valid JSON at offset"},
    {"SingleQuotes", "{'get':{}}", "body: not valid JSON at offset 1"},
    {"Comment", "{/* c */}", "body: not valid JSON at offset 1"},
    {"BadLiteral", WithId(R"({"add":{"budget":[{"bid":"$ID","x":tru}]}})"),
     "body: not valid JSON"},
    {"LeadingZero", WithId(R"({"add":{"budget":[{"bid":"$ID","x":01}]}})"),
     "body: not valid JSON"},
    {"BareMinus", WithId(R"({"add":{"budget":[{"bid":"$ID","x":-}]}})"),
     "body: not valid JSON"},
    {"MissingFraction", WithId(R"({"add":{"budget":[{"bid":"$ID","x":1.}]}})"),
     "body: not valid JSON"},
    {"MissingExponent", WithId(R"({"add":{"budget":[{"bid":"$ID","x":1e}]}})"),
     "body: not valid JSON"},
    {"PlusSign", WithId(R"({"add":{"budget":[{"bid":"$ID","x":+1}]}})"),
     "body: not valid JSON"},
    {"NaN", WithId(R"({"add":{"budget":[{"bid":"$ID","x":NaN}]}})"),
     "body: not valid JSON"},
    // RapidJSON's limit (RFC 8259 section 9 allows one): magnitudes beyond
    // the double range are rejected. Smaller ones are kept verbatim.
    {"NumberBeyondDouble",
     WithId(R"({"add":{"budget":[{"bid":"$ID","x":1e309}]}})"),
     "body: not valid JSON at offset 68: Number too big to be stored in "
     "double."},
    {"BadEscape", WithId(R"({"add":{"budget":[{"bid":"$ID","x":"\x"}]}})"),
     "body: not valid JSON"},
    {"LoneSurrogate",
     WithId(R"({"add":{"budget":[{"bid":"$ID","x":"\ud83d"}]}})"),
     "body: not valid JSON"},
    {"RawControlChar",
     WithId("{\"add\":{\"budget\":[{\"bid\":\"$ID\",\"x\":\"a\tb\"}]}}"),
     "body: not valid JSON"},
    {"InvalidUtf8",
     WithId("{\"add\":{\"budget\":[{\"bid\":\"$ID\",\"x\":\"\xC3\x28\"}]}}"),
     "body: not valid JSON"},
    {"InvalidUtf8InKey", "{\"g\xFF\":{}}", "body: not valid JSON"},
    {"NulInString", WithNul(R"({"add":{"budget":[{"bid":"$ID","x":"a#"}]}})"),
     "body: not valid JSON"},
    {"NulBetweenTokens", WithNul(R"({"add":{"budget":[#]}})"),
     "body: not valid JSON"},

    // Wrong shape at each level.
    {"TopArray", "[]", "body: expected an object, not an array"},
    {"TopString", R"("add")", "body: expected an object, not a string"},
    {"TopNull", "null", "body: expected an object, not null"},
    {"DeepTopArray", Deep(100000, "[", "]"),
     "body: expected an object, not an array"},
    {"UnknownTopKey", R"({"add":{},"put":{}})",
     "body: unknown key \"put\" (want add, update, delete or get)"},
    {"DuplicateTopKey", R"({"get":{},"get":{}})",
     "body: duplicate key \"get\""},
    {"SectionArray", R"({"get":[]})", "get: expected an object, not an array"},
    {"SectionNumber", R"({"delete":1})",
     "delete: expected an object, not a number"},
    {"SectionNull", R"({"add":null})", "add: expected an object, not null"},
    {"CollectionString", R"({"add":{"budget":"x"}})",
     "add.budget: expected an array, not a string"},
    {"CollectionNonEmptyObject", R"({"update":{"todo":{"a":1}}})",
     "update.todo: expected an array (an object here must be empty)"},
    {"RecordNumber", R"({"add":{"budget":[5]}})",
     "add.budget[0]: expected a record object, not a number"},
    {"RecordArray", WithId(R"({"add":{"budget":[{"bid":"$ID"},[]]}})"),
     "add.budget[1]: expected a record object, not an array"},
    {"RecordString", R"({"update":{"todo":["x"]}})",
     "update.todo[0]: expected a record object, not a string"},
    {"RecordWithoutIdKey",
     WithId(R"({"add":{"budget":[{"bid":"$ID"},{"bid":"$ID"},{"id":"$ID"}]}})"),
     "add.budget[2]: record has no \"bid\" key"},
    {"EmptyRecord", R"({"add":{"todo":[{}]}})",
     "add.todo[0]: record has no \"id\" key"},
    {"IdNotString", R"({"add":{"budget":[{"bid":42}]}})",
     "add.budget[0].bid: expected a UUID string, not a number"},
    {"IdObject", R"({"add":{"budget":[{"bid":{"a":1}}]}})",
     "add.budget[0].bid: expected a UUID string, not an object"},
    {"IdNull", R"({"add":{"budget":[{"bid":null}]}})",
     "add.budget[0].bid: expected a UUID string, not null"},
    {"IdNotUuid", R"({"add":{"budget":[{"bid":"xyz"}]}})",
     "add.budget[0].bid: not a UUID"},
    {"IdBadHex",
     R"({"add":{"budget":[{"bid":"g426f326-1cfe-4669-9e74-3c063fba542a"}]}})",
     "add.budget[0].bid: not a UUID"},
    {"IdNoDashes",
     R"({"add":{"budget":[{"bid":"f426f3261cfe46699e743c063fba542a"}]}})",
     "add.budget[0].bid: not a UUID"},
    {"IdBraces",
     R"({"add":{"budget":[{"bid":"{f426f326-1cfe-4669-9e74-3c063fba542}"}]}})",
     "add.budget[0].bid: not a UUID"},
    {"DuplicateId", WithId(R"({"add":{"budget":[{"bid":"$ID","bid":"$ID"}]}})"),
     "add.budget[0]: duplicate \"bid\" key"},
    {"LastUpdateNumber",
     WithId(R"({"add":{"budget":[{"bid":"$ID","last_update":1367422970}]}})"),
     "add.budget[0].last_update: expected a timestamp string, not a number"},
    {"LastUpdateBad",
     WithId(
         R"({"add":{"budget":[{"bid":"$ID","last_update":"2013-02-30 00:00:00"}]}})"),
     "add.budget[0].last_update: bad timestamp \"2013-02-30 00:00:00\""},
    {"LastUpdateDuplicate",
     WithId(
         R"({"add":{"budget":[{"bid":"$ID","last_update":"2013-05-01 15:42:50","last_update":"2013-05-01 15:42:50"}]}})"),
     "add.budget[0]: duplicate \"last_update\" key"},
    {"DeleteNotUuid", R"({"delete":{"todo":["xyz"]}})",
     "delete.todo[0]: not a UUID"},
    {"DeleteSecondNotUuid", WithId(R"({"delete":{"todo":["$ID","$ID "]}})"),
     "delete.todo[1]: not a UUID"},
    {"DeleteObject", WithId(R"({"delete":{"todo":["$ID",{"id":"$ID"}]}})"),
     "delete.todo[1]: expected a UUID string, not an object"},
    {"GetNumber", R"({"get":{"budget":[1]}})",
     "get.budget[0]: expected a UUID string, not a number"},
    {"GetNotArray", R"({"get":{"budget":true}})",
     "get.budget: expected an array, not a boolean"},

    // Collections.
    {"UnknownCollection", R"({"add":{"gifts":[]}})",
     "add: unknown collection \"gifts\""},
    {"UnknownCollectionInGet", R"({"add":{},"get":{"gifts":{}}})",
     "get: unknown collection \"gifts\""},
    {"BadCollectionName", R"({"delete":{"1abc":[]}})",
     "delete: bad collection name \"1abc\""},
    {"EmptyCollectionName", R"({"delete":{"":[]}})",
     "delete: bad collection name \"\""},
    {"DottedCollectionName", R"({"delete":{"a.b":[]}})",
     "delete: bad collection name \"a.b\""},
    {"DuplicateCollection", R"({"get":{"todo":[],"todo":[]}})",
     "get.todo: duplicate collection"},

    // Depth: a record sits inside 3 containers, so its member may nest 124
    // more before the 128th level is exceeded.
    {"TooDeep", DeepRecord(125), "add.budget[0]: nesting deeper than 128"},
    {"WayTooDeep", DeepRecord(100000),
     "add.budget[0]: nesting deeper than 128"},
    {"WayTooDeepObjects",
     WithId(R"({"add":{"budget":[{"bid":"$ID","x":)") +
         Deep(100000, R"({"a":)", "}") + "}]}}",
     "add.budget[0]: nesting deeper than 128"},
    {"WayTooDeepUnterminated", DeepRecord(100000).substr(0, 50100),
     "add.budget[0]: nesting deeper than 128"},
};

INSTANTIATE_TEST_SUITE_P(Codec, BadSyncRequest,
                         ::testing::ValuesIn(kBadRequests),
                         [](const auto& test) { return test.param.name; });

TEST(Depth, ExactlyAtTheLimitIsAccepted) {
  auto ok = DecodeSyncRequest(DeepRecord(124), StrictSchema());
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->add[0].records[0].payload,
            "{\"x\":" + Deep(124, "[", "]") + "}");
  auto low = DecodeSyncRequest(DeepRecord(2), StrictSchema(), CodecLimits{5});
  EXPECT_TRUE(IsInvalid(low.status(), "add.budget[0]: nesting deeper than 5"));
  auto top = DecodeSyncRequest(R"({"get":{}})", StrictSchema(), CodecLimits{1});
  EXPECT_TRUE(IsInvalid(top.status(), "get: nesting deeper than 1"));
}

// Every strict prefix of a valid body is an error, never a crash.
TEST(Truncation, EveryPrefixOfTheSeedIsRejected) {
  Schema schema;
  schema.Set("budget", "bid");
  const std::string body = ReadFixture("seed_synchronise.json");
  ASSERT_TRUE(DecodeSyncRequest(body, schema).ok());
  const size_t end = body.find_last_of('}');
  for (size_t n = 0; n < end; ++n) {
    auto r = DecodeSyncRequest(std::string_view(body).substr(0, n), schema);
    ASSERT_FALSE(r.ok()) << "prefix of " << n << " bytes accepted";
    EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  }
}

// --- responses ---

TEST(BadSyncResponse, NamesThePart) {
  const Schema schema = StrictSchema();
  const std::pair<std::string, std::string> cases[] = {
      {"[]", "body: expected an object, not an array"},
      {R"({"get":[]})", "get: expected an object, not an array"},
      {R"({"get":{"budget":[{"id":"x"}]}})",
       "get.budget[0]: record has no \"bid\" key"},
      {R"({"stamps":{"todo":[{"id":"$ID"}]}})",
       "stamps.todo[0]: entry has no \"last_update\" key"},
      {R"({"stamps":{"todo":[{"last_update":"2013-05-01 15:42:50"}]}})",
       "stamps.todo[0]: entry has no \"id\" key"},
      {R"({"stamps":{"todo":[{"id":"$ID","last_update":"2013-05-01 15:42:50","x":1}]}})",
       "stamps.todo[0]: unexpected member \"x\""},
      {R"({"stamps":{"todo":["$ID"]}})",
       "stamps.todo[0]: expected an object, not a string"},
      {R"({"conflicts":{"todo":[{"id":"$ID","kept":"mine"}]}})",
       "conflicts.todo[0].kept: expected \"server\", \"client\" or \"merged\", "
       "not \"mine\""},
      {R"({"conflicts":{"todo":[{"id":"$ID"}]}})",
       "conflicts.todo[0]: entry has no \"kept\" key"},
      {R"({"conflicts":{"todo":[{"id":"$ID","kept":"server","last_update":"2013-05-01 15:42:50"}]}})",
       "conflicts.todo[0]: unexpected member \"last_update\""},
      {R"({"conflicts":{"gifts":[]}})",
       "conflicts: unknown collection \"gifts\""},
      {R"({"extra":[1,}})", "body: not valid JSON"},
  };
  for (const auto& [body, want] : cases) {
    EXPECT_TRUE(
        IsInvalid(DecodeSyncResponse(WithId(body), schema).status(), want))
        << body;
  }
}

// --- manifests ---

TEST(BadManifest, NamesThePart) {
  const std::pair<std::string, std::string> cases[] = {
      {"", "body: not valid JSON at offset 0"},
      {"[]", "body: expected an object, not an array"},
      {R"({"1x":[]})", "body: bad collection name \"1x\""},
      {R"({"a":[],"a":[]})", "a: duplicate collection"},
      {R"({"a":5})", "a: expected an array, not a number"},
      {R"({"a":{"x":1}})",
       "a: expected an array (an object here must be empty)"},
      {R"({"a":[1]})", "a[0]: expected an object, not a number"},
      {R"({"a":[{"id":"$ID","last_update":"2013-05-01 15:42:50"},{"bid":"$ID","last_update":"2013-05-01 15:42:50"}]})",
       "a[1]: id key \"bid\" differs from \"id\" of the entries before"},
      {R"({"a":[{"id":"$ID","last_update":"2013-05-01 15:42:50","x":"y"}]})",
       "a[0]: unexpected member \"x\""},
      {R"({"a":[{"id":"$ID"}]})", "a[0]: entry has no \"last_update\" key"},
      {R"({"a":[{"last_update":"2013-05-01 15:42:50"}]})",
       "a[0]: entry has no id key"},
      {R"({"a":[{"id":"nope","last_update":"2013-05-01 15:42:50"}]})",
       "a[0].id: not a UUID"},
      {R"({"a":[{"id":"$ID","last_update":"2013-05-01 24:00:00"}]})",
       "a[0].last_update: bad timestamp"},
      {R"({"a":[{"id":"$ID","last_update":null}]})",
       "a[0].last_update: expected a timestamp string, not null"},
      {R"({"a":[{"id":"$ID","id":"$ID","last_update":"2013-05-01 15:42:50"}]})",
       "a[0]: duplicate \"id\" key"},
      {R"({"a":[{"":"$ID"}]})", "a[0]: empty member name"},
      {"{\"a\":" + Deep(200, "[", "]") + "}",
       "a[0]: expected an object, not an array"},
  };
  for (const auto& [body, want] : cases) {
    EXPECT_TRUE(IsInvalid(DecodeManifest(WithId(body)).status(), want)) << body;
  }
  EXPECT_TRUE(
      IsInvalid(DecodeManifest(R"({"a":[{}]})", CodecLimits{2}).status(),
                "a[0]: nesting deeper than 2"));
}

}  // namespace
}  // namespace syncstack
