// SyncLock: one lease per account, so two devices of one user never sync at
// once. A lease expires by itself unless renewed; every grant carries a
// fencing number that increases with each grant, so a write can be checked
// against the lease that was live when it commits.
//
// Device secrets: a live lease is taken over only by proof of being its
// holder. The lock keeps, beside the lease, a hash of the holder's device
// secret (never the secret); a grant that starts a new secret returns it
// once (LockAttempt::device_secret), and the device keeps it and presents
// it with later requests. See docs/decisions/lock-takeover.md.
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
  // When granted: a new device secret (32 hex characters) the device must
  // keep and present from now on; "" when the presented one stays valid
  // (renewals, and new grants to the device whose secret the lock holds).
  std::string device_secret{};
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
  // later expiry), or takes the live lease of the same device over (a new
  // lease and fence; the old token is revoked) when `current` is empty and
  // `secret` is that device's secret (DeviceSecretMatches against the hash
  // kept with the lease). Otherwise granted == false with the holder and
  // the time left: a device name alone never takes a live lease over.
  // A new grant keeps the kept secret hash when it is to the same device
  // and `secret` matches it, else starts a new secret (returned in
  // device_secret). `secret` is never logged nor stored in clear.
  // Errors: kInvalidArgument (empty device), kIOError.
  virtual Result<LockAttempt> Acquire(std::string_view account,
                                      std::string_view device,
                                      std::string_view current,
                                      std::string_view secret) noexcept = 0;
  // Acquire without a device secret (the seed protocol's request).
  Result<LockAttempt> Acquire(std::string_view account, std::string_view device,
                              std::string_view current) noexcept {
    return Acquire(account, device, current, {});
  }

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

// The hash a lock keeps of a device secret (64 hex characters of
// SHA-256); "" for an empty secret.
std::string HashDeviceSecret(std::string_view secret);
// Whether `secret` is non-empty and hashes to `stored_hash`, compared in
// constant time.
bool DeviceSecretMatches(std::string_view secret, std::string_view stored_hash);

// The takeover rule, in one place for every SyncLock implementation: what
// Acquire(device, current, secret) does at `now` when the account's row
// holds `held` (token "" when free) and the hash `held_secret_hash`.
enum class LockStep : unsigned char {
  kRefuse,     // another device's live lease, or no proof of being its holder
  kRenew,      // `current` is the live lease: a later expiry, nothing else
  kNewGrant,   // a new token and fence, keeping the secret hash
  kNewSecret,  // a new token and fence, and a new device secret
};
LockStep DecideLockStep(const Lease& held, std::string_view held_secret_hash,
                        Timestamp now, std::string_view device,
                        std::string_view current, std::string_view secret);

// An in-process lock table (for one server process). `clock` must outlive
// the lock.
std::unique_ptr<SyncLock> NewMemorySyncLock(Clock& clock,
                                            std::chrono::milliseconds lease);

}  // namespace syncstack
