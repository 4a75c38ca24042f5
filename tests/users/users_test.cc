// Users in the server's database: Argon2id hashes, login, name rules.
#include "syncstack/users.h"

#include <gtest/gtest.h>

#include "syncstack/memory/memory_store.h"
#include "syncstack/metadata_keys.h"

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

namespace syncstack {
namespace {

// Issue 15 item 5: the store keeps when a user was added and last logged
// in; users added before show neither.
TEST(Users, ListShowsCreationAndLastLoginTimes) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  ManualClock clock(1'767'225'600'000);
  ASSERT_TRUE(AddUser(**db, "bob", "bob-pw", false, clock).ok());
  clock.Advance(5'000);
  ASSERT_TRUE(AddUser(**db, "alice", "alice-pw", false, clock).ok());
  // A user written before times were kept: only its hash.
  auto users = (*db)->OpenAccount("_users");
  ASSERT_TRUE(users.ok());
  ChangeBatch legacy;
  legacy.SetMeta("user/carol", "$argon2id$v=19$m=65536,t=2,p=1$legacy");
  ASSERT_TRUE((*users)->Apply(WriteOptions(), legacy).ok());

  auto list = ListUsers(**db);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].name, "alice");
  EXPECT_EQ((*list)[0].created, 1'767'225'605'000);
  EXPECT_EQ((*list)[0].last_login, std::nullopt);
  EXPECT_EQ((*list)[1].name, "bob");
  EXPECT_EQ((*list)[1].created, 1'767'225'600'000);
  EXPECT_EQ((*list)[2].name, "carol");
  EXPECT_EQ((*list)[2].created, std::nullopt);
  EXPECT_EQ((*list)[2].last_login, std::nullopt);

  auto auth = NewDatabaseAuthenticator(**db, clock);
  clock.Advance(1'000);
  ASSERT_TRUE(auth->Login("bob", "bob-pw").ok());
  EXPECT_FALSE(auth->Login("alice", "wrong").ok());  // a failure notes nothing
  list = ListUsers(**db);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)[1].last_login, 1'767'225'606'000);
  EXPECT_EQ((*list)[0].last_login, std::nullopt);

  // Within the note interval a login writes nothing; after it, it does.
  clock.Advance(kLoginNoteInterval - 1);
  ASSERT_TRUE(auth->Login("bob", "bob-pw").ok());
  EXPECT_EQ((*ListUsers(**db))[1].last_login, 1'767'225'606'000);
  clock.Advance(1);
  ASSERT_TRUE(auth->Login("bob", "bob-pw").ok());
  EXPECT_EQ((*ListUsers(**db))[1].last_login,
            1'767'225'606'000 + kLoginNoteInterval);

  // --replace keeps the creation time; removal takes the user off the list.
  clock.Advance(10'000);
  ASSERT_TRUE(AddUser(**db, "bob", "new-pw", true, clock).ok());
  EXPECT_EQ((*ListUsers(**db))[1].created, 1'767'225'600'000);
  ASSERT_TRUE(RemoveUser(**db, "alice").ok());
  list = ListUsers(**db);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "bob");
  // Added again: a new creation time, no last login of the old user.
  ASSERT_TRUE(AddUser(**db, "alice", "again", false, clock).ok());
  list = ListUsers(**db);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ((*list)[0].created, clock.Now());
  EXPECT_EQ((*list)[0].last_login, std::nullopt);
}

// RemoveUser takes the user's account with it: records of every
// collection, tombstones and metadata; another user's stay.
TEST(Users, RemoveTakesTheUsersRecordsAndMetadata) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(AddUser(**db, "alice", "a").ok());
  ASSERT_TRUE(AddUser(**db, "bob", "b").ok());
  for (const char* name : {"alice", "bob"}) {
    auto store = (*db)->OpenAccount(name);
    ASSERT_TRUE(store.ok());
    ChangeBatch batch;
    Record r;
    r.collection = "todo";
    r.id = RecordId::FromBytes(std::string(16, 'x'));
    r.payload = "{}";
    batch.Put(r);
    r.collection = "notes";
    r.deleted = true;
    batch.Put(r);
    batch.SetMeta(std::string(meta::kSequence), "2");
    ASSERT_TRUE((*store)->Apply(WriteOptions(), batch).ok());
  }
  ASSERT_TRUE(RemoveUser(**db, "alice").ok());
  auto alice = (*db)->OpenAccount("alice");
  EXPECT_TRUE((*alice)->Collections()->empty());
  EXPECT_FALSE((*alice)->GetMeta(meta::kSequence)->has_value());
  auto bob = (*db)->OpenAccount("bob");
  EXPECT_EQ(*(*bob)->Collections(),
            (std::vector<std::string>{"notes", "todo"}));
  EXPECT_EQ((*bob)->GetMeta(meta::kSequence)->value_or(""), "2");
  EXPECT_TRUE(*HasUser(**db, "bob"));
}

}  // namespace
}  // namespace syncstack
