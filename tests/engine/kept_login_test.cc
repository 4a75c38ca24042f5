// The login token a device keeps between runs (SyncOptions::server,
// engine/kept_login.h): later runs present it instead of logging in; it is
// tied to the user and the server it was issued for, is not presented in
// the second half of its lifetime, and a 401 drops it and the run logs in
// with the password once.
#include "engine/kept_login.h"

#include <gtest/gtest.h>

#include <set>

#include "syncstack/codec.h"
#include "syncstack/metadata_keys.h"
#include "syncstack/protocol.h"
#include "world.h"

namespace syncstack::testing {
namespace {

// Counts logins and the tokens presented; answers 401, as a server that
// forgot them (restarted, or the user's password changed) would, to
// requests bearing a revoked token.
class LoginWatch final : public TransportWrapper {
 public:
  explicit LoginWatch(Transport& target) : TransportWrapper(target) {}

  Result<Response> Call(const Request& request) noexcept override {
    if (request.path == kLoginPath) logins++;
    if (!request.token.empty()) presented.insert(request.token);
    if (revoked.contains(request.token)) {
      refused++;
      Response response;
      response.status = 401;
      EncodeError(Status::Unauthorized("token expired"), -1, response.body);
      return response;
    }
    return TransportWrapper::Call(request);
  }

  int logins = 0;
  int refused = 0;
  std::set<std::string> presented;
  std::set<std::string> revoked;
};

std::optional<engine::KeptLogin> Kept(Store& store) {
  return engine::ReadKeptLogin(store);
}

struct KeptLoginTest : ::testing::Test {
  KeptLoginTest() : world(StoreKind::kSqlite), watch(world.loopback()) {
    Device& writer = world.AddDevice("writer");
    EXPECT_TRUE(writer.Put("todo", RecordId::Random(), "{\"v\":1}").ok());
    EXPECT_TRUE(writer.Sync().ok());
    phone = &world.AddDevice("phone", "alice", &watch);
    phone->options.server = "http://sync.example:8080";
  }

  World world;
  LoginWatch watch;
  Device* phone = nullptr;
};

TEST_F(KeptLoginTest, LaterRunsPresentTheKeptTokenInsteadOfLoggingIn) {
  ASSERT_OK_AND_ASSIGN(SyncReport first, phone->Sync());
  EXPECT_FALSE(first.login_reused);
  EXPECT_EQ(watch.logins, 1);
  std::optional<engine::KeptLogin> kept = Kept(*phone->store);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->user, "alice");
  EXPECT_EQ(kept->server, "http://sync.example:8080");
  EXPECT_EQ(kept->expires_at - kept->issued_at, 3600 * 1000);

  for (int run = 0; run < 3; ++run) {
    world.clock().Advance(60 * 1000);  // a sync a minute
    ASSERT_OK(phone->Put("todo", RecordId::Random(), "{\"v\":2}"));
    ASSERT_OK_AND_ASSIGN(SyncReport again, phone->Sync());
    EXPECT_TRUE(again.login_reused);
    EXPECT_EQ(again.cases.pushed_adds, 1u);
  }
  EXPECT_EQ(watch.logins, 1);
  EXPECT_EQ(watch.presented.size(), 1u);
  EXPECT_TRUE(DumpLive(*phone->store) == DumpLive(world.ServerStore()));
}

TEST_F(KeptLoginTest, WithoutAServerNameEveryRunLogsInAndNothingIsKept) {
  phone->options.server.clear();
  ASSERT_OK(phone->Sync().status());
  ASSERT_OK(phone->Sync().status());
  EXPECT_EQ(watch.logins, 2);
  EXPECT_FALSE(Kept(*phone->store).has_value());
}

TEST_F(KeptLoginTest, TheTokenIsTiedToItsUserAndServer) {
  ASSERT_OK(phone->Sync().status());
  ASSERT_EQ(watch.logins, 1);
  // Another server address: the token is not presented there.
  phone->options.server = "http://other.example:8080";
  ASSERT_OK_AND_ASSIGN(SyncReport other, phone->Sync());
  EXPECT_FALSE(other.login_reused);
  EXPECT_EQ(watch.logins, 2);
  ASSERT_TRUE(Kept(*phone->store).has_value());
  EXPECT_EQ(Kept(*phone->store)->server, "http://other.example:8080");
  // Another user name on the same store and server: a login of its own.
  // (bob's empty account makes the run stop at the mass-deletion guard;
  // only its login matters here.)
  phone->options.user = "bob";
  (void)phone->Sync();
  EXPECT_EQ(watch.logins, 3);
  ASSERT_TRUE(Kept(*phone->store).has_value());
  EXPECT_EQ(Kept(*phone->store)->user, "bob");
  EXPECT_EQ(watch.presented.size(), 3u);
}

TEST_F(KeptLoginTest, ATokenPastHalfItsLifetimeIsReplaced) {
  ASSERT_OK(phone->Sync().status());
  world.clock().Advance(29 * 60 * 1000);
  ASSERT_OK_AND_ASSIGN(SyncReport reused, phone->Sync());
  EXPECT_TRUE(reused.login_reused);
  EXPECT_EQ(watch.logins, 1);
  world.clock().Advance(2 * 60 * 1000);  // 31 minutes of 60 gone
  ASSERT_OK_AND_ASSIGN(SyncReport fresh, phone->Sync());
  EXPECT_FALSE(fresh.login_reused);
  EXPECT_EQ(watch.logins, 2);
  EXPECT_EQ(watch.refused, 0);
}

TEST_F(KeptLoginTest, ARefusedTokenIsDroppedAndTheRunLogsInOnce) {
  ASSERT_OK(phone->Sync().status());
  std::optional<engine::KeptLogin> kept = Kept(*phone->store);
  ASSERT_TRUE(kept.has_value());
  watch.revoked.insert(kept->token);

  ASSERT_OK(phone->Put("todo", RecordId::Random(), "{\"v\":3}"));
  ASSERT_OK_AND_ASSIGN(SyncReport report, phone->Sync());
  EXPECT_FALSE(report.login_reused);
  EXPECT_EQ(report.cases.pushed_adds, 1u);
  EXPECT_EQ(watch.refused, 1);
  EXPECT_EQ(watch.logins, 2);
  std::optional<engine::KeptLogin> now = Kept(*phone->store);
  ASSERT_TRUE(now.has_value());
  EXPECT_NE(now->token, kept->token);
  EXPECT_TRUE(DumpLive(*phone->store) == DumpLive(world.ServerStore()));

  // The same without the lock: the first call is the collection list.
  watch.revoked.insert(now->token);
  phone->options.lock = false;
  ASSERT_OK_AND_ASSIGN(SyncReport unlocked, phone->Sync());
  EXPECT_FALSE(unlocked.login_reused);
  EXPECT_EQ(watch.refused, 2);
  EXPECT_EQ(watch.logins, 3);
}

TEST_F(KeptLoginTest, ARefusalAfterALoginFailsTheRunAndDropsTheToken) {
  ASSERT_OK(phone->Sync().status());
  // Every token is refused from now on, the fresh one too: the run logs in
  // once, not in a loop, fails with kUnauthorized and keeps no token.
  class RefuseAll final : public TransportWrapper {
   public:
    using TransportWrapper::TransportWrapper;
    Result<Response> Call(const Request& request) noexcept override {
      if (request.path == kLoginPath) {
        logins++;
        return TransportWrapper::Call(request);
      }
      Response response;
      response.status = 401;
      EncodeError(Status::Unauthorized("token expired"), -1, response.body);
      return response;
    }
    int logins = 0;
  };
  RefuseAll refuse(world.loopback());
  SyncEngine engine(*phone->store, refuse, world.policy());
  auto run = engine.Run(phone->options);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), Status::Code::kUnauthorized);
  EXPECT_EQ(refuse.logins, 1);
  EXPECT_FALSE(Kept(*phone->store).has_value());
}

TEST(KeptLoginText, RoundTripsAndRefusesMalformedText) {
  engine::KeptLogin login;
  login.user = "al:ice";
  login.server = "https://h:1/x";
  login.policy = "hlc";
  login.token = "t0k:en";
  login.issued_at = 1'700'000'000'000;
  login.expires_at = login.issued_at + 3'600'000;
  std::string text = engine::EncodeKeptLogin(login);
  auto back = engine::DecodeKeptLogin(text);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->user, login.user);
  EXPECT_EQ(back->server, login.server);
  EXPECT_EQ(back->policy, login.policy);
  EXPECT_EQ(back->token, login.token);
  EXPECT_EQ(back->issued_at, login.issued_at);
  EXPECT_EQ(back->expires_at, login.expires_at);
  for (std::string bad :
       {std::string(), text.substr(0, text.size() - 1), text + "x",
        "2" + text.substr(1), std::string("garbage")}) {
    EXPECT_FALSE(engine::DecodeKeptLogin(bad).has_value()) << bad;
  }
  EXPECT_TRUE(engine::Reusable(login, "al:ice", "https://h:1/x",
                               login.issued_at + 1000));
  EXPECT_FALSE(engine::Reusable(login, "al:ice", "", login.issued_at));
  EXPECT_FALSE(
      engine::Reusable(login, "bob", "https://h:1/x", login.issued_at));
  EXPECT_FALSE(
      engine::Reusable(login, "al:ice", "https://h:1/x", login.issued_at - 1));
  EXPECT_FALSE(engine::Reusable(login, "al:ice", "https://h:1/x",
                                login.issued_at + 1'800'000));
}

}  // namespace
}  // namespace syncstack::testing
