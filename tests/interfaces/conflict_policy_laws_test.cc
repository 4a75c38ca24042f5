// The laws every ConflictPolicy must obey, checked on random writes:
// determinism, antisymmetry, a total order for the winner, idempotence, and
// agreement between Compare (used to plan) and Resolve (used to decide).
#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <random>

#include "syncstack/policies/last_write_wins.h"

namespace syncstack {
namespace {

struct PolicyFactory {
  std::string name;
  std::function<std::unique_ptr<ConflictPolicy>()> make;
};

struct Write {
  Version version;
  bool deleted;
  std::string payload;
  WriteView view() const { return {version, deleted, payload}; }
};

uint64_t Seed() {
  const char* s = std::getenv("SYNCSTACK_SEED");
  return s ? std::strtoull(s, nullptr, 10) : 20261126;
}

Write RandomWrite(std::mt19937_64& rng) {
  Write w;
  w.version.timestamp = 1'700'000'000'000 + static_cast<int64_t>(rng() % 5);
  w.deleted = rng() % 5 == 0;
  if (!w.deleted) w.payload = "{\"v\":" + std::to_string(rng() % 4) + "}";
  return w;
}

// True if `a` wins over `b` when `b` is stored and `a` arrives.
bool Wins(const ConflictPolicy& p, const Write& a, const Write& b) {
  return p.Resolve(b.view(), a.view()).outcome ==
         Resolution::Outcome::kTakeClient;
}

class ConflictPolicyLaws : public ::testing::TestWithParam<PolicyFactory> {
 protected:
  std::unique_ptr<ConflictPolicy> policy_ = GetParam().make();
};

TEST_P(ConflictPolicyLaws, ResolveIsDeterministicAndAntisymmetric) {
  uint64_t seed = Seed();
  std::cout << "[ seed     ] " << seed << std::endl;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    Write a = RandomWrite(rng), b = RandomWrite(rng);
    auto ab = policy_->Resolve(a.view(), b.view()).outcome;
    EXPECT_EQ(ab, policy_->Resolve(a.view(), b.view()).outcome);
    auto ba = policy_->Resolve(b.view(), a.view()).outcome;
    bool same = a.version == b.version && a.deleted == b.deleted &&
                a.payload == b.payload;
    if (same) {
      EXPECT_EQ(ab, Resolution::Outcome::kSame) << "seed " << seed;
    } else if (ab == Resolution::Outcome::kTakeClient) {
      EXPECT_EQ(ba, Resolution::Outcome::kKeepServer) << "seed " << seed;
    } else if (ab == Resolution::Outcome::kKeepServer) {
      EXPECT_EQ(ba, Resolution::Outcome::kTakeClient) << "seed " << seed;
    }
  }
}

TEST_P(ConflictPolicyLaws, TheWinnerDoesNotDependOnArrivalOrder) {
  uint64_t seed = Seed() + 1;
  std::mt19937_64 rng(seed);
  for (int i = 0; i < 5000; ++i) {
    std::vector<Write> writes;
    for (int k = 0; k < 4; ++k) writes.push_back(RandomWrite(rng));
    // Apply the writes to a "stored" slot in every order: same survivor.
    std::vector<int> order = {0, 1, 2, 3};
    std::optional<std::string> first;
    do {
      Write stored = writes[order[0]];
      for (int k = 1; k < 4; ++k) {
        if (Wins(*policy_, writes[order[k]], stored)) stored = writes[order[k]];
      }
      std::string key = std::to_string(stored.version.timestamp) + "/" +
                        (stored.deleted ? "deleted" : stored.payload);
      if (!first) first = key;
      EXPECT_EQ(*first, key) << "seed " << seed;
    } while (std::next_permutation(order.begin(), order.end()));
  }
}

TEST_P(ConflictPolicyLaws, CompareAgreesWithResolve) {
  std::mt19937_64 rng(Seed() + 2);
  for (int i = 0; i < 20000; ++i) {
    Write a = RandomWrite(rng), b = RandomWrite(rng);
    Order o = policy_->Compare(a.version, b.version);
    Order r = policy_->Compare(b.version, a.version);
    if (o == Order::kAfter) {
      EXPECT_TRUE(Wins(*policy_, a, b));
      EXPECT_EQ(r, Order::kBefore);
    } else if (o == Order::kBefore) {
      EXPECT_TRUE(Wins(*policy_, b, a));
    } else if (o == Order::kEqual) {
      EXPECT_EQ(r, Order::kEqual);
    }
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

TEST_P(ConflictPolicyLaws, LocalStampsFollowTheDeviceClock) {
  Version v = policy_->StampLocal(nullptr, 1234);
  EXPECT_EQ(v.timestamp, 1234);
}

INSTANTIATE_TEST_SUITE_P(Policies, ConflictPolicyLaws,
                         ::testing::Values(PolicyFactory{
                             "lww", [] { return NewLastWriteWinsPolicy(); }}),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace syncstack
