// Timestamps and record ids at the edges (record.h), as the codec uses them.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "syncstack/record.h"

namespace syncstack {
namespace {

Timestamp Parsed(std::string_view text) {
  auto ts = ParseTimestamp(text);
  EXPECT_TRUE(ts.ok()) << text << ": " << ts.status().ToString();
  return ts.ok() ? *ts : kNoTimestamp;
}

TEST(Timestamp, SeedForm) {
  EXPECT_EQ(Parsed("2013-05-01 15:42:50"), 1367422970000);
  EXPECT_EQ(Parsed("1970-01-01 00:00:00"), 0);
}

TEST(Timestamp, Milliseconds) {
  EXPECT_EQ(Parsed("2013-05-01 15:42:50.123"), 1367422970123);
  EXPECT_EQ(Parsed("2013-05-01 15:42:50.1"), 1367422970100);
  EXPECT_EQ(Parsed("2013-05-01 15:42:50.12"), 1367422970120);
  EXPECT_EQ(Parsed("2013-05-01 15:42:50.000"), 1367422970000);
}

TEST(Timestamp, FractionsFinerThanMillisecondsAreTruncated) {
  EXPECT_EQ(Parsed("2013-05-01 15:42:50.123999"), 1367422970123);
  EXPECT_EQ(Parsed("2013-05-01T15:42:50.9999999Z"), 1367422970999);
}

TEST(Timestamp, Iso8601) {
  EXPECT_EQ(Parsed("2013-05-01T15:42:50Z"), 1367422970000);
  EXPECT_EQ(Parsed("2013-05-01T15:42:50.250Z"), 1367422970250);
  EXPECT_EQ(Parsed("2013-05-01T17:42:50+02:00"), 1367422970000);
  EXPECT_EQ(Parsed("2013-05-01T10:12:50-05:30"), 1367422970000);
  EXPECT_EQ(Parsed("2013-05-01T15:42:50.5+00:00"), 1367422970500);
  EXPECT_EQ(Parsed("2013-05-01T15:42:50"), 1367422970000);  // UTC implied
  // Crossing midnight and the year through an offset.
  EXPECT_EQ(Parsed("2014-01-01T01:00:00+02:00"), Parsed("2013-12-31 23:00:00"));
}

TEST(Timestamp, LeapDays) {
  EXPECT_EQ(Parsed("2020-02-29 00:00:00"), 1582934400000);
  EXPECT_EQ(Parsed("2000-02-29 12:34:56"), 951827696000);
  for (const char* bad :
       {"2019-02-29 00:00:00", "1900-02-29 00:00:00", "2100-02-29 00:00:00"}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

TEST(Timestamp, RejectsOutOfRangeAndGarbage) {
  for (const char* bad : {
           "2013-02-30 00:00:00",
           "2013-04-31 00:00:00",
           "2013-13-01 00:00:00",
           "2013-00-10 00:00:00",
           "2013-05-00 00:00:00",
           "2013-05-01 24:00:00",
           "2013-05-01 23:60:00",
           "2013-05-01 23:59:60",
           "0000-01-01 00:00:00",
           "",
           "garbage",
           "2013-05-01",
           "2013-05-01 15:42",
           "2013-05-01 15:42:50 ",
           " 2013-05-01 15:42:50",
           "2013-05-01 15:42:50.",
           "2013-05-01 15:42:50.12x",
           "2013-05-01T15:42:50+2:00",
           "2013-05-01T15:42:50+02",
           "2013-05-01T15:42:50+24:00",
           "2013-05-01T15:42:50ZZ",
           "2013/05/01 15:42:50",
           "2013-5-1 15:42:50",
           "13-05-01 15:42:50",
           "2013-05-01x15:42:50",
           "+013-05-01 15:42:50",
       }) {
    auto ts = ParseTimestamp(bad);
    EXPECT_FALSE(ts.ok()) << "accepted \"" << bad << "\"";
    if (!ts.ok()) {
      EXPECT_EQ(ts.status().code(), Status::Code::kInvalidArgument);
      EXPECT_NE(ts.status().message().find("bad timestamp"), std::string::npos);
    }
  }
}

TEST(Timestamp, FormatIsTheProtocolForm) {
  EXPECT_EQ(FormatTimestamp(1367422970000), "2013-05-01 15:42:50.000");
  EXPECT_EQ(FormatTimestamp(1367422970123), "2013-05-01 15:42:50.123");
  EXPECT_EQ(FormatTimestamp(0), "1970-01-01 00:00:00.000");
  EXPECT_EQ(FormatTimestamp(-1), "1969-12-31 23:59:59.999");
  EXPECT_EQ(FormatTimestamp(1582934400000), "2020-02-29 00:00:00.000");
  for (const char* text :
       {"1970-01-01 00:00:00.000", "9999-12-31 23:59:59.999",
        "2000-02-29 12:34:56.789", "1970-07-20 20:17:40.001"}) {
    EXPECT_EQ(FormatTimestamp(Parsed(text)), text);
  }
}

// Issue 14 item 3: the offset moves the instant before the range is
// checked, so text that looks in range but is not (and the reverse) is
// judged by the instant the server would store and print back.
TEST(Timestamp, RangeIsCheckedOnTheUtcInstant) {
  for (const char* bad : {
           "0001-01-01T00:00:00+00:01",  // was stored as 0000-12-31 23:59
           "9999-12-31T23:59:59-00:01",  // was stored as 9999-01-01 00:00:59
           "9999-12-31T23:00:00-01:00",
           "1970-01-01T00:00:00+00:01",
           "1970-01-01T00:59:59.999+01:00",
           "1969-12-31 23:59:59.999",
           "1969-12-31T23:59:59Z",
           "0001-01-01 00:00:00",
       }) {
    auto ts = ParseTimestamp(bad);
    EXPECT_FALSE(ts.ok()) << "accepted \"" << bad << "\" as "
                          << (ts.ok() ? FormatTimestamp(*ts) : "");
    if (!ts.ok()) {
      EXPECT_EQ(ts.status().code(), Status::Code::kInvalidArgument);
      EXPECT_NE(ts.status().message().find("outside 1970-01-01"),
                std::string::npos)
          << ts.status().message();
    }
  }
  // The edges themselves, reached with and without an offset.
  EXPECT_EQ(Parsed("1970-01-01 00:00:00.000"), kMinTimestamp);
  EXPECT_EQ(Parsed("1969-12-31T23:59:00-00:01"), kMinTimestamp);
  EXPECT_EQ(Parsed("9999-12-31 23:59:59.999"), kMaxTimestamp);
  EXPECT_EQ(Parsed("9999-12-31T23:59:59.999Z"), kMaxTimestamp);
  EXPECT_EQ(Parsed("9999-12-31T23:59:59.999+00:01"), kMaxTimestamp - 60000);
  EXPECT_EQ(FormatTimestamp(kMaxTimestamp), "9999-12-31 23:59:59.999");
  EXPECT_EQ(FormatTimestamp(kMinTimestamp), "1970-01-01 00:00:00.000");
}

TEST(RecordId, ParsesCaseInsensitivelyAndPrintsLowerCase) {
  auto lower = RecordId::Parse("f426f326-1cfe-4669-9e74-3c063fba542a");
  auto upper = RecordId::Parse("F426F326-1CFE-4669-9E74-3C063FBA542A");
  auto mixed = RecordId::Parse("f426F326-1cFe-4669-9E74-3c063FBA542a");
  ASSERT_TRUE(lower.ok() && upper.ok() && mixed.ok());
  EXPECT_EQ(*lower, *upper);
  EXPECT_EQ(*lower, *mixed);
  EXPECT_EQ(upper->ToString(), "f426f326-1cfe-4669-9e74-3c063fba542a");
}

TEST(RecordId, RejectsNonCanonicalText) {
  for (const char* bad : {
           "",
           "xyz",
           "f426f3261cfe46699e743c063fba542a",
           "{f426f326-1cfe-4669-9e74-3c063fba542a}",
           "f426f326-1cfe-4669-9e74-3c063fba542a ",
           " f426f326-1cfe-4669-9e74-3c063fba542",
           "f426f326-1cfe-4669-9e74_3c063fba542a",
           "f426f3261-cfe-4669-9e74-3c063fba542a",
           "g426f326-1cfe-4669-9e74-3c063fba542a",
           "f426f326-1cfe-4669-9e74-3c063fba542-",
           "f426f326--cfe-4669-9e74-3c063fba542a",
       }) {
    auto id = RecordId::Parse(bad);
    EXPECT_FALSE(id.ok()) << "accepted \"" << bad << "\"";
    if (!id.ok()) {
      EXPECT_NE(id.status().message().find("not a UUID"), std::string::npos);
    }
  }
}

TEST(RecordId, BytesOrderIsTextOrder) {
  std::vector<std::string> texts = {"ffffffff-ffff-ffff-ffff-ffffffffffff",
                                    "00000000-0000-0000-0000-000000000000",
                                    "86c62841-1eae-4014-a719-9c353de55f37",
                                    "86c62841-1eae-4014-a719-9c353de55f38",
                                    "0a000000-0000-0000-0000-000000000000",
                                    "a0000000-0000-0000-0000-000000000000"};
  std::vector<RecordId> ids;
  for (const auto& t : texts) ids.push_back(*RecordId::Parse(t));
  std::sort(texts.begin(), texts.end());
  std::sort(ids.begin(), ids.end());
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_EQ(ids[i].ToString(), texts[i]);
}

}  // namespace
}  // namespace syncstack
