// Session windows: per group, closing after the gap, merging, late merges and emptied sessions.
#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "weir/operators/metric_test_harness.h"

namespace weir::operators {
namespace {

using namespace metric_test;

TEST(SessionWindow, SessionsPerGroupCloseAfterGap) {
  MetricHarness h(SessionsPerUser(0));
  h.Feed(R"({"user":"a","ts":"2026-01-01T00:00:00Z","amount":1}
{"user":"b","ts":"2026-01-01T00:05:00Z","amount":2}
{"user":"a","ts":"2026-01-01T00:10:00Z","amount":3}
{"user":"a","ts":"2026-01-01T00:25:00Z","amount":4})");
  EXPECT_TRUE(h.out.rows.empty());
  h.Feed(R"({"user":"a","ts":"2026-01-01T02:00:00Z","amount":5})");
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 2u);
  std::sort(rows.begin(), rows.end());
  EXPECT_EQ(
      rows[0],
      R"({"metric":"sessions","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:55:00.000Z","user":"a","events":3,"spent":8,"revision":2,"final":true})");
  // Session rows carry their sequence number as revision: b closed first.
  EXPECT_EQ(
      rows[1],
      R"({"metric":"sessions","window_start":"2026-01-01T00:05:00.000Z","window_end":"2026-01-01T00:35:00.000Z","user":"b","events":1,"spent":2,"revision":1,"final":true})");
  h.End();
  rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(
      rows[0].find(
          R"("window_start":"2026-01-01T02:00:00.000Z","window_end":"2026-01-01T02:30:00.000Z","user":"a","events":1)"),
      std::string::npos);
}

TEST(SessionWindow, BridgingRecordMergesSessions) {
  MetricHarness h(SessionsPerUser(3600000));  // a 1h bound: nothing fires until the end
  h.Feed(R"({"user":"a","ts":"2026-01-01T00:00:00Z","amount":1}
{"user":"a","ts":"2026-01-01T00:50:00Z","amount":2})");
  h.Feed(R"({"user":"a","ts":"2026-01-01T00:28:00Z","amount":4})");
  h.End();
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(
      rows[0],
      R"({"metric":"sessions","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T01:20:00.000Z","user":"a","events":3,"spent":7,"revision":1,"final":true})");
}

TEST(SessionWindow, LateMergeDeletesTheEmittedRow) {
  spec::MetricSpec m = SessionsPerUser(0);
  m.allowed_lateness = 2 * 3600000;
  MetricHarness h(m);
  h.Feed(R"({"user":"a","ts":"2026-01-01T00:00:00Z","amount":1}
{"user":"a","ts":"2026-01-01T00:50:00Z","amount":2}
{"user":"z","ts":"2026-01-01T01:30:00Z","amount":0})");
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 2u);  // [00:00, 00:30) and [00:50, 01:20)
  // 00:28 is behind the watermark (01:30) but within lateness: it bridges both sessions.
  h.Feed(R"({"user":"a","ts":"2026-01-01T00:28:00Z","amount":4})");
  rows = h.out.Take();
  std::sort(rows.begin(), rows.end());
  ASSERT_EQ(rows.size(), 2u) << rows[0];
  EXPECT_EQ(
      rows[0],
      R"({"metric":"sessions","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T01:20:00.000Z","user":"a","events":3,"spent":7,"revision":4,"final":true})");
  EXPECT_EQ(
      rows[1],
      R"({"metric":"sessions","window_start":"2026-01-01T00:50:00.000Z","window_end":"2026-01-01T01:20:00.000Z","user":"a","events":null,"spent":null,"revision":3,"final":true,"deleted":true})");
}

// A session whose records were all retracted fires with no row; when a later record (within
// the lateness) moves its start, no deletion goes out for the row that never existed.
TEST(SessionWindow, EmptiedSessionHasNoRowAndNoDeletion) {
  spec::MetricSpec m = SessionsPerUser(0);
  m.allowed_lateness = 2 * 3600000;
  MetricHarness h(m, 1, 1, /*changes=*/true);
  ASSERT_TRUE(h.metric) << h.diags.Format();
  h.Feed(R"({"op":"c","after":{"user":"a","ts":"2026-01-01T00:10:00Z","amount":1}}
{"op":"d","before":{"user":"a","ts":"2026-01-01T00:10:00Z","amount":1}}
{"op":"c","after":{"user":"z","ts":"2026-01-01T01:00:00Z","amount":0}})");
  EXPECT_TRUE(h.out.Take().empty());  // a's session fired empty: no row
  // 00:05 joins a's (fired, empty) session and moves its start: one row, no deletion.
  h.Feed(R"({"op":"c","after":{"user":"a","ts":"2026-01-01T00:05:00Z","amount":4}}
{"op":"c","after":{"user":"z","ts":"2026-01-01T02:00:00Z","amount":0}})");
  auto rows = h.out.Take();
  std::sort(rows.begin(), rows.end());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(
      rows[0],
      R"({"metric":"sessions","window_start":"2026-01-01T00:05:00.000Z","window_end":"2026-01-01T00:40:00.000Z","user":"a","events":1,"spent":4,"revision":1,"final":true})");
  EXPECT_NE(rows[1].find(R"("user":"z","events":1)"), std::string::npos) << rows[1];
  for (const auto& r : rows) EXPECT_EQ(r.find("deleted"), std::string::npos) << r;
}

}  // namespace
}  // namespace weir::operators
