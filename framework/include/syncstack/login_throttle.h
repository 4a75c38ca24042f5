// Login throttling: makes password guessing slow and bounds the memory that
// concurrent password hashing takes (issue 14 item 7).
//
// Failed logins are counted per user name and per client address. After a
// few free failures, the next attempt must wait, and the wait doubles with
// each further failure up to a cap. An attempt that must wait is refused
// before any password hashing, so a throttled user or address costs the
// server next to nothing and never slows another user's login. Every
// attempt is charged as a failure when it starts and refunded when it
// succeeds, so many concurrent guesses are limited like sequential ones.
// Both counters are bounded maps: a counter forgotten for `forget_after` is
// dropped, and when a map is full the longest-idle counter goes first.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "syncstack/clock.h"
#include "syncstack/service.h"

namespace syncstack {

struct LoginThrottleOptions {
  // Failed logins of one user name allowed without a wait. Default: 5.
  int free_failures_per_user = 5;
  // Failed logins from one client address allowed without a wait (higher:
  // several users may share an address). Default: 20.
  int free_failures_per_address = 20;
  // The wait after the first failure beyond the free ones; each further
  // failure doubles it. Default: 1 s.
  std::chrono::milliseconds first_wait{1000};
  // The longest wait. Default: 15 min.
  std::chrono::milliseconds max_wait{15 * 60 * 1000};
  // A counter without a failure for this long starts again from zero.
  // Default: 1 h.
  std::chrono::milliseconds forget_after{60 * 60 * 1000};
  // Counters kept per map (users; addresses). Default: 10,000.
  size_t max_entries = 10000;
  // Logins checking a password at the same time (each Argon2id check takes
  // 64 MiB). Default: 2.
  int max_concurrent_checks = 2;
  // How long a login waits for a free check before it is refused as
  // unavailable (503). Default: 10 s.
  std::chrono::milliseconds check_wait{10000};
};

// The bookkeeping alone, without the password check.
// Thread safety: all methods may be called concurrently.
class LoginThrottle {
 public:
  // `clock` must outlive the throttle.
  LoginThrottle(Clock& clock, LoginThrottleOptions options);
  LoginThrottle(const LoginThrottle&) = delete;
  LoginThrottle& operator=(const LoginThrottle&) = delete;

  // Admits one login attempt by `user` from `peer` ("" when unknown: only
  // the user is counted; names over 128 bytes are not counted by name) and
  // charges it as a failure. Returns 0 when admitted, else the seconds to
  // wait (>= 1) before `user` or `peer` may try again; a refused attempt
  // is not charged.
  int64_t Admit(std::string_view user, std::string_view peer);

  // Refunds the charge of an admitted attempt that logged in: the user's
  // counter restarts, the address's goes back by one.
  void Succeeded(std::string_view user, std::string_view peer);

  // Ends an admitted attempt that failed: its wait counts from now (the
  // password check may have taken a while), not from its admission.
  void Failed(std::string_view user, std::string_view peer);

  // Counters held now (for tests of the bounds).
  size_t users_tracked() const;
  size_t addresses_tracked() const;

 private:
  struct Counter {
    int failures = 0;
    Timestamp last = 0;           // the last charged attempt
    Timestamp blocked_until = 0;  // no attempt before this
  };
  using Map = std::unordered_map<std::string, Counter>;

  int64_t WaitOf(const Map& map, std::string_view key, Timestamp now) const;
  void Charge(Map& map, std::string_view key, int free_failures, Timestamp now);
  Counter& Slot(Map& map, std::string_view key, Timestamp now);
  void Restamp(Map& map, std::string_view key, int free_failures,
               Timestamp now);
  Timestamp WaitAfter(int failures, int free_failures) const;

  Clock& clock_;
  const LoginThrottleOptions options_;
  mutable std::mutex mu_;
  Map users_;
  Map addresses_;
};

// An Authenticator that throttles logins of `target` (see above) and
// bounds how many password checks run at once. A throttled attempt answers
// kUnavailable with the wait in LoginFrom's `retry_after` (the service
// sends 429 and Retry-After); a login that found no free check within
// `check_wait` answers kUnavailable and leaves `retry_after` alone (503).
// Tokens are forwarded to `target` unchanged. `target` and `clock` must
// outlive the result.
std::unique_ptr<Authenticator> NewThrottledAuthenticator(
    Authenticator& target, Clock& clock, LoginThrottleOptions options = {});

}  // namespace syncstack
