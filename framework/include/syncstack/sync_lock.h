// SyncLock: one lease per account, so two devices of one user never sync at
// once. A lease expires by itself unless renewed; every grant carries a
// fencing number that increases with each grant, so a write can be checked
// against the lease that was live when it commits.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "syncstack/clock.h"
#include "syncstack/status.h"

namespace syncstack {

class ChangeBatch;

struct Lease {
  std::string token;  // opaque, random; what X-Sync-Lease carries
  std::string device;
  uint64_t fence = 0;  // increases with every grant for the account
  Timestamp expires_at = kNoTimestamp;
};

struct LockAttempt {
  bool granted = false;
  Lease lease;                 // when granted
  std::string holder;          // when not: the device holding the lock
  int64_t retry_after_ms = 0;  // when not: time left on the holder's lease
};

// Thread safety: all methods may be called concurrently.
class SyncLock {
 public:
  SyncLock() = default;
  SyncLock(const SyncLock&) = delete;
  SyncLock& operator=(const SyncLock&) = delete;
  virtual ~SyncLock();

  // Grants `account`'s lock to `device` if it is free or expired, or renews
  // it when `current` is the live lease of the same device (same token,
  // later expiry). Otherwise granted == false with the holder and the time
  // left. Errors: kInvalidArgument (empty device), kIOError.
  virtual Result<LockAttempt> Acquire(std::string_view account,
                                      std::string_view device,
                                      std::string_view current) noexcept = 0;

  // Ends the lease `token` if it is the account's live lease; releasing an
  // expired or unknown lease is a no-op.
  virtual Status Release(std::string_view account,
                         std::string_view token) noexcept = 0;

  // Returns the live lease `token` of `account`.
  // Errors: kLeaseRequired (empty token), kLeaseLost (expired, released, or
  // not the account's current lease).
  virtual Result<Lease> Check(std::string_view account,
                              std::string_view token) noexcept = 0;

  // Makes `batch` carry `lease` (as returned by Check) as a precondition
  // that the store checks inside the write's own transaction, for locks
  // shared by several processes (Database::NewSyncLock): a lease lost
  // between Check and commit then fails Apply with kLeaseLost. The default
  // does nothing: an in-process lock is fenced by Check under the caller's
  // per-account mutex.
  virtual void Fence(const Lease& lease, ChangeBatch& batch);
};

// An in-process lock table (for one server process). `clock` must outlive
// the lock.
std::unique_ptr<SyncLock> NewMemorySyncLock(Clock& clock,
                                            std::chrono::milliseconds lease);

}  // namespace syncstack
