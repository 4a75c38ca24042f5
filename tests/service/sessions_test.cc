// The in-memory token table is bounded per account (issue 14, item 6): a
// client logging in again and again keeps at most kMaxPerAccount tokens,
// the one expiring first goes, and other accounts' tokens are untouched.
#include "service/sessions.h"

#include <gtest/gtest.h>

namespace syncstack {
namespace {

TEST(SessionTable, TokensPerAccountAreBounded) {
  service::SessionTable table;
  constexpr Timestamp kNow = 1'700'000'000'000;
  const std::string other = table.Issue("bob", kNow + 10, kNow);
  std::vector<std::string> tokens;
  const size_t n = service::SessionTable::kMaxPerAccount + 10;
  for (size_t i = 0; i < n; ++i) {
    tokens.push_back(
        table.Issue("alice", kNow + 1000 + static_cast<Timestamp>(i), kNow));
  }
  EXPECT_EQ(table.size(), service::SessionTable::kMaxPerAccount + 1);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_FALSE(table.Find(tokens[i], kNow).has_value()) << i;
  }
  for (size_t i = 10; i < n; ++i) {
    auto found = table.Find(tokens[i], kNow);
    ASSERT_TRUE(found.has_value()) << i;
    EXPECT_EQ(**found, "alice");
  }
  auto bob = table.Find(other, kNow);
  ASSERT_TRUE(bob.has_value()) << "bob expires first but is another account";
  EXPECT_EQ(**bob, "bob");
}

}  // namespace
}  // namespace syncstack
