// Heap allocations of a benchmark's measured region, for allocations per
// operation next to time. Linking syncstack::bench_alloc (an OBJECT
// library) replaces the global operator new/delete with counting ones;
// every benchmark program that reports allocations links it.
//
// The count covers every thread (an in-process server's too) but only
// while some AllocationMeter is running: setup, teardown and the benchmark
// library's own bookkeeping outside Start()/Stop() are not counted.
// Counters are relaxed atomics: meters on several threads are safe, and
// each sees every allocation made while it runs.
#pragma once

#include <cstdint>

namespace syncstack::bench {

// Sums the allocations made between each Start() and the following Stop().
// One meter is used by one thread at a time.
class AllocationMeter {
 public:
  AllocationMeter() = default;
  AllocationMeter(const AllocationMeter&) = delete;
  AllocationMeter& operator=(const AllocationMeter&) = delete;
  ~AllocationMeter();  // stops a running meter

  // Opens a measured region. REQUIRES: not running.
  void Start() noexcept;
  // Closes it and adds its allocations to total(). REQUIRES: running.
  void Stop() noexcept;

  // Allocations of all closed regions so far.
  uint64_t total() const noexcept { return total_; }
  bool running() const noexcept { return running_; }

 private:
  uint64_t start_ = 0;
  uint64_t total_ = 0;
  bool running_ = false;
};

}  // namespace syncstack::bench
