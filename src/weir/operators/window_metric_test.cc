#include "weir/operators/window_metric.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "weir/codec/json_decoder.h"
#include "weir/operators/sharded_metric.h"

namespace weir::operators {
namespace {

/// Collects what a metric emits as JSON lines.
struct Collector : runtime::Emitter {
  std::vector<std::string> rows, late;
  void EmitResults(ResultBatch& b) override {
    for (const auto& r : b.rows) {
      std::string s;
      AppendResultJson(*b.schema, r, s);
      rows.push_back(s);
    }
  }
  void EmitLate(LateBatch& b) override {
    for (const auto& r : b.records) late.push_back(std::string(r.raw));
  }
  std::vector<std::string> Take() { return std::exchange(rows, {}); }
};

spec::ExprText E(std::string text) { return {std::move(text), {}}; }

struct MetricHarness {
  spec::Pipeline pipeline;
  spec::Diagnostics diags;
  Layout layout;
  std::unique_ptr<runtime::Metric> metric;
  std::unique_ptr<codec::JsonDecoder> decoder;
  Collector out;

  /// With `changes`, the source sends change envelopes (op, before, after) that retract.
  explicit MetricHarness(spec::MetricSpec m, uint32_t partitions = 1, size_t shards = 1, bool changes = false) {
    runtime::PlanContext ctx{pipeline, diags, layout, {{"in", partitions, false, changes}}, "", shards};
    metric = MakeWindowMetric(m, ctx, 0);
    EXPECT_TRUE(diags.ok()) << diags.Format();
    decoder = std::make_unique<codec::JsonDecoder>(layout, codec::DecodeOptions{.envelopes = changes});
  }
  /// Decodes `ndjson` as one batch and applies it; returns the batch's records and what decoding
  /// counted.
  std::pair<size_t, codec::DecodeStats> Feed(std::string_view ndjson, uint32_t partition = 0) {
    auto buf = codec::PaddedBuffer::Copy(ndjson);
    Batch b(layout.width());
    b.Hold(buf);
    b.origin.partition = partition;
    codec::DecodeStats stats = decoder->DecodeNdjson(*buf, b, nullptr);
    const size_t records = b.size();
    metric->Process(b, out);
    return {records, stats};
  }
  /// Like Feed, with the records at `filtered` marked as the decoder's gate marks those no
  /// metric wants.
  void FeedFiltered(std::string_view ndjson, std::initializer_list<size_t> filtered) {
    FeedFiltered(ndjson, std::vector<size_t>(filtered));
  }
  void FeedFiltered(std::string_view ndjson, const std::vector<size_t>& filtered) {
    auto buf = codec::PaddedBuffer::Copy(ndjson);
    Batch b(layout.width());
    b.Hold(buf);
    decoder->DecodeNdjson(*buf, b, nullptr);
    for (size_t i : filtered) b.MarkFiltered(i);
    metric->Process(b, out);
  }
  void End(uint32_t partition = 0) { metric->EndPartition(0, partition, out); }
  /// Pins the wall clock the metric judges idle inputs by (and status ages) to `now`.
  void SetClock(Timestamp now) {
    if (auto* w = dynamic_cast<WindowMetric*>(metric.get())) w->SetNow(now);
    if (auto* s = dynamic_cast<ShardedMetric*>(metric.get())) s->SetNow(now);
  }
};

spec::MetricSpec RevenuePerMinute() {
  spec::MetricSpec m;
  m.id = "revenue";
  m.where = E("type = 'buy'");
  m.event_time = E("ts");
  m.watermark = 5000;
  m.window = {spec::WindowKind::kTumbling, 60000, 0, {}};
  m.group_by = {{"cur", E("cur"), {}}};
  m.select = {{"n", E("count()"), {}}, {"total", E("sum(amount)"), {}}, {"avg", E("avg(amount)"), {}}};
  return m;
}

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

spec::MetricSpec SessionsPerUser(Duration bound) {
  spec::MetricSpec m;
  m.id = "sessions";
  m.event_time = E("ts");
  m.watermark = bound;
  m.window = {spec::WindowKind::kSession, 30 * 60000, 0, {}};
  m.group_by = {{"user", E("user"), {}}};
  m.select = {{"events", E("count()"), {}}, {"spent", E("sum(amount)"), {}}};
  return m;
}

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

// The planner rejects, at validate time, aggregates that cannot take retractions when a source
// of the metric sends changes, naming the function and the reason; with insert-only sources
// the same metric plans.
TEST(MetricPlanner, RejectsNonRetractableAggregatesOverChanges) {
  for (bool changes : {true, false}) {
    spec::MetricSpec m = RevenuePerMinute();
    m.select = {{"n", E("count()"), {}},
                {"f", E("first(amount)"), {}},
                {"l", E("last(amount)"), {}},
                {"u", E("approx_distinct(cur)"), {}}};
    spec::Pipeline pipeline;
    spec::Diagnostics diags;
    Layout layout;
    runtime::PlanContext ctx{pipeline, diags, layout, {{"in", 1, false, changes}}, ""};
    auto metric = MakeWindowMetric(m, ctx, 0);
    const std::string text = diags.Format();
    if (!changes) {
      EXPECT_TRUE(metric) << text;
      EXPECT_EQ(diags.error_count(), 0u) << text;
      continue;
    }
    EXPECT_FALSE(metric);
    EXPECT_EQ(diags.error_count(), 3u) << text;
    for (const char* fn : {"first", "last", "approx_distinct"})
      EXPECT_NE(text.find(fmt::format("{}() cannot take retractions, and a source of this metric sends change events "
                                      "(changes: true)",
                                      fn)),
                std::string::npos)
          << text;
  }
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

TEST(MetricPlanner, ReportsBadSelects) {
  spec::MetricSpec m = RevenuePerMinute();
  m.select = {{"x", E("amount + 1"), {}}, {"y", E("sum(sum(amount))"), {}}, {"z", E("sum(amount, 2)"), {}}};
  spec::Pipeline pipeline;
  spec::Diagnostics diags;
  Layout layout;
  runtime::PlanContext ctx{pipeline, diags, layout, {{"in", 1, false, false}}, ""};
  EXPECT_FALSE(MakeWindowMetric(m, ctx, 0));
  std::string text = diags.Format();
  EXPECT_EQ(diags.error_count(), 3u) << text;
  EXPECT_NE(text.find("'amount' is neither a group_by key"), std::string::npos) << text;
  EXPECT_NE(text.find("cannot be nested"), std::string::npos) << text;
  EXPECT_NE(text.find("sum() takes 1 argument, got 2"), std::string::npos) << text;
}

}  // namespace
}  // namespace weir::operators
