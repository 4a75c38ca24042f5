#include "store_runs.h"

#include <errno.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "alloc_counter.h"
#include "workload.h"

namespace syncstack::bench {

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "%s: %s failed\n", program_invocation_short_name,
                 what);
    std::abort();
  }
}

void Check(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, what,
                 s.ToString().c_str());
    std::abort();
  }
}

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

void ReportPerItem(benchmark::State& state, size_t items,
                   uint64_t allocations) {
  state.SetItemsProcessed(static_cast<int64_t>(items) * state.iterations());
  state.counters["allocs_per_item"] =
      benchmark::Counter(static_cast<double>(allocations) /
                         static_cast<double>(items * state.iterations()));
}

void MeasureApply(benchmark::State& state,
                  const std::vector<ChangeBatch>& batches, bool sync,
                  const OpenIn& open) {
  size_t records = 0;
  for (const ChangeBatch& b : batches) records += b.size();
  AllocationMeter allocations;
  for (auto _ : state) {
    std::string dir = TempDir();
    {
      std::unique_ptr<Database> db = open(dir);
      auto store = std::move(db->OpenAccount(kLocalAccount)).value();
      allocations.Start();
      auto start = std::chrono::steady_clock::now();
      for (const ChangeBatch& b : batches) {
        Check(store->Apply(WriteOptions{sync}, b), "apply");
      }
      state.SetIterationTime(Seconds(start));
      allocations.Stop();
    }
    std::filesystem::remove_all(dir);
  }
  ReportPerItem(state, records, allocations.total());
}

}  // namespace syncstack::bench
