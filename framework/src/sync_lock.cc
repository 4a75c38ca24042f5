#include "syncstack/sync_lock.h"

#include <map>
#include <mutex>

#include "random_token.h"
#include "sha256.h"
#include "syncstack/store.h"

namespace syncstack {
namespace {

class MemorySyncLock final : public SyncLock {
 public:
  MemorySyncLock(Clock& clock, std::chrono::milliseconds lease)
      : clock_(clock), lease_ms_(lease.count()) {}

  Result<LockAttempt> Acquire(std::string_view account, std::string_view device,
                              std::string_view current,
                              std::string_view secret) noexcept override {
    if (device.empty()) {
      return Status::InvalidArgument("lock: device name is empty");
    }
    std::lock_guard<std::mutex> guard(mu_);
    Timestamp now = clock_.Now();
    Slot& slot = slots_[std::string(account)];
    LockAttempt attempt;
    LockStep step = DecideLockStep(slot.lease, slot.secret_hash, now, device,
                                   current, secret);
    if (step == LockStep::kRefuse) {
      attempt.holder = slot.lease.device;
      attempt.retry_after_ms = slot.lease.expires_at - now;
      return attempt;
    }
    if (step != LockStep::kRenew) {
      // A new grant. The same device proving it is the holder (a new run
      // after a crash) gets a new lease too, and the old one is revoked:
      // requests of the earlier run still in flight are refused (fencing).
      slot.lease.token = NewRandomToken();
      slot.lease.device = std::string(device);
      slot.lease.fence = ++slot.last_fence;
    }
    if (step == LockStep::kNewSecret) {
      attempt.device_secret = NewRandomToken();
      slot.secret_hash = HashDeviceSecret(attempt.device_secret);
    }
    slot.lease.expires_at = now + lease_ms_;
    attempt.granted = true;
    attempt.lease = slot.lease;
    return attempt;
  }

  Status Release(std::string_view account,
                 std::string_view token) noexcept override {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = slots_.find(account);
    if (it != slots_.end() && !token.empty() &&
        it->second.lease.token == token) {
      it->second.lease.token.clear();
      it->second.lease.expires_at = kNoTimestamp;
    }
    return Status::Ok();
  }

  Result<Lease> Check(std::string_view account,
                      std::string_view token) noexcept override {
    if (token.empty()) {
      return Status::LeaseRequired("this call needs the X-Sync-Lease header");
    }
    std::lock_guard<std::mutex> guard(mu_);
    auto it = slots_.find(account);
    if (it == slots_.end() || it->second.lease.token != token) {
      return Status::LeaseLost("the lease is not the account's current one");
    }
    if (it->second.lease.expires_at <= clock_.Now()) {
      return Status::LeaseLost("the lease expired");
    }
    return it->second.lease;
  }

 private:
  struct Slot {
    Lease lease;
    std::string secret_hash;  // of the lease's device's secret
    uint64_t last_fence = 0;
  };
  Clock& clock_;
  const int64_t lease_ms_;
  std::mutex mu_;
  std::map<std::string, Slot, std::less<>> slots_;
};

}  // namespace

void SyncLock::Fence(const Lease&, ChangeBatch&) {}

std::string HashDeviceSecret(std::string_view secret) {
  if (secret.empty()) return "";
  return Sha256Hex(secret);
}

bool DeviceSecretMatches(std::string_view secret,
                         std::string_view stored_hash) {
  if (secret.empty() || stored_hash.empty()) return false;
  const std::string hash = Sha256Hex(secret);
  if (hash.size() != stored_hash.size()) return false;
  unsigned char diff = 0;  // every byte is compared: constant time
  for (size_t i = 0; i < hash.size(); ++i) {
    diff |= static_cast<unsigned char>(hash[i] ^ stored_hash[i]);
  }
  return diff == 0;
}

LockStep DecideLockStep(const Lease& held, std::string_view held_secret_hash,
                        Timestamp now, std::string_view device,
                        std::string_view current, std::string_view secret) {
  const bool live = !held.token.empty() && held.expires_at > now;
  const bool same_device = held.device == device;
  const bool proven =
      same_device && DeviceSecretMatches(secret, held_secret_hash);
  if (live) {
    if (same_device && !current.empty() && current == held.token) {
      return LockStep::kRenew;
    }
    // Taking a live lease over needs no lease in hand (a new run) and the
    // holder's secret: a device name alone proves nothing.
    if (!current.empty() || !proven) return LockStep::kRefuse;
  }
  return proven ? LockStep::kNewGrant : LockStep::kNewSecret;
}

std::unique_ptr<SyncLock> Database::NewSyncLock(Clock&,
                                                std::chrono::milliseconds) {
  return nullptr;
}

std::unique_ptr<SyncLock> NewMemorySyncLock(Clock& clock,
                                            std::chrono::milliseconds lease) {
  return std::make_unique<MemorySyncLock>(clock, lease);
}

}  // namespace syncstack
