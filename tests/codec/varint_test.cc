// syncstack/varint.h: the one varint reader of the binary pages and of
// reconciliation messages, at its edges.
#include "syncstack/varint.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>

namespace syncstack {
namespace {

std::string Encode(uint64_t v) {
  std::string out;
  PutVarint(v, out);
  return out;
}

TEST(VarintTest, EncodesTheEdgesOfEachLength) {
  EXPECT_EQ(Encode(0), std::string(1, '\0'));
  EXPECT_EQ(Encode(1), "\x01");
  EXPECT_EQ(Encode(127), "\x7f");
  EXPECT_EQ(Encode(128), "\x80\x01");
  EXPECT_EQ(Encode(300), "\xac\x02");
  EXPECT_EQ(Encode(16383), "\xff\x7f");
  EXPECT_EQ(Encode(16384), "\x80\x80\x01");
  const std::string max = Encode(std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(max, std::string(9, '\xff') + "\x01");
  EXPECT_EQ(max.size(), kMaxVarintBytes);
}

TEST(VarintTest, RoundTripsAndConsumesExactlyItsBytes) {
  for (int bits = 0; bits <= 64; ++bits) {
    const uint64_t top = bits == 64 ? std::numeric_limits<uint64_t>::max()
                                    : (uint64_t{1} << bits) - 1;
    for (uint64_t v : {top, top + 1, top / 2 + 1}) {
      std::string bytes = Encode(v) + "rest";
      std::string_view in = bytes;
      uint64_t got = 12345;
      ASSERT_TRUE(GetVarint(in, got)) << v;
      EXPECT_EQ(got, v);
      EXPECT_EQ(in, "rest") << v;
    }
  }
}

TEST(VarintTest, ReadsSeveralInARow) {
  std::string bytes;
  for (uint64_t v : {0ull, 127ull, 128ull, 1ull << 63}) PutVarint(v, bytes);
  std::string_view in = bytes;
  uint64_t v = 0;
  ASSERT_TRUE(GetVarint(in, v));
  EXPECT_EQ(v, 0u);
  ASSERT_TRUE(GetVarint(in, v));
  EXPECT_EQ(v, 127u);
  ASSERT_TRUE(GetVarint(in, v));
  EXPECT_EQ(v, 128u);
  ASSERT_TRUE(GetVarint(in, v));
  EXPECT_EQ(v, 1ull << 63);
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(GetVarint(in, v)) << "nothing left to read";
}

TEST(VarintTest, RefusesATruncatedVarint) {
  const std::string max = Encode(std::numeric_limits<uint64_t>::max());
  for (size_t n = 0; n < max.size(); ++n) {
    std::string_view in(max.data(), n);
    uint64_t v = 0;
    EXPECT_FALSE(GetVarint(in, v)) << n << " of " << max.size() << " bytes";
  }
  std::string_view in = "\x80";
  uint64_t v = 0;
  EXPECT_FALSE(GetVarint(in, v));
}

TEST(VarintTest, RefusesAVarintLongerThanTenBytes) {
  // Ten bytes that all say "more follows", then an end byte: eleven bytes.
  const std::string overlong = std::string(10, '\x80') + "\x01";
  std::string_view in = overlong;
  uint64_t v = 0;
  EXPECT_FALSE(GetVarint(in, v));
  const std::string endless(1000, '\xff');
  in = endless;
  EXPECT_FALSE(GetVarint(in, v));
}

TEST(VarintTest, ZigZagMapsSmallMagnitudesToSmallCodes) {
  EXPECT_EQ(ZigZag(0), 0u);
  EXPECT_EQ(ZigZag(-1), 1u);
  EXPECT_EQ(ZigZag(1), 2u);
  EXPECT_EQ(ZigZag(-2), 3u);
  EXPECT_EQ(ZigZag(std::numeric_limits<int64_t>::max()),
            std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_EQ(ZigZag(std::numeric_limits<int64_t>::min()),
            std::numeric_limits<uint64_t>::max());
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{1}, int64_t{1} << 40,
                    -(int64_t{1} << 40), std::numeric_limits<int64_t>::min(),
                    std::numeric_limits<int64_t>::max()}) {
    EXPECT_EQ(UnZigZag(ZigZag(v)), v);
  }
}

}  // namespace
}  // namespace syncstack
