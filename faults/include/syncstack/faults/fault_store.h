// FaultStore: a Store decorator that fails writes on purpose.
//
//  - FailWriteAt(n): the n-th record write from now (counting the ops of
//    every Apply) fails inside its batch's transaction, after the ops before
//    it in the same batch were written: the store must roll them back. Apply
//    returns kIOError and, by the Store contract, leaves nothing.
//  - CrashAtApply(n): the n-th Apply from now is lost as if the process died
//    before its transaction committed. From then on the store is "down":
//    every call fails with kIOError until Restart(), as after a reboot.
//    `on_crash` runs at the crash (e.g. to take the device's transport down
//    too, so a dead device does not release its lock).
//  - set_apply_failure_rate(p): each Apply fails (nothing written) with
//    probability p, drawn from the seeded generator.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <random>

#include "syncstack/store.h"

namespace syncstack {

struct StoreFaultCounts {
  uint64_t applies = 0;
  uint64_t writes = 0;  // record ops handed to successful Applies
  uint64_t failed_writes = 0;
  uint64_t failed_applies = 0;
  uint64_t crashes = 0;
};

class FaultStore : public StoreWrapper {
 public:
  // `target` must outlive the wrapper.
  explicit FaultStore(Store& target, uint64_t seed = 1);

  Status Apply(const WriteOptions& options,
               const ChangeBatch& batch) noexcept override;
  std::unique_ptr<ManifestIterator> Scan(
      std::string_view collection,
      const ScanOptions& options) noexcept override;
  Status Get(std::string_view collection, std::span<const RecordId> ids,
             FunctionRef<void(const Record&)> fn) noexcept override;
  Result<std::vector<std::string>> Collections() noexcept override;
  Result<std::optional<std::string>> GetMeta(
      std::string_view key) noexcept override;
  Status ScanSince(std::string_view collection, Timestamp after, size_t limit,
                   FunctionRef<void(const Record&)> fn) noexcept override;
  Status ScanUnsynced(std::string_view collection,
                      FunctionRef<void(const Record&)> fn) noexcept override;

  // n >= 1; 0 disarms.
  void FailWriteAt(uint64_t n);
  void CrashAtApply(uint64_t n, std::function<void()> on_crash = {});
  void set_apply_failure_rate(double p);
  void Restart();
  bool crashed() const;
  StoreFaultCounts counts() const;

 private:
  Status DownStatus() const;

  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  uint64_t fail_write_in_ = 0;  // 0: disarmed
  uint64_t crash_in_ = 0;       // 0: disarmed
  std::function<void()> on_crash_;
  double apply_failure_rate_ = 0;
  bool crashed_ = false;
  StoreFaultCounts counts_;
};

}  // namespace syncstack
