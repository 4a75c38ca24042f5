// The (id, version) set fingerprint of fingerprint.h: its hash is the one
// the protocol spells, and the sum does not depend on order.
#include "syncstack/fingerprint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "sha256.h"

namespace syncstack {
namespace {

RecordId IdOf(uint8_t b) {
  std::array<uint8_t, 16> bytes{};
  bytes.fill(b);
  return RecordId(bytes);
}

TEST(FingerprintTest, HashIsFirstEightBytesOfSha256LittleEndian) {
  // Spelled out by hand: id bytes, then the timestamp's 8 bytes LE, then
  // the version's extra bytes.
  RecordId id = IdOf(0x11);
  Version v{0x0102030405060708, "xy"};
  std::string input(id.raw());
  input += std::string("\x08\x07\x06\x05\x04\x03\x02\x01", 8);
  input += "xy";
  std::string hex = Sha256Hex(input);
  // The first 8 digest bytes, read little-endian, as big-endian hex.
  std::string want;
  for (int i = 7; i >= 0; --i) want += hex.substr(2 * i, 2);
  SetFingerprint f;
  f.Add(id, v);
  EXPECT_EQ(f.ToHex(), want);
  EXPECT_EQ(f.count, 1u);
}

TEST(FingerprintTest, NegativeTimestampIsTwosComplement) {
  RecordId id = IdOf(0x22);
  Version v{-1, ""};
  std::string input(id.raw());
  input += std::string(8, '\xff');
  std::string hex = Sha256Hex(input);
  std::string want;
  for (int i = 7; i >= 0; --i) want += hex.substr(2 * i, 2);
  SetFingerprint f;
  f.Add(id, v);
  EXPECT_EQ(f.ToHex(), want);
}

TEST(FingerprintTest, VersionChangesTheHash) {
  RecordId id = IdOf(3);
  EXPECT_NE(RecordHash(id, {5, ""}), RecordHash(id, {6, ""}));
  EXPECT_NE(RecordHash(id, {5, ""}), RecordHash(id, {5, "a"}));
  EXPECT_NE(RecordHash(id, {5, ""}), RecordHash(IdOf(4), {5, ""}));
}

TEST(FingerprintTest, OrderIndependentAndRemovable) {
  const unsigned seed = 20261202;
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  std::vector<std::pair<RecordId, Version>> items;
  for (int i = 0; i < 200; ++i) {
    std::array<uint8_t, 16> b;
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    items.push_back({RecordId(b), Version{static_cast<int64_t>(rng()),
                                          std::to_string(rng() % 7)}});
  }
  SetFingerprint a, b;
  for (const auto& [id, v] : items) a.Add(id, v);
  std::shuffle(items.begin(), items.end(), rng);
  for (const auto& [id, v] : items) b.Add(id, v);
  EXPECT_EQ(a, b);
  // Removing half leaves the fingerprint of the other half.
  SetFingerprint half;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i % 2 == 0) {
      b.Remove(items[i].first, items[i].second);
    } else {
      half.Add(items[i].first, items[i].second);
    }
  }
  EXPECT_EQ(b, half);
  EXPECT_EQ(b.count, 100u);
}

TEST(FingerprintTest, EmptySetIsZero) {
  SetFingerprint f;
  EXPECT_EQ(f.ToHex(), "0000000000000000");
  EXPECT_EQ(f.Encode(), "0:0000000000000000");
}

TEST(FingerprintTest, EncodeDecodeRoundTrip) {
  SetFingerprint f{1234, 0x89abcdef01234567};
  EXPECT_EQ(f.ToHex(), "89abcdef01234567");
  auto back = SetFingerprint::Decode(f.Encode());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, f);
  for (const char* bad :
       {"", ":", "12", "12:", "x:0000000000000000", "1:000000000000000",
        "1:00000000000000000", "1:000000000000000g", "-1:0000000000000000"}) {
    EXPECT_EQ(SetFingerprint::Decode(bad).status().code(),
              Status::Code::kCorruption)
        << bad;
  }
  auto hex = ParseFingerprintHex("89ABCDEF01234567");
  ASSERT_TRUE(hex.ok());
  EXPECT_EQ(*hex, 0x89abcdef01234567u);
}

}  // namespace
}  // namespace syncstack
