// Tombstone collection, the service's side: devices' marks noted at lock
// time, the horizon check on every write, and collection under the lock.
// The store-level part (marks, horizon, erasing) is
// framework/src/tombstones.cc.
#include <algorithm>

#include "service/service_impl.h"
#include "syncstack/tombstones.h"

namespace syncstack {

Result<std::pair<uint64_t, bool>> SyncService::Impl::NoteDeviceMark(
    const std::string& account, const std::string& device, uint64_t mark) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, StoreFor(account));
  auto account_mutex = MutexFor(account);
  std::lock_guard<std::mutex> guard(*account_mutex);
  SYNCSTACK_ASSIGN_OR_RETURN(uint64_t seq, AccountSequence(*store));
  SYNCSTACK_ASSIGN_OR_RETURN(uint64_t horizon, TombstoneHorizon(*store));
  SYNCSTACK_ASSIGN_OR_RETURN(std::vector<DeviceMark> marks,
                             ReadDeviceMarks(*store));
  DeviceMark m;
  m.device = device;
  m.mark = std::min(mark, seq);
  m.seen = clock.Now();
  m.resync = m.mark < horizon;
  const bool resync = m.resync;
  ChangeBatch batch;
  SetDeviceMark(marks, std::move(m), batch);
  SYNCSTACK_RETURN_IF_ERROR(store->Apply(WriteOptions{}, batch));
  if (resync) {
    Log("device \"" + device + "\" of \"" + account + "\": mark " +
        std::to_string(mark) + " is below the tombstone " + "horizon " +
        std::to_string(horizon) + ": full resync");
  }
  return std::make_pair(seq, resync);
}

Status SyncService::Impl::CheckHorizon(Store& store, std::string_view device) {
  if (device.empty()) return Status::Ok();
  SYNCSTACK_ASSIGN_OR_RETURN(uint64_t horizon, TombstoneHorizon(store));
  if (horizon == 0) return Status::Ok();
  SYNCSTACK_ASSIGN_OR_RETURN(std::vector<DeviceMark> marks,
                             ReadDeviceMarks(store));
  for (const DeviceMark& m : marks) {
    if (m.device == device && !m.resync && m.mark < horizon) {
      return Status::Aborted(
          "tombstones were collected during this sync; sync again (the "
          "next sync is a full resync)");
    }
  }
  return Status::Ok();
}

Result<GcReport> SyncService::Impl::CollectTombstones(
    std::string_view account, std::chrono::milliseconds device_ttl) {
  SYNCSTACK_ASSIGN_OR_RETURN(std::shared_ptr<Store> store, StoreFor(account));
  // Holding the account's lock keeps every device out while the
  // horizon moves, so no run can plan against a tombstone that goes.
  SYNCSTACK_ASSIGN_OR_RETURN(LockAttempt attempt,
                             lock.Acquire(account, kTombstoneCollector, ""));
  if (!attempt.granted) {
    return Status::Locked("locked by device \"" + attempt.holder + "\"");
  }
  auto report = [&] {
    auto account_mutex = MutexFor(account);
    std::lock_guard<std::mutex> guard(*account_mutex);
    return syncstack::CollectTombstones(*store, clock.Now(), device_ttl);
  }();
  (void)lock.Release(account, attempt.lease.token);
  if (report.ok() && report->collected > 0) {
    Log("collected " + std::to_string(report->collected) + " tombstones of \"" +
        std::string(account) + "\" (horizon " +
        std::to_string(report->horizon) + ")");
  }
  return report;
}

}  // namespace syncstack
