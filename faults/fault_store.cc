#include "syncstack/faults/fault_store.h"

#include <cstring>
#include <string>

namespace syncstack {

FaultStore::FaultStore(Store& target, uint64_t seed)
    : StoreWrapper(target), rng_(seed) {}

Status FaultStore::DownStatus() const {
  return Status::IOError("injected fault: the store crashed (restart it)");
}

Status FaultStore::Apply(const WriteOptions& options,
                         const ChangeBatch& batch) noexcept {
  std::function<void()> on_crash;
  uint64_t fail_at = 0;  // 1-based op position in this batch; 0: none
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return DownStatus();
    ++counts_.applies;
    if (crash_in_ != 0 && --crash_in_ == 0) {
      crashed_ = true;
      ++counts_.crashes;
      on_crash = std::move(on_crash_);
      on_crash_ = nullptr;
    } else if (apply_failure_rate_ > 0 &&
               std::uniform_real_distribution<double>(0, 1)(rng_) <
                   apply_failure_rate_) {
      ++counts_.failed_applies;
      return Status::IOError("injected fault: write failed");
    } else if (fail_write_in_ != 0) {
      if (fail_write_in_ <= batch.size()) {
        fail_at = fail_write_in_;
        fail_write_in_ = 0;
        ++counts_.failed_writes;
      } else {
        fail_write_in_ -= batch.size();
      }
    }
  }
  if (on_crash) on_crash();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (crashed_) return DownStatus();
  }
  if (fail_at == 0) {
    Status s = target().Apply(options, batch);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      counts_.writes += batch.size();
    }
    return s;
  }

  // Rebuild the batch with a poisoned op in place of op `fail_at`: a write
  // whose precondition cannot hold (a fresh random id must exist). The
  // store meets it inside its transaction, after writing the ops before it,
  // and must roll those back.
  ChangeBatch poisoned;
  const auto& ops = batch.ops();
  for (size_t i = 0; i < ops.size(); ++i) {
    if (i + 1 == fail_at) {
      Record poison;
      poison.collection = ops[i].record.collection;
      poison.id = RecordId::Random();
      poison.payload = "{}";
      Expect must_exist;
      must_exist.exists = true;
      poisoned.Put(std::move(poison), must_exist);
    }
    const auto& op = ops[i];
    if (op.kind == ChangeBatch::Op::Kind::kPut) {
      poisoned.Put(op.record, op.expect);
    } else {
      poisoned.Erase(op.record.collection, op.record.id, op.expect);
    }
  }
  for (const auto& [key, value] : batch.meta()) poisoned.SetMeta(key, value);
  Status s = target().Apply(options, poisoned);
  if (s.ok()) {
    return Status::Corruption(
        "fault injection: the store applied a write whose precondition "
        "cannot hold");
  }
  return Status::IOError("injected fault: write " + std::to_string(fail_at) +
                         " of the batch failed (" + s.ToString() + ")");
}

std::unique_ptr<ManifestIterator> FaultStore::Scan(
    std::string_view collection, const ScanOptions& options) noexcept {
  if (crashed()) return NewErrorIterator(DownStatus());
  return StoreWrapper::Scan(collection, options);
}

Status FaultStore::Get(std::string_view collection,
                       std::span<const RecordId> ids,
                       FunctionRef<void(const Record&)> fn) noexcept {
  if (crashed()) return DownStatus();
  return StoreWrapper::Get(collection, ids, fn);
}

Result<std::vector<std::string>> FaultStore::Collections() noexcept {
  if (crashed()) return DownStatus();
  return StoreWrapper::Collections();
}

Result<std::optional<std::string>> FaultStore::GetMeta(
    std::string_view key) noexcept {
  if (crashed()) return DownStatus();
  return StoreWrapper::GetMeta(key);
}

Status FaultStore::ScanSince(std::string_view collection, Timestamp after,
                             size_t limit,
                             FunctionRef<void(const Record&)> fn) noexcept {
  if (crashed()) return DownStatus();
  return StoreWrapper::ScanSince(collection, after, limit, fn);
}

Status FaultStore::ScanUnsynced(std::string_view collection,
                                FunctionRef<void(const Record&)> fn) noexcept {
  if (crashed()) return DownStatus();
  return StoreWrapper::ScanUnsynced(collection, fn);
}

void FaultStore::FailWriteAt(uint64_t n) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_write_in_ = n;
}

void FaultStore::CrashAtApply(uint64_t n, std::function<void()> on_crash) {
  std::lock_guard<std::mutex> lock(mu_);
  crash_in_ = n;
  on_crash_ = std::move(on_crash);
}

void FaultStore::set_apply_failure_rate(double p) {
  std::lock_guard<std::mutex> lock(mu_);
  apply_failure_rate_ = p;
}

void FaultStore::Restart() {
  std::lock_guard<std::mutex> lock(mu_);
  crashed_ = false;
  crash_in_ = 0;
  on_crash_ = nullptr;
}

bool FaultStore::crashed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return crashed_;
}

StoreFaultCounts FaultStore::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counts_;
}

}  // namespace syncstack
