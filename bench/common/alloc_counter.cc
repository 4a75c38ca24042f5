#include "alloc_counter.h"

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace syncstack::bench {
namespace {

// Meters running now (any thread), and allocations made while one was.
std::atomic<uint32_t> g_running{0};
std::atomic<uint64_t> g_allocations{0};

}  // namespace

AllocationMeter::~AllocationMeter() {
  if (running_) Stop();
}

void AllocationMeter::Start() noexcept {
  assert(!running_);
  running_ = true;
  g_running.fetch_add(1, std::memory_order_relaxed);
  start_ = g_allocations.load(std::memory_order_relaxed);
}

void AllocationMeter::Stop() noexcept {
  assert(running_);
  total_ += g_allocations.load(std::memory_order_relaxed) - start_;
  g_running.fetch_sub(1, std::memory_order_relaxed);
  running_ = false;
}

}  // namespace syncstack::bench

// Out of line (own translation unit, noinline) so that GCC does not pair an
// inlined malloc/free with new/delete expressions (-Wmismatched-new-delete).
// The array forms count through the scalar one.
[[gnu::noinline]] void* operator new(std::size_t size) {
  using syncstack::bench::g_allocations;
  using syncstack::bench::g_running;
  if (g_running.load(std::memory_order_relaxed) != 0) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new[](std::size_t size) {
  return operator new(size);
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete[](void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
[[gnu::noinline]] void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
