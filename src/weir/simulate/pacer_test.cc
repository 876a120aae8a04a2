#include "weir/simulate/pacer.h"

#include <gtest/gtest.h>

#include <thread>

#include "weir/base/time.h"

namespace weir::simulate {
namespace {

constexpr int64_t kMs = 1000000;

TEST(Pacer, HandsOutEventsAsTimePasses) {
  Pacer p(1000, 1000);  // one event per ms
  const int64_t t0 = p.start_nanos();
  EXPECT_EQ(p.DueAt(t0), 0u);
  EXPECT_EQ(p.DueAt(t0 + 5 * kMs), 5u);
  EXPECT_EQ(p.DueAt(t0 + 5 * kMs), 0u);  // already handed out
  EXPECT_EQ(p.DueAt(t0 + 10 * kMs + kMs / 2), 5u);
  EXPECT_EQ(p.produced(), 10u);
  EXPECT_EQ(p.NanosUntilNextAt(t0 + 10 * kMs + kMs / 2), kMs / 2);
  EXPECT_EQ(p.NanosUntilNextAt(t0 + 20 * kMs), 0);
}

TEST(Pacer, CapsEachCallButKeepsWhatIsOwed) {
  Pacer p(1e6, 100);  // 1000 events per ms
  const int64_t t0 = p.start_nanos();
  EXPECT_EQ(p.DueAt(t0 + kMs), 100u);
  size_t total = 100;
  while (size_t n = p.DueAt(t0 + kMs)) total += n;
  EXPECT_EQ(total, 1000u);
  EXPECT_EQ(p.skipped(), 0u);
}

TEST(Pacer, ForgetsBacklogBeyondOneSecond) {
  Pacer p(1000, 100);
  const int64_t t0 = p.start_nanos();
  EXPECT_EQ(p.DueAt(t0 + 5000 * kMs), 100u);  // 5000 owed; 1 s (1000) kept
  EXPECT_EQ(p.skipped(), 4000u);
  size_t total = 100;
  while (size_t n = p.DueAt(t0 + 5000 * kMs)) total += n;
  EXPECT_EQ(total, 1000u);
}

TEST(Pacer, DefaultCapIsATenthOfASecond) {
  EXPECT_EQ(Pacer(5000).max_per_call(), 500u);
  EXPECT_EQ(Pacer(3).max_per_call(), 1u);
}

TEST(Pacer, NonPositiveRateIsUnpaced) {
  Pacer p(0, 64);
  EXPECT_EQ(p.Due(), 64u);
  EXPECT_EQ(p.Due(), 64u);
  EXPECT_EQ(p.NanosUntilNext(), 0);
}

TEST(Pacer, FollowsTheRealClock) {
  Pacer p(10000);  // 10 per ms
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  size_t n = 0;
  while (size_t d = p.Due()) n += d;
  const double elapsed_ms = (MonotonicNanos() - p.start_nanos()) / 1e6;
  EXPECT_GE(n, 290u);
  EXPECT_LE(static_cast<double>(n), elapsed_ms * 10 + 1);
}

}  // namespace
}  // namespace weir::simulate
