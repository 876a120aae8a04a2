// Checks the hot-path contract: Scenario::Next() allocates nothing once the caller's string
// has room. Global operator new is replaced (for this whole test program) by a counting one
// (base/counting_new.h).
#include <gtest/gtest.h>

#include "weir/base/counting_new.h"
#include "weir/simulate/simulator.h"

namespace weir::simulate {
namespace {

class NoAllocation : public ::testing::TestWithParam<const char*> {};

TEST_P(NoAllocation, NextDoesNotAllocateWhenTheBufferHasRoom) {
#if !defined(WEIR_COUNTS_ALLOCATIONS)
  GTEST_SKIP() << "allocations are not counted under AddressSanitizer";
#endif
  auto s = MakeScenario(GetParam(), Options{});
  ASSERT_TRUE(s);
  std::string out;
  out.reserve(1 << 20);
  const long before = weir::testing::Allocations();
  for (int i = 0; i < 20000; ++i) {
    if (out.size() > (1 << 20) - 2048) out.clear();
    (*s)->Next(out);
    out += '\n';
  }
  EXPECT_EQ(weir::testing::Allocations() - before, 0);
  EXPECT_GT(out.size(), 0u);
}

INSTANTIATE_TEST_SUITE_P(AllScenarios, NoAllocation, ::testing::Values("ecommerce", "campaigns", "orders"));

}  // namespace
}  // namespace weir::simulate
