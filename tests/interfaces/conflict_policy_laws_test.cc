// The conflict policies of this repository: each, alone and under the
// field-level merge ("<name>+fields"), passes the ConflictPolicy law kit
// (syncstack/conformance/conflict_policy_laws.h); then the laws particular
// to one policy.
#include "syncstack/conformance/conflict_policy_laws.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "syncstack/policies/field_merge.h"
#include "syncstack/policies/hybrid_logical_clock.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/policies/registry.h"
#include "syncstack/policies/server_clock.h"
#include "syncstack/policies/version_vector.h"

namespace syncstack {
namespace {

using conformance::ConflictPolicyLaws;
using conformance::PolicyCase;
using conformance::PolicyFamily;
using Write = conformance::StoredWrite;

Write Apply(const ConflictPolicy& p, const Write& stored, const Write& client) {
  return conformance::ApplyAsService(p, stored, client);
}

uint64_t Seed(uint64_t salt) { return conformance::LawSeed(salt); }

// The registry's policy `name` under the laws of `family`.
PolicyCase Builtin(std::string name, PolicyFamily family) {
  auto make = [name] {
    auto p = NewPolicyByName(name);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? std::move(p).value() : nullptr;
  };
  return PolicyCase{std::move(name), family, make};
}

// Every built-in base policy, then each under the field-level merge.
std::vector<PolicyCase> BuiltinCases() {
  const std::pair<const char*, PolicyFamily> kBases[] = {
      {"lww", PolicyFamily::kLww},
      {"hlc", PolicyFamily::kLww},
      {"server-clock", PolicyFamily::kServerClock},
      {"server-clock-client-wins", PolicyFamily::kServerClock},
      {"version-vector", PolicyFamily::kVectors},
  };
  std::vector<PolicyCase> cases;
  for (const auto& [name, family] : kBases)
    cases.push_back(Builtin(name, family));
  for (const auto& [name, family] : kBases) {
    cases.push_back(Builtin(std::string(name) + "+fields", family));
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Policies, ConflictPolicyLaws,
                         ::testing::ValuesIn(BuiltinCases()),
                         conformance::PolicyCaseName);

// The cases above name every built-in policy.
TEST(Registry, TheLawsCoverEveryBuiltinPolicy) {
  std::vector<std::string> covered;
  for (const PolicyCase& c : BuiltinCases()) covered.push_back(c.name);
  for (const std::string& name : BuiltinPolicyNames()) {
    for (const std::string& n : {name, name + "+fields"}) {
      EXPECT_NE(std::find(covered.begin(), covered.end(), n), covered.end())
          << n;
    }
  }
}

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
