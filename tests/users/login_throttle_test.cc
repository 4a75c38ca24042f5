// Login throttling (issue 14 item 7): failed logins per user and per
// address wait longer and longer, throttled attempts never reach the
// password check, other users are not slowed, the counters stay bounded,
// and at most N password checks run at once. Time is a ManualClock.
#include "syncstack/login_throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "syncstack/codec.h"
#include "syncstack/memory/memory_store.h"
#include "syncstack/policies/last_write_wins.h"
#include "syncstack/protocol.h"
#include "syncstack/service.h"
#include "syncstack/users.h"

namespace syncstack {
namespace {

using namespace std::chrono_literals;

// Accepts "<user>-pw" for every user; counts the checks it was asked for
// and how many ran at once.
class CountingAuthenticator final : public Authenticator {
 public:
  Result<std::string> Login(std::string_view user,
                            std::string_view password) noexcept override {
    int now = ++running_;
    int seen = max_running_.load();
    while (now > seen && !max_running_.compare_exchange_weak(seen, now)) {
    }
    ++checks_;
    if (hold_ > 0ms) std::this_thread::sleep_for(hold_);
    --running_;
    if (password == std::string(user) + "-pw") return std::string(user);
    return Status::Unauthorized("wrong user or password");
  }
  std::atomic<int> checks_{0};
  std::atomic<int> running_{0};
  std::atomic<int> max_running_{0};
  std::chrono::milliseconds hold_{0};
};

struct Attempt {
  Status status;
  int64_t retry_after = -1;
};

Attempt Try(Authenticator& auth, std::string_view peer, std::string_view user,
            std::string_view password) {
  Attempt a;
  auto account = auth.LoginFrom(peer, user, password, a.retry_after);
  a.status = account.ok() ? Status::Ok() : account.status();
  return a;
}

LoginThrottleOptions SmallOptions() {
  LoginThrottleOptions o;
  o.free_failures_per_user = 3;
  o.free_failures_per_address = 10;
  o.first_wait = 1000ms;
  o.max_wait = 8000ms;
  o.forget_after = 60000ms;
  return o;
}

TEST(LoginThrottle, FailuresBackOffExponentiallyUpToTheCap) {
  ManualClock clock(1'000'000);
  CountingAuthenticator inner;
  auto auth = NewThrottledAuthenticator(inner, clock, SmallOptions());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Try(*auth, "10.0.0.1", "alice", "x").status.code(),
              Status::Code::kUnauthorized);
  }
  // The third failure is the last free one: from then on, waits of 1, 2,
  // 4, 8, 8 s.
  EXPECT_EQ(Try(*auth, "10.0.0.1", "alice", "x").status.code(),
            Status::Code::kUnauthorized);
  for (int64_t expected : {1, 2, 4, 8, 8}) {
    Attempt refused = Try(*auth, "10.0.0.1", "alice", "alice-pw");
    EXPECT_EQ(refused.status.code(), Status::Code::kUnavailable);
    EXPECT_EQ(refused.retry_after, expected);
    int checks = inner.checks_;
    clock.Advance(expected * 1000 - 1);
    EXPECT_EQ(Try(*auth, "10.0.0.1", "alice", "x").retry_after, 1)
        << "admitted before the wait was over";
    EXPECT_EQ(inner.checks_, checks) << "a throttled attempt was checked";
    clock.Advance(1);
    EXPECT_EQ(Try(*auth, "10.0.0.1", "alice", "x").status.code(),
              Status::Code::kUnauthorized);
  }
}

// A slow password check (here: 5 s of ManualClock time) does not use up
// the wait: it counts from the failure's answer.
class SlowAuthenticator final : public Authenticator {
 public:
  explicit SlowAuthenticator(ManualClock& clock) : clock_(clock) {}
  Result<std::string> Login(std::string_view,
                            std::string_view) noexcept override {
    clock_.Advance(5000);
    return Status::Unauthorized("wrong user or password");
  }

 private:
  ManualClock& clock_;
};

TEST(LoginThrottle, TheWaitCountsFromTheFailedAnswer) {
  ManualClock clock(1'000'000);
  SlowAuthenticator inner(clock);
  auto auth = NewThrottledAuthenticator(inner, clock, SmallOptions());
  for (int i = 0; i < 3; ++i) (void)Try(*auth, "10.0.0.1", "alice", "x");
  Attempt refused = Try(*auth, "10.0.0.1", "alice", "x");
  EXPECT_EQ(refused.status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(refused.retry_after, 1);
}

TEST(LoginThrottle, TheRightPasswordAfterTheWaitClearsTheUser) {
  ManualClock clock(1'000'000);
  CountingAuthenticator inner;
  auto auth = NewThrottledAuthenticator(inner, clock, SmallOptions());
  for (int i = 0; i < 3; ++i) (void)Try(*auth, "10.0.0.1", "alice", "x");
  EXPECT_EQ(Try(*auth, "10.0.0.1", "alice", "alice-pw").retry_after, 1);
  clock.Advance(1000);
  EXPECT_TRUE(Try(*auth, "10.0.0.1", "alice", "alice-pw").status.ok());
  // Counting starts again: three more free failures.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Try(*auth, "10.0.0.1", "alice", "x").status.code(),
              Status::Code::kUnauthorized);
  }
}

TEST(LoginThrottle, OneUsersThrottlingNeverSlowsAnother) {
  ManualClock clock(1'000'000);
  CountingAuthenticator inner;
  auto auth = NewThrottledAuthenticator(inner, clock, SmallOptions());
  for (int i = 0; i < 8; ++i) (void)Try(*auth, "10.0.0.66", "alice", "x");
  ASSERT_EQ(Try(*auth, "10.0.0.66", "alice", "alice-pw").status.code(),
            Status::Code::kUnavailable);
  // Bob, from another address and from the attacker's own one.
  EXPECT_TRUE(Try(*auth, "10.0.0.2", "bob", "bob-pw").status.ok());
  EXPECT_TRUE(Try(*auth, "10.0.0.66", "bob", "bob-pw").status.ok());
  // Alice's throttled attempts reach no password check while bob logs in
  // (they cost no hashing, so they cannot occupy the checks).
  int checks = inner.checks_;
  for (int i = 0; i < 100; ++i) (void)Try(*auth, "10.0.0.9", "alice", "x");
  EXPECT_EQ(inner.checks_, checks);
}

TEST(LoginThrottle, AnAddressGuessingManyUsersIsThrottled) {
  ManualClock clock(1'000'000);
  CountingAuthenticator inner;
  auto auth = NewThrottledAuthenticator(inner, clock, SmallOptions());
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(
        Try(*auth, "192.0.2.7", "user" + std::to_string(i), "x").status.code(),
        Status::Code::kUnauthorized);
  }
  Attempt refused = Try(*auth, "192.0.2.7", "someone-else", "x");
  EXPECT_EQ(refused.status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(refused.retry_after, 1);
  // Another address is not affected.
  EXPECT_TRUE(Try(*auth, "192.0.2.8", "carol", "carol-pw").status.ok());
}

TEST(LoginThrottle, ConcurrentGuessesAreChargedLikeSequentialOnes) {
  ManualClock clock(1'000'000);
  CountingAuthenticator inner;
  inner.hold_ = 20ms;
  LoginThrottleOptions options = SmallOptions();
  options.max_concurrent_checks = 16;
  auto auth = NewThrottledAuthenticator(inner, clock, options);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&, i] {
      (void)Try(*auth, "10.0.0." + std::to_string(i), "alice", "x");
    });
  }
  for (auto& t : threads) t.join();
  // The three free attempts reached the check; the third set a wait that
  // refused the other thirteen.
  EXPECT_EQ(inner.checks_, 3);
}

TEST(LoginThrottle, PasswordChecksAreBoundedBySemaphore) {
  ManualClock clock(1'000'000);
  CountingAuthenticator inner;
  inner.hold_ = 30ms;
  LoginThrottleOptions options = SmallOptions();
  options.max_concurrent_checks = 2;
  auto auth = NewThrottledAuthenticator(inner, clock, options);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 12; ++i) {
    threads.emplace_back([&, i] {
      std::string user = "u" + std::to_string(i);
      if (Try(*auth, "10.1.0." + std::to_string(i), user, user + "-pw")
              .status.ok()) {
        ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 12);
  EXPECT_EQ(inner.checks_, 12);
  EXPECT_LE(inner.max_running_, 2);
  EXPECT_GE(inner.max_running_, 1);
}

TEST(LoginThrottle, NoFreeCheckInTimeIsUnavailableWithoutRetryAfter) {
  ManualClock clock(1'000'000);
  CountingAuthenticator inner;
  inner.hold_ = 300ms;
  LoginThrottleOptions options = SmallOptions();
  options.max_concurrent_checks = 1;
  options.check_wait = 10ms;
  auto auth = NewThrottledAuthenticator(inner, clock, options);
  std::thread busy([&] { (void)Try(*auth, "10.0.0.1", "bob", "bob-pw"); });
  while (inner.running_ == 0) std::this_thread::yield();
  Attempt a = Try(*auth, "10.0.0.2", "carol", "carol-pw");
  busy.join();
  EXPECT_EQ(a.status.code(), Status::Code::kUnavailable);
  EXPECT_EQ(a.retry_after, -1);
}

TEST(LoginThrottle, CountersAreBoundedAndForgotten) {
  ManualClock clock(1'000'000);
  LoginThrottleOptions options = SmallOptions();
  options.max_entries = 100;
  LoginThrottle throttle(clock, options);
  for (int i = 0; i < 1000; ++i) {
    clock.Advance(1);
    EXPECT_EQ(throttle.Admit("user" + std::to_string(i),
                             "10.2." + std::to_string(i / 256) + "." +
                                 std::to_string(i % 256)),
              0);
  }
  EXPECT_LE(throttle.users_tracked(), 100u);
  EXPECT_LE(throttle.addresses_tracked(), 100u);
  // Names no valid user or address has are not kept.
  EXPECT_EQ(throttle.Admit(std::string(4 << 20, 'x'), std::string(300, 'y')),
            0);
  EXPECT_LE(throttle.users_tracked(), 100u);
  // A counter idle for forget_after starts from zero again.
  for (int i = 0; i < 5; ++i) (void)throttle.Admit("dave", "");
  EXPECT_GT(throttle.Admit("dave", ""), 0);
  clock.Advance(options.forget_after.count());
  EXPECT_EQ(throttle.Admit("dave", ""), 0);
  EXPECT_EQ(throttle.Admit("dave", ""), 0);
}

// Through the service: a throttled login is a 429 with Retry-After, the
// error code is "unavailable", and another user logs in at once.
TEST(LoginThrottle, ServiceAnswers429WithRetryAfter) {
  auto db = OpenMemoryDatabase();
  ASSERT_TRUE(db.ok());
  ASSERT_TRUE(AddUser(**db, "alice", "alice-pw").ok());
  ASSERT_TRUE(AddUser(**db, "bob", "bob-pw").ok());
  ManualClock clock(1'000'000);
  auto users = NewDatabaseAuthenticator(**db);
  auto auth = NewThrottledAuthenticator(*users, clock, SmallOptions());
  auto lock = NewMemorySyncLock(clock, 30s);
  auto lww = NewLastWriteWinsPolicy();
  SyncService service(**db, *lww, clock, *lock, *auth, Schema{});
  auto login = [&](std::string_view user, std::string_view password) {
    Request r;
    r.method = "POST";
    r.path = std::string(kLoginPath);
    r.peer = "203.0.113.5";
    r.body = "{\"user\":\"" + std::string(user) + "\",\"password\":\"" +
             std::string(password) + "\"}";
    return service.Handle(r);
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login("alice", "guess").status, 401);
  Response throttled = login("alice", "alice-pw");
  EXPECT_EQ(throttled.status, 429);
  EXPECT_EQ(throttled.retry_after, 1);
  EXPECT_NE(throttled.body.find("\"error\":\"unavailable\""), std::string::npos)
      << throttled.body;
  EXPECT_EQ(login("bob", "bob-pw").status, 200);
  clock.Advance(1000);
  EXPECT_EQ(login("alice", "alice-pw").status, 200);
}

}  // namespace
}  // namespace syncstack
