// A replacement global operator new that counts every heap allocation of
// the benchmark process, for allocations per operation. In its own file:
// GCC, seeing new and delete inlined together, misreads malloc/free as
// mismatched.
#include <cstddef>
#include <cstdlib>
#include <new>

namespace syncstack {

size_t g_allocations = 0;  // single-threaded benchmarks only

size_t AllocationCount() noexcept { return g_allocations; }

}  // namespace syncstack

void* operator new(std::size_t size) {
  ++syncstack::g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
