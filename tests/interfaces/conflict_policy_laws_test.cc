// The laws every ConflictPolicy must obey, checked on random writes:
// determinism, idempotence, both sides (the device planning with Compare,
// the server deciding with Resolve) reaching the same outcome, and, per
// policy family, the order laws: a total order for last-write-wins (the
// winner does not depend on arrival order), dominance and a commutative,
// associative, idempotent merge for version vectors, base checks for the
// server clock. Seeds are fixed and printed; SYNCSTACK_SEED replays one.
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <random>

#include "syncstack/policies/field_merge.h"
#include "syncstack/policies/hybrid_logical_clock.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/registry.h"
#include "syncstack/policies/server_clock.h"
#include "syncstack/policies/version_vector.h"

namespace syncstack {
namespace {

enum class Family { kLww, kServerClock, kVectors };

struct PolicyCase {
  std::string name;
  Family family;
};

std::unique_ptr<ConflictPolicy> Make(const PolicyCase& c) {
  auto p = NewPolicyByName(c.name);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

// A write as a store holds it.
struct Write {
  Version version;
  bool deleted = false;
  std::string payload;
  WriteView view(const Version* proposed = nullptr) const {
    return {version, deleted, payload, proposed};
  }
  std::string Key() const {
    return std::to_string(version.timestamp) + "/" + version.extra + "/" +
           (deleted ? "deleted" : payload);
  }
  friend bool operator==(const Write&, const Write&) = default;
};

uint64_t Seed(uint64_t salt) {
  const char* s = std::getenv("SYNCSTACK_SEED");
  uint64_t seed = (s ? std::strtoull(s, nullptr, 10) : 20261126) + salt;
  std::cout << "[ seed     ] " << seed
            << " (replay: SYNCSTACK_SEED=" << seed - salt << ")" << std::endl;
  return seed;
}

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

// What the service stores after `client` arrives over `stored`: the
// policy's stamp and resolution, applied as SyncService::Synchronise does
// (without the service's own move of last_update past the old one, which
// only serves the manifest).
Write Apply(const ConflictPolicy& p, const Write& stored, const Write& client,
            uint64_t sequence = 1) {
  IncomingWrite in;
  in.proposed = &client.version;
  in.current = &stored.version;
  in.server_now = 1'600'000'000'000;
  in.sequence = sequence;
  in.deleted = client.deleted;
  in.payload = client.payload;
  Version stamped = p.StampIncoming(in);
  Resolution r = p.Resolve(
      stored.view(),
      Write{stamped, client.deleted, client.payload}.view(&client.version));
  Write out = stored;
  switch (r.outcome) {
    case Resolution::Outcome::kSame:
      return stored;
    case Resolution::Outcome::kKeepServer:
      if (r.has_version) out.version = r.version;
      break;
    case Resolution::Outcome::kTakeClient:
      out = Write{r.has_version ? r.version : stamped, client.deleted,
                  client.payload};
      break;
    case Resolution::Outcome::kMerged:
      out = Write{r.version, false, r.payload};
      break;
  }
  return out;
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

class ConflictPolicyLaws : public ::testing::TestWithParam<PolicyCase> {
 protected:
  std::unique_ptr<ConflictPolicy> policy_ = Make(GetParam());
  Family family_ = GetParam().family;
};

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
    auto outcome = policy_->Resolve(b.view(), a.view(&a.version)).outcome;
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
        if (family_ != Family::kServerClock) {
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
      EXPECT_EQ(ab.version.extra, ba.version.extra);
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

INSTANTIATE_TEST_SUITE_P(
    Policies, ConflictPolicyLaws,
    ::testing::Values(PolicyCase{"lww", Family::kLww},
                      PolicyCase{"hlc", Family::kLww},
                      PolicyCase{"server-clock", Family::kServerClock},
                      PolicyCase{"server-clock-client-wins",
                                 Family::kServerClock},
                      PolicyCase{"version-vector", Family::kVectors}),
    [](const auto& p) {
      std::string n = p.param.name;
      for (char& c : n) {
        if (c == '-') c = '_';
      }
      return n;
    });

// --- per-policy laws ---

TEST(HybridLogicalClockLaws, StampsGoAfterEverythingSeen) {
  auto p = NewHybridLogicalClockPolicy();
  LocalWrite w;
  w.now = 1000;           // the device clock is far behind...
  w.highest_seen = 5000;  // ...what it has synced
  w.replica = "a1";
  EXPECT_EQ(p->StampLocal(w).timestamp, 5001);
  Version prev{7000, {}};
  w.previous = &prev;
  EXPECT_EQ(p->StampLocal(w).timestamp, 7001);
  w.now = 9000;  // a clock ahead of both wins
  EXPECT_EQ(p->StampLocal(w).timestamp, 9000);
}

TEST(VersionVectorLaws, MergeIsCommutativeAssociativeIdempotent) {
  uint64_t seed = Seed(6);
  std::mt19937_64 rng(seed);
  auto random_vv = [&] {
    VersionVector vv;
    for (const char* r : {"a", "b", "c", "d"}) {
      if (rng() % 2) vv[r] = 1 + rng() % 5;
    }
    return vv;
  };
  for (int i = 0; i < 5000; ++i) {
    VersionVector a = random_vv(), b = random_vv(), c = random_vv();
    EXPECT_EQ(MergeVersionVectors(a, b), MergeVersionVectors(b, a));
    EXPECT_EQ(MergeVersionVectors(MergeVersionVectors(a, b), c),
              MergeVersionVectors(a, MergeVersionVectors(b, c)));
    EXPECT_EQ(MergeVersionVectors(a, a), a);
    // The merge dominates (or equals) both sides.
    Order o = CompareVersionVectors(MergeVersionVectors(a, b), a);
    EXPECT_TRUE(o == Order::kAfter || o == Order::kEqual);
    // Text round trip.
    auto parsed = ParseVersionVector(FormatVersionVector(a));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, a);
  }
}

TEST(VersionVectorLaws, DominanceDecidesAndConcurrencyIsReported) {
  auto p = NewVersionVectorPolicy();
  Write base{{100, "a:1"}, false, R"({"t":"base"})"};
  Write edit{{200, "a:1,b:1"}, false, R"({"t":"edit"})"};
  Write other{{150, "a:2"}, false, R"({"t":"other"})"};
  // A dominating write replaces; a dominated one is kept out.
  EXPECT_EQ(p->Resolve(base.view(), edit.view(&edit.version)).outcome,
            Resolution::Outcome::kTakeClient);
  EXPECT_EQ(p->Resolve(edit.view(), base.view(&base.version)).outcome,
            Resolution::Outcome::kKeepServer);
  // Concurrent: reported, stored under the merged vector, later wins.
  Resolution r = p->Resolve(other.view(), edit.view(&edit.version));
  EXPECT_TRUE(r.conflict);
  EXPECT_EQ(r.outcome, Resolution::Outcome::kTakeClient);
  EXPECT_EQ(r.version.extra, "a:2,b:1");
  // An offline edit concurrent with a delete: the edit survives, reported.
  Write tombstone{{120, "a:2"}, true, ""};
  Resolution d = p->Resolve(tombstone.view(), edit.view(&edit.version));
  EXPECT_TRUE(d.conflict);
  EXPECT_EQ(d.outcome, Resolution::Outcome::kTakeClient);
  Resolution d2 = p->Resolve(edit.view(), tombstone.view(&tombstone.version));
  EXPECT_TRUE(d2.conflict);
  EXPECT_EQ(d2.outcome, Resolution::Outcome::kKeepServer);
  // ...or the delete, by option.
  VersionVectorOptions o;
  o.delete_wins = true;
  auto pd = NewVersionVectorPolicy(o);
  EXPECT_EQ(pd->Resolve(tombstone.view(), edit.view(&edit.version)).outcome,
            Resolution::Outcome::kKeepServer);
}

TEST(VersionVectorLaws, AUserMergeCallbackDecidesConcurrentWrites) {
  VersionVectorOptions o;
  o.merge = [](const WriteView& s,
               const WriteView& c) -> std::optional<std::string> {
    // Symmetric: the sorted concatenation of both.
    std::string x(s.payload), y(c.payload);
    if (y < x) std::swap(x, y);
    return R"({"both":[)" + x + "," + y + "]}";
  };
  auto p = NewVersionVectorPolicy(o);
  Write a{{200, "a:1,b:1"}, false, R"({"t":"a"})"};
  Write b{{150, "a:2"}, false, R"({"t":"b"})"};
  Write ab = Apply(*p, a, b), ba = Apply(*p, b, a);
  EXPECT_EQ(ab.payload, R"({"both":[{"t":"a"},{"t":"b"}]})");
  EXPECT_EQ(ab, ba);
}

TEST(ServerClockLaws, AStaleBaseIsAConflictTheServerWinsByDefault) {
  auto p = NewServerClockPolicy();
  Write current{{5000, "s7"}, false, R"({"t":"server"})"};
  LocalWrite lw;
  Version base{4000, "s6"};
  lw.previous = &base;
  lw.now = 99;  // the device clock plays no part
  Version stale = p->StampLocal(lw);
  EXPECT_EQ(stale.extra, "b6");
  Write edit{stale, false, R"({"t":"device"})"};
  Resolution r = p->Resolve(current.view(), edit.view(&edit.version));
  EXPECT_EQ(r.outcome, Resolution::Outcome::kKeepServer);
  EXPECT_TRUE(r.conflict);
  // The same edit on the current base is taken.
  Version fresh_base{5000, "s7"};
  lw.previous = &fresh_base;
  Write ok{p->StampLocal(lw), false, R"({"t":"device"})"};
  EXPECT_EQ(p->Resolve(current.view(), ok.view(&ok.version)).outcome,
            Resolution::Outcome::kTakeClient);
  // Client wins by option, still reported.
  ServerClockOptions o;
  o.client_wins = true;
  Resolution rc = NewServerClockPolicy(o)->Resolve(current.view(),
                                                   edit.view(&edit.version));
  EXPECT_EQ(rc.outcome, Resolution::Outcome::kTakeClient);
  EXPECT_TRUE(rc.conflict);
}

TEST(ServerClockLaws, TheServerStampsFromItsClockAndSequence) {
  auto p = NewServerClockPolicy();
  IncomingWrite in;
  Version device{9'999'999'999'999, "b"};  // a device clock far ahead
  in.proposed = &device;
  in.server_now = 1000;
  in.sequence = 42;
  Version v = p->StampIncoming(in);
  EXPECT_EQ(v.timestamp, 1000);
  EXPECT_EQ(v.extra, "s42");
  Version current{2000, "s41"};
  in.current = &current;
  in.sequence = 43;
  Version w = p->StampIncoming(in);
  EXPECT_EQ(w.timestamp, 2001);  // never before what it replaces
  EXPECT_EQ(p->Compare(w, current), Order::kAfter);
}

TEST(FieldMergeLaws, ConcurrentEditsOfDifferentFieldsBothSurvive) {
  for (const char* inner : {"lww", "hlc", "version-vector", "server-clock"}) {
    SCOPED_TRACE(inner);
    auto p = NewPolicyByName(std::string(inner) + "+fields");
    ASSERT_TRUE(p.ok());
    // Both devices start from the same synced record.
    LocalWrite base_write;
    base_write.now = 1000;
    base_write.replica = "a1";
    base_write.payload = R"({"title":"milk","qty":1})";
    Version base = (*p)->StampLocal(base_write);
    auto edit = [&](const char* replica, Timestamp now, const char* payload) {
      LocalWrite w;
      w.previous = &base;
      w.previous_payload = base_write.payload;
      w.now = now;
      w.replica = replica;
      w.payload = payload;
      return Write{(*p)->StampLocal(w), false, payload};
    };
    Write a = edit("a1", 2000, R"({"title":"oat milk","qty":1})");
    Write b = edit("b2", 3000, R"({"title":"milk","qty":2})");
    Write stored_a =
        Apply(**p, Write{base, false, std::string(base_write.payload)}, a);
    Write result = Apply(**p, stored_a, b);
    EXPECT_EQ(result.payload, R"({"title":"oat milk","qty":2})");
    if (std::string(inner) != "server-clock") {
      // Either arrival order gives the same record.
      Write stored_b =
          Apply(**p, Write{base, false, std::string(base_write.payload)}, b);
      EXPECT_EQ(Apply(**p, stored_b, a).payload, result.payload);
    }
  }
}

TEST(Registry, EveryNameMakesItsPolicy) {
  for (const auto& name : BuiltinPolicyNames()) {
    for (const std::string& n : {name, name + "+fields"}) {
      auto p = NewPolicyByName(n);
      ASSERT_TRUE(p.ok()) << n;
      EXPECT_EQ((*p)->name(), n);
    }
  }
  EXPECT_FALSE(NewPolicyByName("nope").ok());
}

}  // namespace
}  // namespace syncstack
