#include "weir/simulate/event_clock.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace weir::simulate {
namespace {

TEST(EventClock, WithoutDisorderAdvancesExactlyAtTheRate) {
  Options o;
  o.start_time = 1000000;
  o.events_per_second_of_event_time = 0.5;  // one event every 2 s
  o.max_disorder = 0;
  EventClock c(o);
  Rng rng(1);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(c.Next(rng), 1000000 + 2000 * i);
  EXPECT_EQ(c.count(), 10u);
  EXPECT_EQ(c.last(), c.frontier());
}

TEST(EventClock, LatenessIsBoundedAndMostlyZero) {
  Options o;
  o.max_disorder = 3000;
  o.events_per_second_of_event_time = 1000;
  EventClock c(o);
  Rng rng(5);
  const int n = 200000;
  int on_time = 0, small = 0, large = 0;
  for (int i = 0; i < n; ++i) {
    Timestamp t = c.Next(rng);
    Duration late = c.frontier() - t;
    ASSERT_GE(late, 0);
    ASSERT_LE(late, 3000);
    EXPECT_EQ(c.frontier(), o.start_time + i);
    if (late == 0) on_time++;
    else if (late <= 250) small++;
    else large++;
  }
  // 85% on time (+ the zero draws of the late bands), 12% within 250 ms, 3% up to 3 s.
  EXPECT_NEAR(on_time / double(n), 0.85 + 0.12 / 251 + 0.03 / 3001, 0.005);
  EXPECT_NEAR(small / double(n), 0.12 + 0.03 * 250 / 3001, 0.005);
  EXPECT_NEAR(large / double(n), 0.03 * 2750 / 3001, 0.003);
}

TEST(EventClock, RealtimeFollowsTheWallClock) {
  Options o;
  o.realtime = true;
  o.start_time = 0;  // ignored
  o.max_disorder = 100;
  EventClock c(o);
  Rng rng(1);
  Timestamp before = NowMillis();
  Timestamp t = c.Next(rng);
  Timestamp after = NowMillis();
  EXPECT_GE(t, before - 100);
  EXPECT_LE(t, after);
  EXPECT_GE(c.frontier(), before);
}

}  // namespace
}  // namespace weir::simulate
