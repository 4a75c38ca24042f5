// The PostgreSQL sync lock.
//
// The sync lock (PostgresSyncLock, from Database::NewSyncLock) keeps one
// row per account in `locks`, so every process on the database sees one
// lease. Acquire reads the row FOR UPDATE and rewrites it in one
// transaction (fence + 1 on each new grant; a released lease keeps its row
// and fence with an empty token). A batch carrying a LeaseFence reads the
// row FOR SHARE inside Apply's transaction: a grant to another device
// either committed before (the token differs: kLeaseLost, nothing applied)
// or waits until the write has committed. Expiry times come from the
// lock's Clock (the processes' clocks; a skew only moves when a grant
// happens, never lets two leases write, since a write needs the token
// that is in the row). The row also keeps secret_hash, the SHA-256 of the
// holder's device secret (schema v3), so a takeover is decided the same
// way by every process (DecideLockStep).
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>

#include "postgres_internal.h"

namespace syncstack::postgres_internal {
namespace {

// 128 bits from the OS as 32 hex characters (an unguessable lease token).
std::string NewLeaseToken() {
  std::random_device rd;
  std::string raw(16, '\0');
  for (size_t i = 0; i < raw.size(); i += 4) {
    uint32_t v = rd();
    std::memcpy(raw.data() + i, &v, 4);
  }
  return Hex(raw);
}

class PostgresSyncLock final : public SyncLock {
 public:
  PostgresSyncLock(std::shared_ptr<Shared> shared, Clock& clock,
                   std::chrono::milliseconds lease)
      : shared_(std::move(shared)), clock_(clock), lease_ms_(lease.count()) {}

  Result<LockAttempt> Acquire(std::string_view account, std::string_view device,
                              std::string_view current,
                              std::string_view secret) noexcept override {
    if (device.empty()) {
      return Status::InvalidArgument("lock: device name is empty");
    }
    if (account.empty()) return Status::InvalidArgument("empty account name");
    LockAttempt attempt;
    Status s = shared_->Run("lock", [&](pqxx::connection& c) -> Status {
      attempt = LockAttempt();
      pqxx::work tx(c);
      std::string name(account);
      tx.exec_prepared("lock_row", name);
      pqxx::result r = tx.exec_prepared("lock_for_update", name);
      if (r.size() != 1) throw CorruptRow{};
      Lease held;
      held.token = r[0][0].as<std::string>();
      held.device = r[0][1].as<std::string>();
      held.fence = r[0][2].as<uint64_t>();
      held.expires_at = r[0][3].as<int64_t>();
      std::string secret_hash = r[0][4].as<std::string>();
      Timestamp now = clock_.Now();
      LockStep step =
          DecideLockStep(held, secret_hash, now, device, current, secret);
      if (step == LockStep::kRefuse) {
        attempt.holder = held.device;
        attempt.retry_after_ms = held.expires_at - now;
        return Status::Ok();  // nothing written: the transaction aborts
      }
      // Renewal keeps the lease. Anything else is a new grant with the
      // next fence: also the same device proving it is the holder (a new
      // run after a crash), which revokes what the old run has in flight.
      if (step != LockStep::kRenew) {
        held.token = NewLeaseToken();
        held.device = std::string(device);
        held.fence += 1;
      }
      if (step == LockStep::kNewSecret) {
        attempt.device_secret = NewLeaseToken();
        secret_hash = HashDeviceSecret(attempt.device_secret);
      }
      held.expires_at = now + lease_ms_;
      tx.exec_prepared("lock_set", name, held.token, held.device,
                       static_cast<int64_t>(held.fence), held.expires_at,
                       secret_hash);
      tx.commit();
      attempt.granted = true;
      attempt.lease = std::move(held);
      return Status::Ok();
    });
    if (!s.ok()) {
      attempt.device_secret.clear();
      return s;
    }
    return attempt;
  }

  Status Release(std::string_view account,
                 std::string_view token) noexcept override {
    if (token.empty()) return Status::Ok();
    return shared_->Run("unlock", [&](pqxx::connection& c) -> Status {
      pqxx::nontransaction tx(c);
      tx.exec_prepared("lock_release", std::string(account),
                       std::string(token));
      return Status::Ok();
    });
  }

  Result<Lease> Check(std::string_view account,
                      std::string_view token) noexcept override {
    if (token.empty()) {
      return Status::LeaseRequired("this call needs the X-Sync-Lease header");
    }
    std::optional<Lease> found;
    Status s = shared_->Run("check lease", [&](pqxx::connection& c) -> Status {
      found.reset();
      pqxx::nontransaction tx(c);
      pqxx::result r = tx.exec_prepared("lock_get", std::string(account));
      if (r.empty()) return Status::Ok();
      Lease& lease = found.emplace();
      lease.token = r[0][0].as<std::string>();
      lease.device = r[0][1].as<std::string>();
      lease.fence = r[0][2].as<uint64_t>();
      lease.expires_at = r[0][3].as<int64_t>();
      return Status::Ok();
    });
    if (!s.ok()) return s;
    if (!found || found->token != token) {
      return Status::LeaseLost("the lease is not the account's current one");
    }
    if (found->expires_at <= clock_.Now()) {
      return Status::LeaseLost("the lease expired");
    }
    return std::move(*found);
  }

  void Fence(const Lease& lease, ChangeBatch& batch) override {
    batch.RequireLease(LeaseFence{lease.token, clock_.Now()});
  }

 private:
  const std::shared_ptr<Shared> shared_;
  Clock& clock_;
  const int64_t lease_ms_;
};

}  // namespace

std::unique_ptr<SyncLock> NewPostgresSyncLock(std::shared_ptr<Shared> shared,
                                              Clock& clock,
                                              std::chrono::milliseconds lease) {
  return std::make_unique<PostgresSyncLock>(std::move(shared), clock, lease);
}

}  // namespace syncstack::postgres_internal
