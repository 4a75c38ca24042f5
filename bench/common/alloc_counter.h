// Heap allocations of the whole benchmark program, so benchmarks can report
// allocations per item next to time. Linking syncstack::bench_alloc
// replaces the global operator new/delete with counting ones.
#pragma once

#include <cstdint>

namespace syncstack::bench {

// Allocations so far (all threads).
uint64_t Allocations() noexcept;

}  // namespace syncstack::bench
