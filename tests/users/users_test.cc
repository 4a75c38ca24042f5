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
