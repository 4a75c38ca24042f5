// Pins down what the codec's raw-span logic relies on: the offsets RapidJSON's
// iterative reader is at when it calls each handler method (json_reader.h).
#include "json_reader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "id_parse.h"

namespace syncstack::json {
namespace {

struct Seen {
  Event event;
  std::string text;
  size_t offset;
  int depth;
};

class Recorder final : public EventHandler<Recorder> {
 public:
  Recorder(const SpanStream& in, int max_depth) : EventHandler(in, max_depth) {}
  bool OnEvent(Event e, std::string_view text) {
    seen.push_back({e, std::string(text), Tell(), depth()});
    return true;
  }
  std::string Where() const { return "here"; }
  std::vector<Seen> seen;
};

std::vector<Seen> Record(std::string_view text, Status* status = nullptr,
                         int max_depth = 128) {
  SpanStream in(text);
  Recorder r(in, max_depth);
  Status st = Parse(text, in, r, "doc");
  if (status != nullptr) *status = st;
  return r.seen;
}

TEST(JsonReader, EventOffsets) {
  //                    0         1         2         3
  //                    0123456789012345678901234567890123456789
  const std::string doc = R"( { "k" : [ 1.5e3 , "s\n" , null ] , "o":{}} )";
  Status st;
  auto seen = Record(doc, &st);
  ASSERT_TRUE(st.ok()) << st.ToString();
  const std::vector<std::pair<Event, size_t>> want = {
      {Event::kStartObject, 1},  // at the '{'
      {Event::kKey, 6},          // just past the key's closing quote
      {Event::kStartArray, 9},   // at the '['
      {Event::kNumber, 16},      // just past the number
      {Event::kString, 24},      // just past the closing quote
      {Event::kNull, 31},        // just past the literal
      {Event::kEndArray, 32},    // at the ']'
      {Event::kKey, 39},        {Event::kStartObject, 40},
      {Event::kEndObject, 41},  {Event::kEndObject, 42},
  };
  ASSERT_EQ(seen.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(seen[i].event, want[i].first) << i;
    EXPECT_EQ(seen[i].offset, want[i].second) << i;
  }
  EXPECT_EQ(seen[1].text, "k");
  EXPECT_EQ(seen[3].text, "1.5e3");  // numbers arrive as written
  EXPECT_EQ(seen[4].text, "s\n");    // strings arrive unescaped
  EXPECT_EQ(seen[0].depth, 1);
  EXPECT_EQ(seen[2].depth, 2);
  EXPECT_EQ(seen[3].depth, 2);
  EXPECT_EQ(seen[6].depth, 2);  // the closing container still counts
  EXPECT_EQ(seen[10].depth, 1);
}

TEST(JsonReader, LiteralsAndNumbersEndExactly) {
  const std::string doc = R"([true,false,-0,12345678901234567890,1E+2])";
  auto seen = Record(doc);
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_EQ(seen[1].offset, 5u);
  EXPECT_EQ(seen[2].offset, 11u);
  EXPECT_EQ(seen[3].offset, 14u);
  EXPECT_EQ(seen[3].text, "-0");
  EXPECT_EQ(seen[4].text, "12345678901234567890");
  EXPECT_EQ(seen[5].text, "1E+2");
  EXPECT_EQ(seen[5].offset, 40u);
}

TEST(JsonReader, DepthLimitStopsBeforeTheContainerOpens) {
  Status st;
  auto seen = Record("[[[[]]]]", &st, 3);
  EXPECT_EQ(st.message(), "here: nesting deeper than 3");
  ASSERT_EQ(seen.size(), 3u);  // the 4th '[' is never reported
}

TEST(JsonReader, SyntaxErrorsNameTheOffset) {
  Status st;
  Record(R"({"a":1,})", &st);
  EXPECT_EQ(st.message(),
            "doc: not valid JSON at offset 7: Missing a name for object "
            "member.");
  Record(std::string("{}\0{}", 5), &st);
  EXPECT_EQ(st.message(),
            "doc: not valid JSON at offset 2: Unexpected NUL byte.");
}

TEST(JsonReader, EmptyViewIsSafe) {
  Status st;
  Record(std::string_view(), &st);
  EXPECT_EQ(st.message(),
            "doc: not valid JSON at offset 0: The document is empty.");
}

TEST(JsonReader, FindInvalidUtf8) {
  EXPECT_EQ(FindInvalidUtf8(""), 0u);
  EXPECT_EQ(FindInvalidUtf8("plain ascii text, longer than eight"), 35u);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80"), 14u);
  EXPECT_EQ(FindInvalidUtf8("0123456789\xC3"), 10u);     // truncated
  EXPECT_EQ(FindInvalidUtf8("01234567\xC0\x80"), 8u);    // overlong
  EXPECT_EQ(FindInvalidUtf8("ab\xED\xA0\x80"), 2u);      // surrogate
  EXPECT_EQ(FindInvalidUtf8("ab\xF4\x90\x80\x80"), 2u);  // > U+10FFFF
  EXPECT_EQ(FindInvalidUtf8("abcdefghijklmno\xFF"), 15u);
}

// The codec's branch-free UUID parser accepts exactly what RecordId::Parse
// accepts, with the same value.
TEST(IdParse, AgreesWithRecordIdParse) {
  std::mt19937_64 rng(12345);
  const std::string alphabet = "0123456789abcdefABCDEF-gG x{";
  const std::string canonical = "f426f326-1cfe-4669-9e74-3c063fba542a";
  for (int i = 0; i < 200000; ++i) {
    std::string s = canonical;
    for (int k = static_cast<int>(rng() % 3); k > 0; --k) {
      s[rng() % s.size()] = alphabet[rng() % alphabet.size()];
    }
    if (rng() % 50 == 0) s.resize(rng() % 40, 'a');
    auto fast = syncstack::ParseId(s);
    auto slow = syncstack::RecordId::Parse(s);
    ASSERT_EQ(fast.ok(), slow.ok()) << s;
    if (fast.ok()) {
      ASSERT_EQ(*fast, *slow) << s;
    } else {
      ASSERT_EQ(fast.status().message(), slow.status().message());
    }
  }
}

}  // namespace
}  // namespace syncstack::json
