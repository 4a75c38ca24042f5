// The ConflictPolicy law suite (see conflict_policy_laws.h), written once
// over PolicyCase.
#include "syncstack/conformance/conflict_policy_laws.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "syncstack/policies/version_vector.h"

namespace syncstack::conformance {

std::string PolicyCaseName(const ::testing::TestParamInfo<PolicyCase>& info) {
  std::string n = info.param.name;
  for (char& c : n) {
    if (c == '-' || c == '+') c = '_';
  }
  return n;
}

void PrintTo(const PolicyCase& c, std::ostream* os) { *os << c.name; }

std::string StoredWrite::Key() const {
  return std::to_string(version.timestamp) + "/" + version.extra + "/" +
         (deleted ? "deleted" : payload);
}

StoredWrite ApplyAsService(const ConflictPolicy& p, const StoredWrite& stored,
                           const StoredWrite& client, uint64_t sequence) {
  IncomingWrite in;
  in.proposed = &client.version;
  in.current = &stored.version;
  in.server_now = 1'600'000'000'000;
  in.sequence = sequence;
  in.deleted = client.deleted;
  in.payload = client.payload;
  Version stamped = p.StampIncoming(in);
  Resolution r = p.Resolve(
      stored.view(), StoredWrite{stamped, client.deleted, client.payload}.view(
                         &client.version));
  StoredWrite out = stored;
  switch (r.outcome) {
    case Resolution::Outcome::kSame:
      return stored;
    case Resolution::Outcome::kKeepServer:
      if (r.has_version) out.version = r.version;
      break;
    case Resolution::Outcome::kTakeClient:
      out = StoredWrite{r.has_version ? r.version : stamped, client.deleted,
                        client.payload};
      break;
    case Resolution::Outcome::kMerged:
      out = StoredWrite{r.version, false, r.payload};
      break;
  }
  return out;
}

uint64_t LawSeed(uint64_t salt) {
  const char* s = std::getenv("SYNCSTACK_SEED");
  uint64_t seed = (s ? std::strtoull(s, nullptr, 10) : 20261126) + salt;
  std::cout << "[ seed     ] " << seed
            << " (replay: SYNCSTACK_SEED=" << seed - salt << ")" << std::endl;
  return seed;
}

void ConflictPolicyLaws::SetUp() {
  ASSERT_TRUE(GetParam().make) << GetParam().name << ": no factory";
  policy_ = GetParam().make();
  ASSERT_NE(policy_, nullptr) << GetParam().name;
  family_ = GetParam().family;
}

namespace {

using Family = PolicyFamily;
using Write = StoredWrite;

Write Apply(const ConflictPolicy& p, const Write& stored, const Write& client,
            uint64_t sequence = 1) {
  return ApplyAsService(p, stored, client, sequence);
}

uint64_t Seed(uint64_t salt) { return LawSeed(salt); }

std::string RandomPayload(std::mt19937_64& rng) {
  return "{\"v\":" + std::to_string(rng() % 4) + "}";
}

// A random write shaped for `family`: version vectors are causally
// consistent (a dominating vector has a later timestamp), as StampLocal
// makes them.
Write RandomWrite(Family family, std::mt19937_64& rng) {
  Write w;
  w.deleted = rng() % 5 == 0;
  if (!w.deleted) w.payload = RandomPayload(rng);
  w.version.timestamp = 1'700'000'000'000 + static_cast<int64_t>(rng() % 5);
  if (family == Family::kVectors) {
    VersionVector vv;
    int64_t sum = 0;
    for (const char* r : {"a1", "b2", "c3"}) {
      uint64_t n = rng() % 3;
      if (n > 0) vv[r] = n;
      sum += static_cast<int64_t>(n);
    }
    if (vv.empty()) vv["a1"] = 1, sum = 1;
    // One vector names one write: its content and time follow from it.
    std::string text = FormatVersionVector(vv);
    size_t h = std::hash<std::string>{}(text);
    w.deleted = h % 5 == 0;
    w.payload = w.deleted ? "" : "{\"v\":" + std::to_string(h % 4) + "}";
    w.version.timestamp =
        1'700'000'000'000 + 10 * sum + static_cast<int64_t>(h % 3);
    w.version.extra = text;
  } else if (family == Family::kServerClock) {
    w.version.extra = "s" + std::to_string(rng() % 4);
    w.version.timestamp =
        1'700'000'000'000 +
        7 * static_cast<int64_t>(std::stoi(w.version.extra.substr(1)));
  }
  return w;
}

// Writes from a real causal history of three replicas (each write is one
// new event of its replica; replicas now and then learn each other's
// writes), with causally consistent timestamps: what StampLocal produces.
std::vector<Write> HistoryWrites(std::mt19937_64& rng, int n) {
  const char* kReplicas[] = {"a1", "b2", "c3"};
  std::vector<Write> known(3);  // each replica's current write
  std::vector<Write> all;
  auto vv_of = [](const Write& w) {
    return ParseVersionVector(w.version.extra).value_or(VersionVector{});
  };
  for (int step = 0; step < 3 * n; ++step) {
    int r = static_cast<int>(rng() % 3);
    if (rng() % 3 == 0) {  // replica r learns another's current write
      int other = static_cast<int>(rng() % 3);
      known[r].version.extra = FormatVersionVector(
          MergeVersionVectors(vv_of(known[r]), vv_of(known[other])));
      known[r].version.timestamp =
          std::max(known[r].version.timestamp, known[other].version.timestamp);
      continue;
    }
    VersionVector vv = vv_of(known[r]);
    vv[kReplicas[r]] += 1;
    Write w;
    w.version.extra = FormatVersionVector(vv);
    w.version.timestamp = std::max<Timestamp>(
        known[r].version.timestamp + 1,
        1'700'000'000'000 + static_cast<int64_t>(rng() % 8));
    w.deleted = rng() % 5 == 0;
    if (!w.deleted) w.payload = RandomPayload(rng);
    known[r] = w;
    all.push_back(w);
  }
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min<size_t>(all.size(), static_cast<size_t>(n)));
  return all;
}

TEST_P(ConflictPolicyLaws, ResolveIsDeterministic) {
  uint64_t seed = Seed(0);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 5000; ++i) {
    Write a = RandomWrite(family_, rng), b = RandomWrite(family_, rng);
    Resolution r1 = policy_->Resolve(a.view(), b.view(&b.version));
    Resolution r2 = policy_->Resolve(a.view(), b.view(&b.version));
    EXPECT_EQ(r1.outcome, r2.outcome) << "seed " << seed;
    EXPECT_EQ(r1.payload, r2.payload) << "seed " << seed;
    EXPECT_EQ(r1.version, r2.version) << "seed " << seed;
    EXPECT_EQ(r1.conflict, r2.conflict) << "seed " << seed;
    EXPECT_EQ(Apply(*policy_, a, b), Apply(*policy_, a, b)) << "seed " << seed;
  }
}

TEST_P(ConflictPolicyLaws, AWriteAgainstItselfIsTheSame) {
  uint64_t seed = Seed(1);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 5000; ++i) {
    Write a = RandomWrite(family_, rng);
    EXPECT_EQ(policy_->Resolve(a.view(), a.view(&a.version)).outcome,
              Resolution::Outcome::kSame)
        << a.Key() << " seed " << seed;
    EXPECT_EQ(policy_->Compare(a.version, a.version), Order::kEqual);
  }
}

TEST_P(ConflictPolicyLaws, ApplyingAWriteTwiceEqualsOnce) {
  uint64_t seed = Seed(2);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 5000; ++i) {
    Write stored = RandomWrite(family_, rng), c = RandomWrite(family_, rng);
    Write once = Apply(*policy_, stored, c, 1);
    Write twice = Apply(*policy_, once, c, 2);
    EXPECT_EQ(once, twice) << stored.Key() << " <- " << c.Key() << " seed "
                           << seed;
  }
}

// The device plans with Compare; the server decides with Resolve. Where
// the device is sure (before / after), the server must agree.
TEST_P(ConflictPolicyLaws, CompareAgreesWithResolve) {
  uint64_t seed = Seed(3);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    Write a = RandomWrite(family_, rng), b = RandomWrite(family_, rng);
    Order o = policy_->Compare(a.version, b.version);
    Order r = policy_->Compare(b.version, a.version);
    Resolution resolution = policy_->Resolve(b.view(), a.view(&a.version));
    auto outcome = resolution.outcome;
    // Taking an older client write whose content is the server's changes
    // nothing if the server's version (or a later one) is kept with it, as
    // a field merge does when it finds nothing to merge.
    bool takes_nothing_older =
        a.deleted == b.deleted && a.payload == b.payload &&
        resolution.has_version &&
        policy_->Compare(resolution.version, b.version) != Order::kBefore;
    switch (o) {
      case Order::kAfter:
        EXPECT_EQ(r, Order::kBefore);
        if (family_ != Family::kServerClock) {
          EXPECT_EQ(outcome, Resolution::Outcome::kTakeClient)
              << a.Key() << " vs " << b.Key() << " seed " << seed;
        }
        break;
      case Order::kBefore:
        EXPECT_EQ(r, Order::kAfter);
        if (family_ != Family::kServerClock && !takes_nothing_older) {
          EXPECT_NE(outcome, Resolution::Outcome::kTakeClient)
              << a.Key() << " vs " << b.Key() << " seed " << seed;
        }
        break;
      case Order::kEqual:
        EXPECT_EQ(r, Order::kEqual);
        break;
      case Order::kConcurrent:
        EXPECT_EQ(r, Order::kConcurrent);
        break;
    }
  }
}

// The version vector of a kVectors version, without what a wrapping
// policy appended after it.
std::string VectorOf(const Version& v) {
  return v.extra.substr(0, v.extra.find('|'));
}

// Both sides of a pair reach the same stored write whichever arrives
// first: for last-write-wins always; for version vectors on every pair
// (dominated writes are discarded, concurrent ones merged symmetrically).
TEST_P(ConflictPolicyLaws, BothArrivalOrdersStoreTheSameWrite) {
  if (family_ == Family::kServerClock) {
    GTEST_SKIP() << "the server clock orders by arrival, by design";
  }
  uint64_t seed = Seed(4);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    Write a = RandomWrite(family_, rng), b = RandomWrite(family_, rng);
    if (family_ == Family::kVectors) {
      auto two = HistoryWrites(rng, 2);
      if (two.size() < 2) continue;
      a = two[0];
      b = two[1];
    }
    Write ab = Apply(*policy_, a, b), ba = Apply(*policy_, b, a);
    EXPECT_EQ(ab.deleted, ba.deleted) << a.Key() << " | " << b.Key();
    EXPECT_EQ(ab.payload, ba.payload) << a.Key() << " | " << b.Key();
    if (family_ == Family::kVectors) {
      // The vector itself; a field merge appends its field stamps after a
      // '|', and those record the arrival order.
      EXPECT_EQ(VectorOf(ab.version), VectorOf(ba.version))
          << a.Key() << " | " << b.Key();
    }
  }
}

// A total order: among any number of writes, the same one survives in
// every arrival order. Version vectors promise this for pairs only (above):
// the server keeps one write per record, not siblings, so with three or
// more mutually racing writes a merged version can hide that one of them
// was already superseded (docs/policies.md); devices still converge.
TEST_P(ConflictPolicyLaws, TheWinnerDoesNotDependOnArrivalOrder) {
  if (family_ != Family::kLww) {
    GTEST_SKIP() << "a total order is a last-write-wins law";
  }
  uint64_t seed = Seed(5);
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 3000; ++i) {
    std::vector<Write> writes;
    for (int k = 0; k < 4; ++k) writes.push_back(RandomWrite(family_, rng));
    std::vector<int> order = {0, 1, 2, 3};
    std::optional<std::string> first;
    do {
      Write stored = writes[order[0]];
      for (int k = 1; k < 4; ++k) {
        stored = Apply(*policy_, stored, writes[order[k]]);
      }
      std::string key =
          (stored.deleted ? std::string("deleted") : stored.payload) + "/" +
          (family_ == Family::kVectors ? stored.version.extra : "");
      if (!first) first = key;
      if (*first != key) {
        std::string all;
        for (int k : order) all += "\n  " + writes[k].Key();
        ADD_FAILURE() << *first << " != " << key << " for the order:" << all
                      << "\nseed " << seed;
        return;
      }
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

TEST_P(ConflictPolicyLaws, AServerStampedWriteGoesAfterWhatItReplaces) {
  Version current{1'700'000'000'000, {}};
  // The server's clock is behind the stored version (a device from the
  // future wrote it): a timestamp-less write must still order after it.
  Version stamped =
      policy_->StampIncoming(nullptr, &current, 1'600'000'000'000);
  EXPECT_EQ(policy_->Compare(stamped, current), Order::kAfter);
  Version fresh = policy_->StampIncoming(nullptr, nullptr, 1'600'000'000'000);
  EXPECT_EQ(fresh.timestamp, 1'600'000'000'000);
}

TEST_P(ConflictPolicyLaws, ANewLocalWriteIsStampedWithTheDeviceClock) {
  Version v = policy_->StampLocal(nullptr, 1234);
  EXPECT_EQ(v.timestamp, 1234);
}

}  // namespace
}  // namespace syncstack::conformance
