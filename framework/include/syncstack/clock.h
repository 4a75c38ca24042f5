// Clock: injectable time, so tests and the simulator can skew and drift it.
#pragma once

#include <atomic>

#include "syncstack/record.h"

namespace syncstack {

// Thread safety: Now may be called concurrently.
class Clock {
 public:
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock();

  // Milliseconds since the Unix epoch, UTC, as this clock believes.
  virtual Timestamp Now() noexcept = 0;
};

// The machine's real-time clock. The returned clock lives forever.
Clock& SystemClock() noexcept;

// A clock that moves only when told: for tests and simulations.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) noexcept : now_(start) {}
  Timestamp Now() noexcept override { return now_.load(); }
  void Set(Timestamp now) noexcept { now_.store(now); }
  void Advance(int64_t millis) noexcept { now_.fetch_add(millis); }

 private:
  std::atomic<Timestamp> now_;
};

// Another clock's time plus a fixed offset (a device whose clock is wrong).
// The base clock must outlive this one.
class OffsetClock final : public Clock {
 public:
  OffsetClock(Clock& base, int64_t offset_millis) noexcept
      : base_(base), offset_(offset_millis) {}
  Timestamp Now() noexcept override { return base_.Now() + offset_; }

 private:
  Clock& base_;
  int64_t offset_;
};

}  // namespace syncstack
