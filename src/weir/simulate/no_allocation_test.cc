// Checks the hot-path contract: Scenario::Next() allocates nothing once the caller's string
// has room. Global operator new is replaced (for this whole test program) by a counting one.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "weir/simulate/simulator.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// g++ 12 warns that free() does not match operator new, not seeing that this operator new is
// itself malloc-based.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace weir::simulate {
namespace {

class NoAllocation : public ::testing::TestWithParam<const char*> {};

TEST_P(NoAllocation, NextDoesNotAllocateWhenTheBufferHasRoom) {
  auto s = MakeScenario(GetParam(), Options{});
  ASSERT_TRUE(s);
  std::string out;
  out.reserve(1 << 20);
  const long before = g_allocations.load();
  for (int i = 0; i < 20000; ++i) {
    if (out.size() > (1 << 20) - 2048) out.clear();
    (*s)->Next(out);
    out += '\n';
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_GT(out.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllScenarios, NoAllocation, ::testing::Values("ecommerce", "campaigns", "orders"));

}  // namespace
}  // namespace weir::simulate
