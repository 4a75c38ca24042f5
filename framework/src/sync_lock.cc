#include "syncstack/sync_lock.h"

#include <map>
#include <mutex>

#include "random_token.h"
#include "syncstack/store.h"

namespace syncstack {
namespace {

class MemorySyncLock final : public SyncLock {
 public:
  MemorySyncLock(Clock& clock, std::chrono::milliseconds lease)
      : clock_(clock), lease_ms_(lease.count()) {}

  Result<LockAttempt> Acquire(std::string_view account, std::string_view device,
                              std::string_view current) noexcept override {
    if (device.empty()) {
      return Status::InvalidArgument("lock: device name is empty");
    }
    std::lock_guard<std::mutex> guard(mu_);
    Timestamp now = clock_.Now();
    Slot& slot = slots_[std::string(account)];
    LockAttempt attempt;
    bool live = !slot.lease.token.empty() && slot.lease.expires_at > now;
    if (live && !(slot.lease.device == device &&
                  (current.empty() || current == slot.lease.token))) {
      attempt.holder = slot.lease.device;
      attempt.retry_after_ms = slot.lease.expires_at - now;
      return attempt;
    }
    if (live && current == slot.lease.token) {
      slot.lease.expires_at = now + lease_ms_;  // renewal: same lease
    } else {
      // A new grant. The same device asking without its live token (a new
      // run after a crash) gets a new lease too, and the old one is revoked:
      // requests of the earlier run still in flight are refused (fencing).
      slot.lease.token = NewRandomToken();
      slot.lease.device = std::string(device);
      slot.lease.fence = ++slot.last_fence;
      slot.lease.expires_at = now + lease_ms_;
    }
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
    uint64_t last_fence = 0;
  };
  Clock& clock_;
  const int64_t lease_ms_;
  std::mutex mu_;
  std::map<std::string, Slot, std::less<>> slots_;
};

}  // namespace

void SyncLock::Fence(const Lease&, ChangeBatch&) {}

std::unique_ptr<SyncLock> Database::NewSyncLock(Clock&,
                                                std::chrono::milliseconds) {
  return nullptr;
}

std::unique_ptr<SyncLock> NewMemorySyncLock(Clock& clock,
                                            std::chrono::milliseconds lease) {
  return std::make_unique<MemorySyncLock>(clock, lease);
}

}  // namespace syncstack
