// Watermarks and what a metric reports: idle inputs, the oldest open window and what holds it,
// early rows, expressions over aggregates, processing time.
#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "weir/operators/metric_test_harness.h"

namespace weir::operators {
namespace {

using namespace metric_test;

// ---- idle_timeout ---------------------------------------------------------------------------

// Partition 1 never sends. Without idle_timeout it holds the watermark back for good; with it,
// once it has been quiet for the timeout, partition 0 alone moves the watermark.
TEST(IdleTimeout, IdleInputStopsHoldingTheWatermarkBack) {
  for (bool idle : {false, true}) {
    SCOPED_TRACE(idle ? "idle_timeout 10s" : "no idle_timeout");
    spec::MetricSpec m = RevenuePerMinute();
    if (idle) m.idle_timeout = 10000;
    MetricHarness h(m, 2);
    const Timestamp t0 = NowMillis();  // the inputs were last heard from when the metric started
    h.SetClock(t0);
    h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:02:00Z","cur":"USD","amount":2})",
           0);
    EXPECT_TRUE(h.out.rows.empty());  // partition 1 is not idle yet
    h.SetClock(t0 + 10001);
    h.Feed(R"({"type":"buy","ts":"2026-01-01T00:02:10Z","cur":"USD","amount":4})", 0);
    auto rows = h.out.Take();
    if (!idle) {
      EXPECT_TRUE(rows.empty());
      continue;
    }
    // Watermark 00:02:10 - 5s: the first minute fires (the third is still open).
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_NE(
        rows[0].find(
            R"("window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","cur":"USD","n":1,"total":1,)"),
        std::string::npos)
        << rows[0];
    std::string status = h.metric->StatusJson(t0 + 10001);
    EXPECT_NE(status.find(R"("watermark":"2026-01-01T00:02:05.000Z")"), std::string::npos) << status;
    EXPECT_NE(status.find(R"("partition":1,"max_event_time":null,"state":"idle")"), std::string::npos) << status;
    // Partition 1 speaks again: it is active, and holds the watermark (which does not go back).
    h.Feed(R"({"type":"buy","ts":"2026-01-01T00:02:30Z","cur":"EUR","amount":8})", 1);
    h.Feed(R"({"type":"buy","ts":"2026-01-01T00:09:00Z","cur":"USD","amount":16})", 0);
    EXPECT_TRUE(h.out.Take().empty());
    status = h.metric->StatusJson(t0 + 10001);
    EXPECT_NE(status.find(R"("watermark":"2026-01-01T00:02:25.000Z")"), std::string::npos) << status;
  }
}

// A file source that ended and an HTTP source that is idle (the case the audit found): the
// watermark goes as far as the ended input reached (not to +inf: the idle input may still send),
// windows up to there fire on the timer, and a record of the idle input behind it is late.
TEST(IdleTimeout, EndedAndIdleInputsAdvanceToTheFurthestReached) {
  spec::MetricSpec m = RevenuePerMinute();
  m.idle_timeout = 10000;
  MetricHarness h(m, 2);
  const Timestamp t0 = NowMillis();
  h.SetClock(t0);
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:01:30Z","cur":"USD","amount":2})",
         0);
  h.End(0);
  EXPECT_TRUE(h.out.rows.empty());  // partition 1 is not idle yet
  h.SetClock(t0 + 10001);
  h.metric->OnTimer(t0 + 10001, h.out);
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(
      rows[0].find(
          R"("window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","cur":"USD","n":1,"total":1,)"),
      std::string::npos)
      << rows[0];
  std::string status = h.metric->StatusJson(t0 + 10001);
  EXPECT_NE(status.find(R"("watermark":"2026-01-01T00:01:25.000Z")"), std::string::npos) << status;
  EXPECT_NE(status.find(R"("state":"ended")"), std::string::npos) << status;
  EXPECT_NE(status.find(R"("state":"idle")"), std::string::npos) << status;
  EXPECT_NE(status.find("no input is active"), std::string::npos) << status;
  // The idle input sends: a record behind the watermark is late; then it moves the watermark.
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:30Z","cur":"USD","amount":4})", 1);
  EXPECT_EQ(h.out.late.size(), 1u);
  EXPECT_TRUE(h.out.Take().empty());
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:03:00Z","cur":"USD","amount":8})", 1);
  rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(
      rows[0].find(
          R"("window_start":"2026-01-01T00:01:00.000Z","window_end":"2026-01-01T00:02:00.000Z","cur":"USD","n":1,"total":2,)"),
      std::string::npos)
      << rows[0];
}

// ---- status: the oldest open window and what holds it ----------------------------------------

TEST(MetricStatus, OldestOpenWindowNamesTheHolderAndSinceWhen) {
  MetricHarness h(RevenuePerMinute(), 2);
  const Timestamp t0 = 1767225600000;  // a pinned wall clock: 2026-01-01T00:00:00Z
  h.SetClock(t0);
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:05:00Z","cur":"USD","amount":2})",
         0);
  h.SetClock(t0 + 1000);
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:20Z","cur":"EUR","amount":1})", 1);  // watermark 00:00:15
  h.SetClock(t0 + 6000);
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:25Z","cur":"EUR","amount":1})", 1);  // watermark 00:00:20
  h.SetClock(t0 + 13000);
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:06:00Z","cur":"USD","amount":1})", 0);  // moves nothing
  EXPECT_TRUE(h.out.rows.empty());
  const std::string status = h.metric->StatusJson(t0 + 14000);
  EXPECT_NE(status.find(R"("watermark":"2026-01-01T00:00:20.000Z")"), std::string::npos) << status;
  EXPECT_NE(
      status.find(
          R"("oldest_open_window":{"start":"2026-01-01T00:00:00.000Z","end":"2026-01-01T00:01:00.000Z",)"
          R"("held_by":{"source":"in","partition":1,"max_event_time":"2026-01-01T00:00:25.000Z","ms_since_last_record":8000},)"
          R"("watermark_advanced_at":"2026-01-01T00:00:06.000Z","ms_since_watermark_advanced":8000,)"),
      std::string::npos)
      << status;
  EXPECT_NE(
      status.find("held back by source 'in' partition 1 (max event time 2026-01-01T00:00:25.000Z, last record "
                  "8000 ms ago, bound 5s); the watermark last advanced at 2026-01-01T00:00:06.000Z (8000 ms ago)"),
      std::string::npos)
      << status;
}

TEST(MetricStatus, SessionMetricReportsOpenSessionsAndTheOldest) {
  for (size_t shards : {size_t{1}, size_t{3}}) {
    SCOPED_TRACE(testing::Message() << shards << " shard(s)");
    MetricHarness h(SessionsPerUser(60000), 1, shards);
    const Timestamp t0 = 1767225600000;
    h.SetClock(t0);
    h.Feed(R"({"user":"a","ts":"2026-01-01T00:00:00Z","amount":1}
{"user":"b","ts":"2026-01-01T00:05:00Z","amount":2}
{"user":"c","ts":"2026-01-01T00:10:00Z","amount":3})");
    h.SetClock(t0 + 2000);
    h.Feed(R"({"user":"a","ts":"2026-01-01T00:20:00Z","amount":4})");
    EXPECT_TRUE(h.out.rows.empty());
    // Watermark 00:19:00; a's session [00:00, 00:50) ends last now, b's [00:05, 00:35) first.
    const std::string status = h.metric->StatusJson(t0 + 5000);
    EXPECT_NE(status.find(R"("open_sessions":3,)"), std::string::npos) << status;
    EXPECT_NE(
        status.find(
            R"("oldest_open_window":{"start":"2026-01-01T00:05:00.000Z","end":"2026-01-01T00:35:00.000Z",)"
            R"("held_by":{"source":"in","partition":0,"max_event_time":"2026-01-01T00:20:00.000Z","ms_since_last_record":3000},)"
            R"("watermark_advanced_at":"2026-01-01T00:00:02.000Z","ms_since_watermark_advanced":3000,)"),
        std::string::npos)
        << status;
    EXPECT_NE(status.find("watermark 2026-01-01T00:19:00.000Z is behind the window end; it is held back by source 'in' "
                          "partition 0"),
              std::string::npos)
        << status;
  }
}

// ---- early rows, expressions over aggregates, processing time, snapshot envelopes -------------

// emit: { early: 1s }: partial rows (final:false) while the window is open, each a revision;
// the final row when the watermark passes the end comes with the next revision.
TEST(EarlyEmission, PartialRowsThenTheFinalOne) {
  spec::MetricSpec m = RevenuePerMinute();
  m.emit_early = 1000;
  MetricHarness h(m);
  const Timestamp t0 = NowMillis();
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":10})");
  h.metric->OnTimer(t0 + 500, h.out);  // within the first interval: nothing yet
  EXPECT_TRUE(h.out.rows.empty());
  h.metric->OnTimer(t0 + 2000, h.out);
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(
      rows[0],
      R"({"metric":"revenue","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","cur":"USD","n":1,"total":10,"avg":10,"revision":1,"final":false})");
  h.metric->OnTimer(t0 + 4000, h.out);  // nothing changed since
  EXPECT_TRUE(h.out.rows.empty());
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:20Z","cur":"USD","amount":5}
{"type":"view","ts":"2026-01-01T00:01:05Z"})");
  rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(
      rows[0],
      R"({"metric":"revenue","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","cur":"USD","n":2,"total":15,"avg":7.5,"revision":2,"final":true})");
  h.metric->OnTimer(t0 + 6000, h.out);  // the window is closed: no more partial rows
  EXPECT_TRUE(h.out.rows.empty());
}

// A select over aggregates (a click-through rate that divides by zero as null) and having.
TEST(SelectOverAggregates, RateWithNullifAndHaving) {
  spec::MetricSpec m;
  m.id = "ctr";
  m.event_time = E("ts");
  m.window = {spec::WindowKind::kTumbling, 60000, 0, {}};
  m.group_by = {{"campaign", E("campaign"), {}}};
  m.select = {{"clicks", E("count_if(x = 'click')"), {}},
              {"ctr", E("100.0 * count_if(x = 'click') / nullif(count_if(x = 'view'), 0)"), {}}};
  m.having = E("clicks > 0");
  MetricHarness h(m);
  h.Feed(R"({"campaign":"a","x":"view","ts":"2026-01-01T00:00:01Z"}
{"campaign":"a","x":"view","ts":"2026-01-01T00:00:02Z"}
{"campaign":"a","x":"view","ts":"2026-01-01T00:00:03Z"}
{"campaign":"a","x":"view","ts":"2026-01-01T00:00:04Z"}
{"campaign":"a","x":"click","ts":"2026-01-01T00:00:05Z"}
{"campaign":"b","x":"click","ts":"2026-01-01T00:00:06Z"}
{"campaign":"b","x":"click","ts":"2026-01-01T00:00:07Z"}
{"campaign":"c","x":"view","ts":"2026-01-01T00:00:08Z"})");
  h.End();
  auto rows = h.out.Take();
  // a: 1 click / 4 views = 25%; b: clicks but no views (nullif: null, not a division error);
  // c: views but no click, so having drops it.
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(rows[0].find(R"("campaign":"a","clicks":1,"ctr":25,"revision":1,"final":true)"), std::string::npos)
      << rows[0];
  EXPECT_NE(rows[1].find(R"("campaign":"b","clicks":2,"ctr":null,"revision":1,"final":true)"), std::string::npos)
      << rows[1];
}

// Without event_time, records are stamped with the time their batch was ingested and windows
// close as the wall clock (the timer) passes their end plus the bound; event-time fields are
// ignored.
TEST(ProcessingTime, WindowsFollowIngestTimeAndTheTimer) {
  spec::MetricSpec m = RevenuePerMinute();
  m.event_time = {};
  m.watermark = 2000;
  MetricHarness h(m);
  const Timestamp t = 1767225630000;  // 2026-01-01T00:00:30Z
  auto feed = [&](std::string_view ndjson, Timestamp ingest) {
    auto buf = codec::PaddedBuffer::Copy(ndjson);
    Batch b(h.layout.width());
    b.Hold(buf);
    b.ingest_time = ingest;
    h.decoder->DecodeNdjson(*buf, b, nullptr);
    h.metric->Process(b, h.out);
  };
  feed(R"({"type":"buy","ts":"2020-01-01T00:00:00Z","cur":"USD","amount":1}
{"type":"buy","cur":"USD","amount":2})",
       t);
  feed(R"({"type":"buy","ts":"2030-01-01T00:00:00Z","cur":"USD","amount":4})", t + 40000);  // next minute
  EXPECT_TRUE(h.out.rows.empty());      // the timer moves processing time, not records
  h.metric->OnTimer(t + 31000, h.out);  // 00:01:01 - 2s bound: not yet
  EXPECT_TRUE(h.out.rows.empty());
  h.metric->OnTimer(t + 32000, h.out);
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(
      rows[0],
      R"({"metric":"revenue","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","cur":"USD","n":2,"total":3,"avg":1.5,"revision":1,"final":true})");
  const std::string status = h.metric->StatusJson(t + 32000);
  EXPECT_NE(status.find(R"("event_time":"processing time")"), std::string::npos) << status;
  h.End();
  rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(
      rows[0].find(
          R"("window_start":"2026-01-01T00:01:00.000Z","window_end":"2026-01-01T00:02:00.000Z","cur":"USD","n":1,"total":4)"),
      std::string::npos)
      << rows[0];
}

}  // namespace
}  // namespace weir::operators
