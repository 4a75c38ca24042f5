// Randomized round trips: random messages with random JSON payloads encode
// and decode back to themselves. The seed is fixed and printed; try others
// with SYNCSTACK_SEED=<n>.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "syncstack/codec.h"

namespace syncstack {
namespace {

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* env = std::getenv("SYNCSTACK_SEED");
    uint64_t s = env != nullptr ? std::strtoull(env, nullptr, 10) : 20240501;
    std::printf("codec_random_test: SYNCSTACK_SEED=%llu\n",
                static_cast<unsigned long long>(s));
    return s;
  }();
  return seed;
}

class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng_);
  }
  bool Chance(int percent) { return Below(100) < static_cast<size_t>(percent); }

  RecordId Id() {
    std::array<uint8_t, 16> b{};
    for (auto& x : b) x = static_cast<uint8_t>(Below(256));
    if (Chance(10)) b.fill(static_cast<uint8_t>(Below(2) * 255));
    return RecordId(b);
  }

  Timestamp Time() {
    if (Chance(20)) return kNoTimestamp;
    // Every instant the protocol carries (kMinTimestamp..kMaxTimestamp).
    return std::uniform_int_distribution<int64_t>(kMinTimestamp,
                                                  kMaxTimestamp)(rng_);
  }

  // A JSON string literal: ASCII, escapes, raw UTF-8 and \u escapes.
  std::string String() {
    static const char* const kPieces[] = {
        "a",   "Z",   " ",   "0",       "\\\"",    "\\\\",
        "\\/", "\\n", "\\t", "\\u0000", "\\u00e9", "\\ud83d\\ude00",
        "é",   "✓",   "😀",   "日本",    "\\b",     "\\f",
        "\\r", "'"};
    std::string s = "\"";
    for (size_t n = Below(8); n > 0; --n)
      s += kPieces[Below(std::size(kPieces))];
    return s + "\"";
  }

  std::string Number() {
    static const char* const kNumbers[] = {
        "0",
        "-0",
        "1",
        "-1",
        "42",
        "12345678901234567890",
        "-9223372036854775808",
        "123456789012345678901234567890",
        "1.5",
        "-0.25",
        "1e5",
        "1.0e5",
        "2E-3",
        "6.02214076e+23",
        "3.14159265358979323846264338327950288"};
    return kNumbers[Below(std::size(kNumbers))];
  }

  std::string Ws() {
    static const char* const kWs[] = {"", "", "", " ", "\n  ", "\t"};
    return kWs[Below(std::size(kWs))];
  }

  std::string Value(int depth) {
    size_t kind = Below(depth > 0 ? 8 : 6);
    switch (kind) {
      case 0:
        return "null";
      case 1:
        return Chance(50) ? "true" : "false";
      case 2:
      case 3:
        return Number();
      case 4:
      case 5:
        return String();
      case 6: {
        std::string s = "[" + Ws();
        for (size_t n = Below(4), i = 0; i < n; ++i) {
          if (i > 0) s += Ws() + "," + Ws();
          s += Value(depth - 1);
        }
        return s + Ws() + "]";
      }
      default: {
        std::string s = "{" + Ws();
        for (size_t n = Below(4), i = 0; i < n; ++i) {
          if (i > 0) s += Ws() + "," + Ws();
          s += String() + Ws() + ":" + Ws() + Value(depth - 1);
        }
        return s + Ws() + "}";
      }
    }
  }

  // A compact-between-members payload; keys avoid the extracted ones.
  std::string Payload() {
    std::string s = "{";
    for (size_t n = Below(6), i = 0; i < n; ++i) {
      if (i > 0) s += ',';
      s += "\"f" + std::to_string(i) + "\"" + Ws() + ":" + Ws() + Value(3);
    }
    return s + "}";
  }

  std::string Collection() {
    static const char* const kNames[] = {"budget", "todo", "notes", "_x",
                                         "Items2"};
    return kNames[Below(std::size(kNames))];
  }

 private:
  std::mt19937_64 rng_;
};

Schema TestSchema() {
  Schema schema;
  schema.Set("budget", "bid");
  schema.Set("notes", "note_id");
  schema.Set("Items2", "k\u00e9y");  // an id key that needs UTF-8
  return schema;
}

template <class C>
std::vector<C> Collections(Gen& g, auto&& fill) {
  std::vector<C> out;
  std::vector<std::string> used;
  for (size_t n = g.Below(4); n > 0; --n) {
    std::string name = g.Collection();
    if (std::find(used.begin(), used.end(), name) != used.end()) continue;
    used.push_back(name);
    C c;
    c.collection = name;
    fill(c);
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<CollectionRecords> RandomRecords(Gen& g) {
  return Collections<CollectionRecords>(g, [&](CollectionRecords& c) {
    for (size_t n = g.Below(5); n > 0; --n) {
      c.records.push_back(WireRecord{g.Id(), g.Time(), g.Payload()});
    }
  });
}

std::vector<CollectionIds> RandomIds(Gen& g) {
  return Collections<CollectionIds>(g, [&](CollectionIds& c) {
    for (size_t n = g.Below(5); n > 0; --n) c.ids.push_back(g.Id());
  });
}

template <class C>
void ExpectSameCollections(const std::vector<C>& a, const std::vector<C>& b,
                           auto&& items) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].collection, b[i].collection);
    EXPECT_EQ(items(a[i]), items(b[i]));
  }
}

TEST(CodecRandom, SyncRequestRoundTrips) {
  Gen g(TestSeed());
  const Schema schema = TestSchema();
  std::string body;
  for (int iter = 0; iter < 300; ++iter) {
    SyncRequest req{RandomRecords(g), RandomRecords(g), RandomIds(g),
                    RandomIds(g)};
    EncodeSyncRequest(req, schema, body);
    ASSERT_TRUE(ValidateJsonObject(body).ok()) << body;
    auto back = DecodeSyncRequest(body, schema);
    ASSERT_TRUE(back.ok()) << "seed " << TestSeed() << " iter " << iter << ": "
                           << back.status().ToString() << "\n"
                           << body;
    auto records = [](const CollectionRecords& c) { return c.records; };
    auto ids = [](const CollectionIds& c) { return c.ids; };
    ExpectSameCollections(req.add, back->add, records);
    ExpectSameCollections(req.update, back->update, records);
    ExpectSameCollections(req.del, back->del, ids);
    ExpectSameCollections(req.get, back->get, ids);
    if (::testing::Test::HasFailure()) {
      FAIL() << "seed " << TestSeed() << " iter " << iter << "\n" << body;
    }
  }
}

TEST(CodecRandom, SyncResponseRoundTrips) {
  Gen g(TestSeed() + 1);
  const Schema schema = TestSchema();
  std::string body;
  for (int iter = 0; iter < 300; ++iter) {
    SyncResponse resp;
    resp.get = RandomRecords(g);
    for (auto& c : resp.get) {
      for (auto& r : c.records) {
        if (r.last_update == kNoTimestamp) r.last_update = 0;
      }
    }
    resp.stamps = Collections<CollectionStamps>(g, [&](CollectionStamps& c) {
      for (size_t n = g.Below(5); n > 0; --n) {
        c.stamps.push_back(Stamp{g.Id(), std::max<Timestamp>(g.Time(), 0)});
      }
    });
    resp.conflicts =
        Collections<CollectionConflicts>(g, [&](CollectionConflicts& c) {
          for (size_t n = g.Below(5); n > 0; --n) {
            c.conflicts.push_back({g.Id(), static_cast<Kept>(g.Below(3))});
          }
        });
    EncodeSyncResponse(resp, schema, body);
    auto back = DecodeSyncResponse(body, schema);
    ASSERT_TRUE(back.ok()) << "seed " << TestSeed() << " iter " << iter << ": "
                           << back.status().ToString() << "\n"
                           << body;
    ExpectSameCollections(resp.get, back->get,
                          [](const CollectionRecords& c) { return c.records; });
    ExpectSameCollections(resp.stamps, back->stamps,
                          [](const CollectionStamps& c) { return c.stamps; });
    ASSERT_EQ(resp.conflicts.size(), back->conflicts.size());
    for (size_t i = 0; i < resp.conflicts.size(); ++i) {
      const auto& a = resp.conflicts[i].conflicts;
      const auto& b = back->conflicts[i].conflicts;
      ASSERT_EQ(a.size(), b.size());
      for (size_t j = 0; j < a.size(); ++j) {
        EXPECT_EQ(a[j].id, b[j].id);
        EXPECT_EQ(a[j].kept, b[j].kept);
      }
    }
    if (::testing::Test::HasFailure()) {
      FAIL() << "seed " << TestSeed() << " iter " << iter << "\n" << body;
    }
  }
}

TEST(CodecRandom, ManifestRoundTrips) {
  Gen g(TestSeed() + 2);
  std::string body;
  for (int iter = 0; iter < 100; ++iter) {
    Manifest m;
    for (size_t n = g.Below(4), i = 0; i < n; ++i) {
      Manifest::Collection c;
      c.name = "c" + std::to_string(i);
      for (size_t k = g.Below(50); k > 0; --k) {
        c.entries.push_back(Stamp{g.Id(), std::max<Timestamp>(g.Time(), 1)});
      }
      if (!c.entries.empty()) c.id_key = g.Chance(50) ? "id" : "x\"y";
      m.collections.push_back(std::move(c));
    }
    EncodeManifest(m, body);
    auto back = DecodeManifest(body);
    ASSERT_TRUE(back.ok()) << "seed " << TestSeed() << ": "
                           << back.status().ToString() << "\n"
                           << body;
    ASSERT_EQ(back->collections.size(), m.collections.size());
    for (size_t i = 0; i < m.collections.size(); ++i) {
      EXPECT_EQ(back->collections[i].name, m.collections[i].name);
      EXPECT_EQ(back->collections[i].id_key, m.collections[i].id_key);
      EXPECT_EQ(back->collections[i].entries, m.collections[i].entries);
    }
  }
}

// Random single-byte damage to valid bodies: the decoder either accepts
// (the damage kept it valid) or answers kInvalidArgument; never crashes.
TEST(CodecRandom, DamagedBodiesFailCleanly) {
  Gen g(TestSeed() + 3);
  const Schema schema = TestSchema();
  std::string body;
  static const char kBytes[] = "{}[]\",:\\0 a-e\x80\xff";
  for (int iter = 0; iter < 2000; ++iter) {
    SyncRequest req{RandomRecords(g), {}, RandomIds(g), {}};
    EncodeSyncRequest(req, schema, body);
    body[g.Below(body.size())] = kBytes[g.Below(sizeof kBytes - 1)];
    auto back = DecodeSyncRequest(body, schema);
    if (!back.ok()) {
      ASSERT_EQ(back.status().code(), Status::Code::kInvalidArgument)
          << back.status().ToString();
    }
  }
}

}  // namespace
}  // namespace syncstack
