#include "syncstack/login_throttle.h"

#include <algorithm>
#include <semaphore>

namespace syncstack {
namespace {

// Longer keys are not valid user names or addresses; counting them would
// let one client grow the maps by its names' size.
constexpr size_t kMaxKey = 128;

bool Counted(std::string_view key) {
  return !key.empty() && key.size() <= kMaxKey;
}

}  // namespace

LoginThrottle::LoginThrottle(Clock& clock, LoginThrottleOptions options)
    : clock_(clock), options_(std::move(options)) {}

int64_t LoginThrottle::Admit(std::string_view user, std::string_view peer) {
  std::lock_guard<std::mutex> guard(mu_);
  const Timestamp now = clock_.Now();
  int64_t wait_ms =
      std::max(WaitOf(users_, user, now), WaitOf(addresses_, peer, now));
  if (wait_ms > 0) return (wait_ms + 999) / 1000;
  Charge(users_, user, options_.free_failures_per_user, now);
  Charge(addresses_, peer, options_.free_failures_per_address, now);
  return 0;
}

void LoginThrottle::Succeeded(std::string_view user, std::string_view peer) {
  std::lock_guard<std::mutex> guard(mu_);
  if (auto it = users_.find(std::string(user)); it != users_.end()) {
    users_.erase(it);
  }
  if (auto it = addresses_.find(std::string(peer)); it != addresses_.end()) {
    Counter& c = it->second;
    c.failures = std::max(0, c.failures - 1);
    c.blocked_until =
        c.last + WaitAfter(c.failures, options_.free_failures_per_address);
  }
}

void LoginThrottle::Failed(std::string_view user, std::string_view peer) {
  std::lock_guard<std::mutex> guard(mu_);
  const Timestamp now = clock_.Now();
  Restamp(users_, user, options_.free_failures_per_user, now);
  Restamp(addresses_, peer, options_.free_failures_per_address, now);
}

void LoginThrottle::Restamp(Map& map, std::string_view key, int free_failures,
                            Timestamp now) {
  auto it = map.find(std::string(key));
  if (it == map.end()) return;
  Counter& c = it->second;
  c.last = std::max(c.last, now);
  c.blocked_until =
      std::max(c.blocked_until, c.last + WaitAfter(c.failures, free_failures));
}

size_t LoginThrottle::users_tracked() const {
  std::lock_guard<std::mutex> guard(mu_);
  return users_.size();
}

size_t LoginThrottle::addresses_tracked() const {
  std::lock_guard<std::mutex> guard(mu_);
  return addresses_.size();
}

int64_t LoginThrottle::WaitOf(const Map& map, std::string_view key,
                              Timestamp now) const {
  if (!Counted(key)) return 0;
  auto it = map.find(std::string(key));
  if (it == map.end()) return 0;
  if (now - it->second.last >= options_.forget_after.count()) return 0;
  return it->second.blocked_until - now;
}

void LoginThrottle::Charge(Map& map, std::string_view key, int free_failures,
                           Timestamp now) {
  if (!Counted(key)) return;
  Counter& c = Slot(map, key, now);
  if (now - c.last >= options_.forget_after.count()) c = Counter{};
  ++c.failures;
  c.last = now;
  c.blocked_until = now + WaitAfter(c.failures, free_failures);
}

// The counter of `key`, made room for when the map is full: first the
// forgotten counters go, then (if none was) the longest-idle one.
LoginThrottle::Counter& LoginThrottle::Slot(Map& map, std::string_view key,
                                            Timestamp now) {
  std::string name(key);
  if (auto it = map.find(name); it != map.end()) return it->second;
  if (map.size() >= std::max<size_t>(options_.max_entries, 1)) {
    const int64_t forget = options_.forget_after.count();
    std::erase_if(map,
                  [&](const auto& e) { return now - e.second.last >= forget; });
    if (map.size() >= options_.max_entries && !map.empty()) {
      map.erase(std::min_element(map.begin(), map.end(),
                                 [](const auto& a, const auto& b) {
                                   return a.second.last < b.second.last;
                                 }));
    }
  }
  Counter fresh;
  fresh.last = now;
  return map.emplace(std::move(name), fresh).first->second;
}

Timestamp LoginThrottle::WaitAfter(int failures, int free_failures) const {
  if (failures < free_failures) return 0;
  const int64_t cap = options_.max_wait.count();
  int64_t wait = options_.first_wait.count();
  for (int i = free_failures; i < failures && wait < cap; ++i) wait *= 2;
  return std::min(wait, cap);
}

namespace {

class ThrottledAuthenticator final : public Authenticator {
 public:
  ThrottledAuthenticator(Authenticator& target, Clock& clock,
                         LoginThrottleOptions options)
      : target_(target),
        check_wait_(options.check_wait),
        checks_(std::max(options.max_concurrent_checks, 1)),
        throttle_(clock, std::move(options)) {}

  Result<std::string> Login(std::string_view user,
                            std::string_view password) noexcept override {
    int64_t retry_after = -1;
    return LoginFrom("", user, password, retry_after);
  }

  Result<std::string> LoginFrom(std::string_view peer, std::string_view user,
                                std::string_view password,
                                int64_t& retry_after) noexcept override {
    try {
      if (int64_t wait = throttle_.Admit(user, peer); wait > 0) {
        retry_after = wait;
        return Status::Unavailable("too many failed logins; retry in " +
                                   std::to_string(wait) + " s");
      }
      auto account = Check(peer, user, password, retry_after);
      if (account.ok()) {
        throttle_.Succeeded(user, peer);
      } else {
        throttle_.Failed(user, peer);
      }
      return account;
    } catch (...) {
      return Status::IOError("login failed");
    }
  }

  std::optional<std::string> SignToken(std::string_view account,
                                       Timestamp expires_at) noexcept override {
    return target_.SignToken(account, expires_at);
  }

  Result<std::string> VerifyToken(std::string_view token,
                                  Timestamp now) noexcept override {
    return target_.VerifyToken(token, now);
  }

 private:
  // The target's password check, at most max_concurrent_checks at once.
  Result<std::string> Check(std::string_view peer, std::string_view user,
                            std::string_view password, int64_t& retry_after) {
    if (!checks_.try_acquire_for(check_wait_)) {
      return Status::Unavailable("the server is busy checking passwords");
    }
    auto account = target_.LoginFrom(peer, user, password, retry_after);
    checks_.release();
    return account;
  }

  Authenticator& target_;
  const std::chrono::milliseconds check_wait_;
  std::counting_semaphore<> checks_;
  LoginThrottle throttle_;
};

}  // namespace

std::unique_ptr<Authenticator> NewThrottledAuthenticator(
    Authenticator& target, Clock& clock, LoginThrottleOptions options) {
  return std::make_unique<ThrottledAuthenticator>(target, clock,
                                                  std::move(options));
}

}  // namespace syncstack
