// WindowMetric over panes: tumbling, sliding and top-N windows, lateness, retractions, change
// envelopes, and saving and restoring state.
#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "weir/operators/metric_test_harness.h"

namespace weir::operators {
namespace {

using namespace metric_test;

// A record the decoder's gate filtered out counts for its event time alone, whether filtered
// records are most of the batch (evaluated record by record) or few (a column at a time).
TEST(TumblingWindow, GateFilteredRecordsMoveTimeOnly) {
  for (bool most : {true, false}) {
    MetricHarness h(RevenuePerMinute());
    std::string in = R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":10}
{"type":"buy","ts":"2026-01-01T00:00:20Z","cur":"USD","amount":100}
{"type":"buy","ts":"2026-01-01T00:00:30Z","cur":"EUR","amount":1000}
{"type":"view","ts":"2026-01-01T00:02:00Z","cur":"USD","amount":5}
)";
    if (most)
      h.FeedFiltered(in, {1, 2, 3});
    else
      h.FeedFiltered(in, {1});
    // The last record (filtered or not, `where` drops it) moved the watermark past the first minute.
    auto rows = h.out.Take();
    if (most) {
      ASSERT_EQ(rows.size(), 1u);
      EXPECT_NE(rows[0].find("\"cur\":\"USD\",\"n\":1,\"total\":10,"), std::string::npos) << rows[0];
    } else {
      ASSERT_EQ(rows.size(), 2u);
      EXPECT_NE(rows[0].find("\"cur\":\"EUR\",\"n\":1,\"total\":1000,"), std::string::npos) << rows[0];
      EXPECT_NE(rows[1].find("\"cur\":\"USD\",\"n\":1,\"total\":10,"), std::string::npos) << rows[1];
    }
  }
}

// Records that are not kept (filtered out by the decoder's gate, or by `where`) visit the record
// loop as runs when they are most of a batch (a run acts as its last record, with its latest
// time): whatever fires inside a run fires at the next record visited, and the rows, revisions,
// sequence and late records are those of one record per batch.
TEST(TumblingWindow, FilteredRunsEmitWhatRecordByRecordDoes) {
  for (auto kind : {spec::WindowKind::kTumbling, spec::WindowKind::kSliding, spec::WindowKind::kSession}) {
    spec::MetricSpec m = RevenuePerMinute();
    m.allowed_lateness = 20000;
    m.window = {
        kind, kind == spec::WindowKind::kSession ? 15000 : 60000, kind == spec::WindowKind::kSliding ? 20000 : 0, {}};
    std::vector<std::string> lines;
    std::vector<size_t> views;
    uint64_t x = 99;
    for (int i = 0; i < 3000; ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      const bool buy = (x >> 60) == 0;  // 1 in 16
      // Mostly increasing with a few seconds of disorder; many views far behind (so that a run's
      // latest time is often not its last), buys often 20-80 s behind (late or not by a little).
      int64_t ts = 1767225600000 + i * 150 - static_cast<int64_t>((x >> 20) % 4000);
      if (!buy && (x >> 40) % 5 == 0) ts -= 90000;
      if (buy && (x >> 40) % 3 == 0) ts -= 20000 + static_cast<int64_t>((x >> 44) % 60000);
      lines.push_back(fmt::format(R"({{"type":"{}","ts":{},"cur":"{}","amount":{}}})", buy ? "buy" : "view", ts,
                                  (x >> 30) % 2 ? "USD" : "EUR", (x >> 33) % 100));
      if (!buy) views.push_back(static_cast<size_t>(i));
    }
    auto run = [&](size_t per_batch, bool marked) {
      MetricHarness h(m);
      for (size_t from = 0; from < lines.size(); from += per_batch) {
        std::string in;
        std::vector<size_t> filtered;
        for (size_t i = from; i < std::min(lines.size(), from + per_batch); ++i) {
          in += lines[i] + "\n";
          if (std::binary_search(views.begin(), views.end(), i)) filtered.push_back(i - from);
        }
        if (marked)
          h.FeedFiltered(in, filtered);
        else
          h.Feed(in);
      }
      h.End();
      return std::pair(h.out.rows, h.out.late);
    };
    const auto one_by_one = run(1, false);
    EXPECT_GT(one_by_one.first.size(), 5u);
    EXPECT_GT(one_by_one.second.size(), 0u);
    for (size_t per_batch : {size_t{7}, size_t{100}, size_t{3000}}) {
      for (bool marked : {false, true}) {
        SCOPED_TRACE(testing::Message() << "window kind " << static_cast<int>(kind) << ", " << per_batch
                                        << " per batch, " << (marked ? "gate-filtered" : "where-filtered"));
        const auto got = run(per_batch, marked);
        EXPECT_EQ(got.first, one_by_one.first);
        EXPECT_EQ(got.second, one_by_one.second);
      }
    }
  }
}

// With the decoder's gate and time column (as in a pipeline), a kept record without a valid event
// time in a mostly filtered batch is counted as invalid and not aggregated.
TEST(TumblingWindow, InvalidTimesInAGatedBatch) {
  MetricHarness h(RevenuePerMinute());
  const uint32_t type = *h.layout.Find("type"), ts = *h.layout.Find("ts");
  const codec::DecodeGate gate = codec::DecodeGate::FieldIs(type, "buy", ts);
  codec::JsonDecoder dec(h.layout, {.envelopes = false, .gate = &gate});
  auto buf = codec::PaddedBuffer::Copy(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":10}
{"type":"view","ts":"2026-01-01T00:00:11Z"}
{"type":"buy","ts":"yesterday","cur":"USD","amount":1000}
{"type":"view","ts":"2026-01-01T00:00:12Z"}
{"type":"view","ts":"2026-01-01T00:00:13Z"}
{"type":"view","ts":"2026-01-01T00:02:00Z"}
)");
  Batch b(h.layout.width());
  b.Hold(buf);
  dec.DecodeNdjson(*buf, b, nullptr);
  ASSERT_EQ(b.filtered_count(), 4u);  // most of the batch
  ASSERT_NE(b.times(ts), nullptr);
  h.metric->Process(b, h.out);
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].find("\"cur\":\"USD\",\"n\":1,\"total\":10,"), std::string::npos) << rows[0];
  EXPECT_NE(h.metric->StatusJson(NowMillis()).find("\"invalid_event_time\":1"), std::string::npos)
      << h.metric->StatusJson(NowMillis());
}

TEST(TumblingWindow, EventTimesOutsideTheCalendarAreInvalid) {
  MetricHarness h(RevenuePerMinute());
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":10}
{"type":"buy","ts":1e300,"cur":"USD","amount":1}
{"type":"buy","ts":-9.2e18,"cur":"USD","amount":1}
{"type":"buy","ts":300000000000000,"cur":"USD","amount":1})");
  // None of the last three moved the watermark (to the end of time) or counted.
  EXPECT_TRUE(h.out.rows.empty());
  EXPECT_NE(h.metric->StatusJson(NowMillis()).find("\"invalid_event_time\":3"), std::string::npos)
      << h.metric->StatusJson(NowMillis());
  h.End();
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].find("\"n\":1,\"total\":10"), std::string::npos) << rows[0];
}

TEST(TumblingWindow, FiresWhenWatermarkPassesEnd) {
  MetricHarness h(RevenuePerMinute());
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":10}
{"type":"view","ts":"2026-01-01T00:00:20Z","cur":"USD","amount":99}
{"type":"buy","ts":"2026-01-01T00:00:30Z","cur":"EUR","amount":5}
{"type":"buy","ts":"2026-01-01T00:00:59.999Z","cur":"USD","amount":20})");
  EXPECT_TRUE(h.out.rows.empty());
  // 00:01:04 - 5s bound = 00:00:59: the minute is not complete yet.
  h.Feed(R"({"type":"view","ts":"2026-01-01T00:01:04Z"})");
  EXPECT_TRUE(h.out.rows.empty());
  h.Feed(R"({"type":"view","ts":"2026-01-01T00:01:05Z"})");
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 2u);
  // Rows of a window go out in group-key order.
  EXPECT_EQ(
      rows[0],
      R"({"metric":"revenue","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","cur":"EUR","n":1,"total":5,"avg":5,"revision":1,"final":true})");
  EXPECT_EQ(
      rows[1],
      R"({"metric":"revenue","window_start":"2026-01-01T00:00:00.000Z","window_end":"2026-01-01T00:01:00.000Z","cur":"USD","n":2,"total":30,"avg":15,"revision":1,"final":true})");
}

// A top-N ranks by order_by, then by group key; the rows it keeps carry their keys whether or
// not anything that ranks reads a key (keys are then decoded only for the rows kept).
TEST(TumblingWindow, TopNBreaksTiesByKeyAndKeepsKeys) {
  const std::string in = R"({"type":"buy","ts":"2026-01-01T00:00:01Z","cur":"GBP","amount":1}
{"type":"buy","ts":"2026-01-01T00:00:02Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:00:03Z","cur":"EUR","amount":1}
{"type":"buy","ts":"2026-01-01T00:00:04Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:00:05Z","cur":"JPY","amount":1}
{"type":"buy","ts":"2026-01-01T00:00:06Z","cur":"EUR","amount":1}
{"type":"buy","ts":"2026-01-01T00:00:07Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:00:08Z","cur":"CHF","amount":1}
{"type":"view","ts":"2026-01-01T00:02:00Z"}
)";
  auto run = [&](const char* extra_select, const char* having, std::vector<std::pair<std::string, bool>> order) {
    spec::MetricSpec m = RevenuePerMinute();
    m.select = {{"n", E("count()"), {}}};
    if (extra_select) m.select.push_back({"tag", E(extra_select), {}});
    if (having) m.having = E(having);
    for (auto& [name, desc] : order) m.order_by.push_back({name, desc});
    m.limit = 2;
    MetricHarness h(m);
    h.Feed(in);
    std::vector<std::string> got;
    for (const std::string& row : h.out.Take()) got.push_back(row.substr(row.find("\"cur\"")));
    return got;
  };
  const std::vector<std::string> usd_eur = {R"("cur":"USD","n":3,"revision":1,"final":true})",
                                            R"("cur":"EUR","n":2,"revision":1,"final":true})"};
  EXPECT_EQ(run(nullptr, nullptr, {{"n", true}}), usd_eur);
  // n ascending: CHF, GBP and JPY tie at 1; the keys decide.
  EXPECT_EQ(run(nullptr, nullptr, {{"n", false}}),
            (std::vector<std::string>{R"("cur":"CHF","n":1,"revision":1,"final":true})",
                                      R"("cur":"GBP","n":1,"revision":1,"final":true})"}));
  // A select, having or order_by that reads the key.
  EXPECT_EQ(run("concat(cur, '!')", nullptr, {{"n", true}}),
            (std::vector<std::string>{R"("cur":"USD","n":3,"tag":"USD!","revision":1,"final":true})",
                                      R"("cur":"EUR","n":2,"tag":"EUR!","revision":1,"final":true})"}));
  EXPECT_EQ(run(nullptr, "cur <> 'USD'", {{"n", true}}),
            (std::vector<std::string>{R"("cur":"EUR","n":2,"revision":1,"final":true})",
                                      R"("cur":"CHF","n":1,"revision":1,"final":true})"}));
  EXPECT_EQ(run(nullptr, nullptr, {{"cur", true}}),
            (std::vector<std::string>{R"("cur":"USD","n":3,"revision":1,"final":true})",
                                      R"("cur":"JPY","n":1,"revision":1,"final":true})"}));
}

TEST(TumblingWindow, OutOfOrderWithinBoundIsCounted) {
  MetricHarness h(RevenuePerMinute());
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:01:03Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:00:58Z","cur":"USD","amount":2}
{"type":"buy","ts":"2026-01-01T00:01:01Z","cur":"USD","amount":4}
{"type":"buy","ts":"2026-01-01T00:00:59Z","cur":"USD","amount":8})");
  EXPECT_TRUE(h.out.rows.empty());
  h.End();
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(rows[0].find(R"("window_start":"2026-01-01T00:00:00.000Z")"), std::string::npos);
  EXPECT_NE(rows[0].find(R"("n":2,"total":10)"), std::string::npos);
  EXPECT_NE(rows[1].find(R"("n":2,"total":5)"), std::string::npos);
  EXPECT_TRUE(h.out.late.empty());
}

TEST(TumblingWindow, LateBeyondBoundGoesToLateOutput) {
  MetricHarness h(RevenuePerMinute());
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:01:30Z","cur":"USD","amount":2}
{"type":"buy","ts":"2026-01-01T00:00:50Z","cur":"USD","amount":4})");
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].find(R"("n":1,"total":1,)"), std::string::npos);
  ASSERT_EQ(h.out.late.size(), 1u);
  EXPECT_NE(h.out.late[0].find(R"("amount":4)"), std::string::npos);
  EXPECT_EQ(h.metric->late_records(), 1u);
}

TEST(TumblingWindow, AllowedLatenessReemitsWithHigherRevision) {
  spec::MetricSpec m = RevenuePerMinute();
  m.allowed_lateness = 60000;
  MetricHarness h(m);
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:01:30Z","cur":"USD","amount":2})");
  ASSERT_EQ(h.out.Take().size(), 1u);
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:50Z","cur":"USD","amount":4})");
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].find(R"("n":2,"total":5,"avg":2.5,"revision":2,"final":true)"), std::string::npos) << rows[0];
  // Past lateness (watermark 00:02:05 >= 00:01:00 + 1m): late output.
  h.Feed(R"({"type":"view","ts":"2026-01-01T00:02:10Z"}
{"type":"buy","ts":"2026-01-01T00:00:55Z","cur":"USD","amount":8})");
  EXPECT_EQ(h.out.late.size(), 1u);
}

TEST(TumblingWindow, EmptyWindowsEmitNothing) {
  MetricHarness h(RevenuePerMinute());
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":1}
{"type":"buy","ts":"2026-01-01T00:10:10Z","cur":"USD","amount":2})");
  auto rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);  // minutes 1..9 had no data
  h.End();
  rows = h.out.Take();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0].find(R"("window_start":"2026-01-01T00:10:00.000Z")"), std::string::npos);
}

TEST(TumblingWindow, WatermarkIsMinimumOverPartitions) {
  MetricHarness h(RevenuePerMinute(), 2);
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":1}
{"type":"view","ts":"2026-01-01T00:05:00Z"})",
         0);
  EXPECT_TRUE(h.out.rows.empty());  // partition 1 has not spoken: the watermark waits
  h.Feed(R"({"type":"view","ts":"2026-01-01T00:01:10Z"})", 1);
  EXPECT_EQ(h.out.Take().size(), 1u);
  std::string status = h.metric->StatusJson(NowMillis());
  EXPECT_NE(status.find(R"("watermark":"2026-01-01T00:01:05.000Z")"), std::string::npos) << status;
}

TEST(TumblingWindow, RetractionsMoveGroups) {
  spec::MetricSpec m;
  m.id = "orders";
  m.event_time = E("ts");
  m.window = {spec::WindowKind::kTumbling, 60000, 0, {}};
  m.group_by = {{"status", E("status"), {}}};
  m.select = {{"n", E("count()"), {}}, {"total", E("sum(total)"), {}}, {"biggest", E("max(total)"), {}}};
  MetricHarness h(m, 1, 1, /*changes=*/true);
  ASSERT_TRUE(h.metric) << h.diags.Format();
  h.Feed(
      R"({"op":"c","after":{"status":"pending","total":10,"ts":1000}}
{"op":"c","after":{"status":"pending","total":30,"ts":1010}}
{"op":"u","before":{"status":"pending","total":30,"ts":1010},"after":{"status":"completed","total":30,"ts":1010}}
{"op":"c","after":{"status":"cancelled","total":5,"ts":1020}}
{"op":"d","before":{"status":"cancelled","total":5,"ts":1020}})");
  h.End();
  const auto& rows = h.out.rows;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(rows[0].find(R"("status":"completed","n":1,"total":30,"biggest":30)"), std::string::npos) << rows[0];
  EXPECT_NE(rows[1].find(R"("status":"pending","n":1,"total":10,"biggest":10)"), std::string::npos);
  // The cancelled order was deleted: its group has no records and no row.
}

// `op: r` (a snapshot read, as Debezium sends for rows that existed before the stream) is an
// insert: an update or delete later retracts it like a created row. Decimal strings sum and max
// as numbers.
TEST(ChangeEnvelopes, SnapshotReadsAreInserts) {
  spec::MetricSpec m;
  m.id = "orders";
  m.event_time = E("ts");
  m.window = {spec::WindowKind::kTumbling, 60000, 0, {}};
  m.group_by = {{"status", E("status"), {}}};
  m.select = {{"n", E("count()"), {}}, {"total", E("sum(total)"), {}}, {"biggest", E("max(total)"), {}}};
  MetricHarness h(m, 1, 1, /*changes=*/true);
  ASSERT_TRUE(h.metric) << h.diags.Format();
  auto [records, stats] = h.Feed(
      R"({"op":"r","after":{"status":"pending","total":"100.00","ts":1000}}
{"op":"r","after":{"status":"pending","total":"20.00","ts":1001}}
{"op":"r","after":{"status":"pending","total":"5.50","ts":1002}}
{"op":"u","before":{"status":"pending","total":"100.00","ts":1000},"after":{"status":"completed","total":"100.00","ts":1000}}
{"op":"r","after":{"status":"cancelled","total":"1.00","ts":1003}}
{"op":"d","before":{"status":"cancelled","total":"1.00","ts":1003}})");
  ASSERT_EQ(stats.rejected, 0u);
  ASSERT_EQ(records, 7u);  // 4 snapshot rows, an update's two images, a delete
  h.End();
  const auto& rows = h.out.rows;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(rows[0].find(R"("status":"completed","n":1,"total":100,"biggest":100,)"), std::string::npos) << rows[0];
  // The max moved from 100 (retracted) to 20, compared as numbers ("5.50" < "20.00").
  EXPECT_NE(rows[1].find(R"("status":"pending","n":2,"total":25.5,"biggest":20,)"), std::string::npos) << rows[1];
}

// A run cut in two by a checkpoint (state saved, restored into a fresh metric) emits exactly
// what an uninterrupted run emits.
TEST(MetricState, SaveRestoreContinuesExactly) {
  std::vector<spec::MetricSpec> specs;
  for (auto kind : {spec::WindowKind::kTumbling, spec::WindowKind::kSliding, spec::WindowKind::kSession,
                    spec::WindowKind::kCumulative}) {
    spec::MetricSpec m;
    m.id = "m";
    m.event_time = E("ts");
    m.watermark = 2000;
    m.allowed_lateness = 5000;
    m.window = {kind,
                kind == spec::WindowKind::kSession ? 3000 : 6000,
                kind == spec::WindowKind::kSliding || kind == spec::WindowKind::kCumulative ? 2000 : 0,
                {}};
    m.group_by = {{"g", E("g"), {}}};
    m.select = {{"n", E("count()"), {}},
                {"s", E("sum(v)"), {}},
                {"lo", E("min(v)"), {}},
                {"d", E("count_distinct(v)"), {}},
                {"p", E("percentile(v, 0.5)"), {}}};
    specs.push_back(m);
    if (kind == spec::WindowKind::kSliding) {  // and a top-N of the same
      m.select.resize(1);
      m.order_by = {{"n", true}};
      m.limit = 2;
      m.window.size = 120000;
      m.window.every = 60000;
      specs.push_back(m);
    }
  }
  std::vector<std::string> lines;
  uint64_t x = 7;
  for (int i = 0; i < 400; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t ts = i * 100 - static_cast<int64_t>((x >> 33) % 3000);
    lines.push_back(fmt::format(R"({{"ts":{},"g":"g{}","v":{}}})", 1700000000000 + ts, (x >> 20) % 4, (x >> 40) % 50));
  }
  auto join = [&](size_t from, size_t to) {
    std::string s;
    for (size_t i = from; i < to; ++i) s += lines[i] + "\n";
    return s;
  };
  for (const auto& m : specs) {
    MetricHarness whole(m);
    whole.Feed(join(0, lines.size()));
    whole.End();

    MetricHarness first(m);
    first.Feed(join(0, 150));
    std::string state;
    first.metric->SaveState(state);
    MetricHarness second(m);
    ASSERT_TRUE(second.metric->RestoreState(state)) << static_cast<int>(m.window.kind);
    EXPECT_EQ(second.metric->StateFingerprint(), first.metric->StateFingerprint());
    second.Feed(join(150, lines.size()));
    second.End();
    std::vector<std::string> split = first.out.rows;
    split.insert(split.end(), second.out.rows.begin(), second.out.rows.end());
    EXPECT_EQ(split, whole.out.rows) << "window kind " << static_cast<int>(m.window.kind);
    EXPECT_FALSE(whole.out.rows.empty());
  }
}

TEST(MetricState, CorruptStateIsRejected) {
  MetricHarness h(RevenuePerMinute());
  h.Feed(R"({"type":"buy","ts":"2026-01-01T00:00:10Z","cur":"USD","amount":10})");
  std::string state;
  h.metric->SaveState(state);
  MetricHarness fresh(RevenuePerMinute());
  EXPECT_FALSE(fresh.metric->RestoreState(std::string_view(state).substr(0, state.size() - 3)));
  EXPECT_FALSE(fresh.metric->RestoreState(state + "x"));
  EXPECT_TRUE(fresh.metric->RestoreState(state));
}

}  // namespace
}  // namespace weir::operators
