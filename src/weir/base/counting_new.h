// For tests of the hot-path contract ("no allocation per record"): replaces the global
// operator new of the test program that includes it (include it in ONE file of that program)
// with a malloc-based one that counts calls.
//
//   long before = weir::testing::Allocations();
//   DoWork();
//   EXPECT_EQ(weir::testing::Allocations() - before, 0);
//
// Not under AddressSanitizer: shared libraries (simdjson) allocate with its operator new while
// inline deletes in the program would free with this one, a mismatch it reports. There
// WEIR_COUNTS_ALLOCATIONS is left undefined and tests skip.
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace weir::testing {
inline std::atomic<long> g_allocations{0};
/// operator new calls so far (0 forever when not counting).
inline long Allocations() { return g_allocations.load(std::memory_order_relaxed); }
}  // namespace weir::testing

#if !defined(__SANITIZE_ADDRESS__)
#define WEIR_COUNTS_ALLOCATIONS 1
// g++ 12 warns that free() does not match operator new, not seeing that this operator new is
// itself malloc-based.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  weir::testing::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif
