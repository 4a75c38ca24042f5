// A replacement global operator new that counts every heap allocation of
// the benchmark process (the in-process service's too), for allocations per
// operation. In its own file: GCC, seeing new and delete inlined together,
// misreads malloc/free as mismatched.
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

namespace syncstack::pages_bench {

namespace {
std::atomic<size_t> g_allocations{0};
}  // namespace

size_t AllocationCount() noexcept {
  return g_allocations.load(std::memory_order_relaxed);
}

}  // namespace syncstack::pages_bench

[[gnu::noinline]] void* operator new(std::size_t size) {
  syncstack::pages_bench::g_allocations.fetch_add(1, std::memory_order_relaxed);
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
