// Private: what the service keeps to tell its ServiceObserver about
// requests and sync sessions.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "syncstack/service_observer.h"

namespace syncstack::service {

// An observer that does nothing: the service's observer when the options
// name none.
ServiceObserver& NoObserver() noexcept;

// What a request's handler learnt about who asked, for the access log.
struct RequestNote {
  std::string user;    // the account, once authenticated
  std::string device;  // the lease holder, when known
};

// When each sync session (a lease, from its grant to its release) started.
// Bounded: at most kMaxOpen sessions are timed at once; a session that
// never ends (its lease lapsed) is forgotten after kForgetAfter when room
// is needed, and beyond that a new session is not timed.
// Thread safety: all methods may be called concurrently.
class SessionClock {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxOpen = 65536;
  static constexpr std::chrono::hours kForgetAfter{1};

  // Notes that `account`'s `lease` (of `device`) was granted now, unless
  // it is timed already (a renewal).
  void Start(std::string_view account, std::string_view lease,
             std::string_view device);

  // The session of `account`'s `lease` ended: its duration and device,
  // and it is forgotten. nullopt when it was not timed.
  struct Ended {
    std::chrono::nanoseconds duration;
    std::string device;
  };
  std::optional<Ended> Finish(std::string_view account, std::string_view lease);

  // The sessions being timed (for tests).
  size_t open();

 private:
  struct Open {
    Clock::time_point started;
    std::string device;
  };
  std::mutex mu_;
  // By account '\0' lease; guarded by mu_.
  std::unordered_map<std::string, Open> open_;
};

}  // namespace syncstack::service
