// Users in the server's database: Argon2id hashes, login, name rules.
#include "syncstack/users.h"

#include <gtest/gtest.h>

#include "syncstack/memory/memory_store.h"

namespace syncstack {
namespace {

TEST(Users, AddedUserLogsInWithTheRightPasswordOnly) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(AddUser(**db, "alice", "correct horse").ok());
  auto auth = NewDatabaseAuthenticator(**db);
  auto ok = auth->Login("alice", "correct horse");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(*ok, "alice");
  auto wrong = auth->Login("alice", "correct horse ");
  EXPECT_EQ(wrong.status().code(), Status::Code::kUnauthorized);
  auto unknown = auth->Login("mallory", "correct horse");
  EXPECT_EQ(unknown.status().code(), Status::Code::kUnauthorized);
  // Same words for both: nothing tells which user names exist.
  EXPECT_EQ(wrong.status().message(), unknown.status().message());
}

TEST(Users, OnlyAHashIsStored) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(AddUser(**db, "alice", "s3cret-password").ok());
  auto users = (*db)->OpenAccount("_users");
  ASSERT_TRUE(users.ok());
  auto stored = (*users)->GetMeta("user/alice");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->find("s3cret"), std::string::npos);
  EXPECT_EQ((*stored)->rfind("$argon2id$", 0), 0u) << **stored;
  // Salted: the same password twice gives two different hashes.
  ASSERT_TRUE(AddUser(**db, "bob", "s3cret-password").ok());
  EXPECT_NE(*(*users)->GetMeta("user/bob").value(), **stored);
}

TEST(Users, ExistingUserNeedsReplace) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(AddUser(**db, "alice", "one").ok());
  EXPECT_EQ(AddUser(**db, "alice", "two").code(), Status::Code::kConflict);
  ASSERT_TRUE(AddUser(**db, "alice", "two", /*replace=*/true).ok());
  auto auth = NewDatabaseAuthenticator(**db);
  EXPECT_FALSE(auth->Login("alice", "one").ok());
  EXPECT_TRUE(auth->Login("alice", "two").ok());
}

TEST(Users, BadNamesAndPasswordsAreRefused) {
  auto db = OpenMemoryDatabase();
  for (const char* name : {"", "_users", ".x", "-x", "a b", "a/b", "é",
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                           "aaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_EQ(AddUser(**db, name, "pw").code(), Status::Code::kInvalidArgument)
        << name;
  }
  EXPECT_EQ(AddUser(**db, "alice", "").code(), Status::Code::kInvalidArgument);
  EXPECT_TRUE(AddUser(**db, "alice.b@example-1.org", "pw").ok());
}

}  // namespace
}  // namespace syncstack

namespace syncstack {
namespace {

// Two server processes (two authenticators, two services) on one database:
// a token either makes is accepted by the other, so serve processes behind
// one load balancer need no shared memory; altered or expired tokens fail.
TEST(Users, TokensAreAcceptedByEveryProcessOfTheDatabase) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(AddUser(**db, "alice", "correct horse", false).ok());
  auto one = NewDatabaseAuthenticator(**db);
  auto two = NewDatabaseAuthenticator(**db);
  auto token = one->SignToken("alice", 5'000);
  ASSERT_TRUE(token.has_value());
  auto account = two->VerifyToken(*token, 4'999);
  ASSERT_TRUE(account.ok()) << account.status().ToString();
  EXPECT_EQ(*account, "alice");
  EXPECT_EQ(two->VerifyToken(*token, 5'000).status().code(),
            Status::Code::kUnauthorized);  // expired
  std::string altered = *token;
  altered[4] = altered[4] == 'a' ? 'b' : 'a';  // another account
  EXPECT_EQ(two->VerifyToken(altered, 1).status().code(),
            Status::Code::kUnauthorized);
  std::string later = *token;
  later.replace(later.find(".5000."), 6, ".9000.");  // a later expiry
  EXPECT_EQ(two->VerifyToken(later, 1).status().code(),
            Status::Code::kUnauthorized);
  for (const char* bad : {"", "s1.", "s1..", "s1.zz.1.00", "s2.", "s2..",
                          "s2...", "s2....", "s2.zz.1.1.00", "random-token"}) {
    EXPECT_EQ(two->VerifyToken(bad, 1).status().code(),
              Status::Code::kUnauthorized)
        << bad;
  }
  // Another database has another key.
  auto other_db = OpenMemoryDatabase();
  auto other = NewDatabaseAuthenticator(**other_db);
  EXPECT_EQ(other->VerifyToken(*token, 1).status().code(),
            Status::Code::kUnauthorized);
}

}  // namespace
}  // namespace syncstack

namespace syncstack {
namespace {

// Issue 14 item 8: a password change or a removal ends every token issued
// before it, in every process of the database; a user added again under
// the same name does not revive them.
TEST(Users, PasswordChangeAndRemovalEndEarlierTokens) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(AddUser(**db, "alice", "one").ok());
  ASSERT_TRUE(AddUser(**db, "bob", "bob-pw").ok());
  auto server = NewDatabaseAuthenticator(**db);
  auto other_process = NewDatabaseAuthenticator(**db);
  auto before = server->SignToken("alice", 10'000);
  auto bobs = server->SignToken("bob", 10'000);
  ASSERT_TRUE(before && bobs);
  ASSERT_TRUE(server->VerifyToken(*before, 1).ok());

  ASSERT_TRUE(AddUser(**db, "alice", "two", /*replace=*/true).ok());
  for (Authenticator* auth : {server.get(), other_process.get()}) {
    auto ended = auth->VerifyToken(*before, 1);
    EXPECT_EQ(ended.status().code(), Status::Code::kUnauthorized);
  }
  EXPECT_TRUE(server->VerifyToken(*bobs, 1).ok()) << "bob's token ended too";
  auto after = server->SignToken("alice", 10'000);
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(other_process->VerifyToken(*after, 1).ok());

  ASSERT_TRUE(RemoveUser(**db, "alice").ok());
  EXPECT_EQ(server->VerifyToken(*after, 1).status().code(),
            Status::Code::kUnauthorized);
  EXPECT_FALSE(server->Login("alice", "two").ok());
  EXPECT_FALSE(*HasUser(**db, "alice"));
  EXPECT_EQ(RemoveUser(**db, "alice").code(), Status::Code::kNotFound);

  ASSERT_TRUE(AddUser(**db, "alice", "three").ok());  // not a --replace
  EXPECT_TRUE(*HasUser(**db, "alice"));
  EXPECT_TRUE(server->Login("alice", "three").ok());
  EXPECT_FALSE(server->VerifyToken(*before, 1).ok());
  EXPECT_FALSE(server->VerifyToken(*after, 1).ok());
  auto fresh = server->SignToken("alice", 10'000);
  ASSERT_TRUE(fresh.has_value());
  EXPECT_TRUE(server->VerifyToken(*fresh, 1).ok());
  EXPECT_TRUE(server->VerifyToken(*bobs, 1).ok());
}

}  // namespace
}  // namespace syncstack
