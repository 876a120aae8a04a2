// Hand-checked cases for the brute-force reference of reference_evaluator.h, so that a wrong
// reference cannot hide behind agreeing with the engine (window_reference_test.cc compares the
// engine with it on random streams).
#include "weir/operators/reference_evaluator.h"

#include <gtest/gtest.h>

#include <string_view>

namespace weir::operators {
namespace {

constexpr Timestamp kT0 = 1'700'000'000'000;

RefRecord Rec(uint32_t p, Timestamp t, std::string_view g, double v, int w = 1) {
  RefRecord r;
  r.partition = p;
  r.time = kT0 + t;
  r.weight = w;
  r.group = RefValue::String(g);
  r.value = RefValue::Number(v);
  r.flag = RefValue::Bool(true);
  return r;
}

// Hand-checked cases, so that a wrong reference cannot hide behind agreeing with the engine.
TEST(ReferenceEvaluator, LatenessAgainstTheWatermarkOfEarlierRecords) {
  RefConfig c;
  c.window = {spec::WindowKind::kTumbling, 1000, 0, {}};
  c.aggregates = {{RefAgg::kCount}, {RefAgg::kSum}};
  // After t=1500 the watermark is 1500: t=900 is late (window end 1000 <= 1500), t=1999 is not.
  RefResult r = EvaluateReference(
      c, {RefStep::Record(Rec(0, 100, "a", 1)), RefStep::Record(Rec(0, 1500, "a", 2)),
          RefStep::Record(Rec(0, 900, "a", 4)), RefStep::Record(Rec(0, 1999, "a", 8)), RefStep::End(0)});
  EXPECT_EQ(r.late, 1u);
  ASSERT_EQ(r.rows.size(), 2u);
  const RefRow& w0 = r.rows.at({kT0, RefValue::String("a")});
  EXPECT_EQ(w0.cells[0].value, RefValue::Number(1));
  const RefRow& w1 = r.rows.at({kT0 + 1000, RefValue::String("a")});
  EXPECT_EQ(w1.cells[1].value, RefValue::Number(10));
}

TEST(ReferenceEvaluator, SilentPartitionHoldsTheWatermarkUntilItEnds) {
  RefConfig c;
  c.window = {spec::WindowKind::kTumbling, 1000, 0, {}};
  c.partitions = 2;
  c.aggregates = {{RefAgg::kCount}};
  std::vector<RefStep> steps = {RefStep::Record(Rec(0, 100, "a", 1)), RefStep::Record(Rec(0, 5000, "a", 1)),
                                RefStep::Record(Rec(0, 200, "a", 1))};
  EXPECT_EQ(EvaluateReference(c, steps).late, 0u);  // partition 1 has sent nothing
  steps.insert(steps.begin() + 2, RefStep::End(1));
  EXPECT_EQ(EvaluateReference(c, steps).late, 1u);
}

TEST(ReferenceEvaluator, SlidingLateRecordSkipsClosedWindows) {
  RefConfig c;
  c.window = {spec::WindowKind::kSliding, 2000, 1000, {}};
  c.lateness = 500;
  c.aggregates = {{RefAgg::kCount}};
  // Watermark 2600 when t=1500 arrives: window [0, 2000) closed (2000 + 500 <= 2600), window
  // [1000, 3000) still takes it.
  RefResult r = EvaluateReference(c, {RefStep::Record(Rec(0, 100, "a", 1)), RefStep::Record(Rec(0, 2600, "a", 1)),
                                      RefStep::Record(Rec(0, 1500, "a", 1)), RefStep::End(0)});
  EXPECT_EQ(r.late, 0u);
  EXPECT_EQ(r.rows.at({kT0, RefValue::String("a")}).count, 1);
  EXPECT_EQ(r.rows.at({kT0 + 1000, RefValue::String("a")}).count, 2);  // 1500 and 2600
  EXPECT_EQ(r.rows.at({kT0 + 2000, RefValue::String("a")}).count, 1);
}

TEST(ReferenceEvaluator, CumulativeKeepsTheFullWindow) {
  RefConfig c;
  c.window = {spec::WindowKind::kCumulative, 2000, 500, {}};
  c.aggregates = {{RefAgg::kCount}, {RefAgg::kMax}};
  RefResult r = EvaluateReference(c, {RefStep::Record(Rec(0, 100, "a", 3)), RefStep::Record(Rec(0, 1900, "a", 5)),
                                      RefStep::Record(Rec(0, 1999, "b", 1, 1)), RefStep::End(0)});
  ASSERT_EQ(r.rows.size(), 2u);
  const RefRow& a = r.rows.at({kT0, RefValue::String("a")});
  EXPECT_EQ(a.window_end, kT0 + 2000);
  EXPECT_EQ(a.count, 2);
  EXPECT_EQ(a.cells[1].value, RefValue::Number(5));
}

TEST(ReferenceEvaluator, SessionsMergeAndExpire) {
  RefConfig c;
  c.window = {spec::WindowKind::kSession, 100, 0, {}};
  c.bound = 200;
  c.aggregates = {{RefAgg::kCount}, {RefAgg::kFirst}, {RefAgg::kLast}};
  RefResult r = EvaluateReference(
      c, {RefStep::Record(Rec(0, 0, "a", 1)), RefStep::Record(Rec(0, 150, "a", 2)),
          RefStep::Record(Rec(0, 80, "a", 3)),                                         // bridges [0,100) and [150,250)
          RefStep::Record(Rec(0, 1000, "a", 4)), RefStep::Record(Rec(0, 10, "a", 5)),  // its session has expired: late
          RefStep::End(0)});
  EXPECT_EQ(r.late, 1u);
  ASSERT_EQ(r.rows.size(), 2u);
  const RefRow& s = r.rows.at({kT0, RefValue::String("a")});
  EXPECT_EQ(s.window_end, kT0 + 250);
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.cells[1].value, RefValue::Number(1));
  EXPECT_EQ(s.cells[2].value, RefValue::Number(2));
}

TEST(ReferenceEvaluator, RetractionsAndMultisetAggregates) {
  RefConfig c;
  c.window = {spec::WindowKind::kNone, 0, 0, {}};
  c.aggregates = {{RefAgg::kCount}, {RefAgg::kMax},        {RefAgg::kCountDistinct},
                  {RefAgg::kAvg},   {RefAgg::kTopK, 0, 1}, {RefAgg::kPercentile, 0.5}};
  RefRecord s = Rec(0, 30, "a", 0);
  s.value = RefValue::String("4");  // a number for avg/percentile/max, a string for distinct
  RefResult r = EvaluateReference(
      c, {RefStep::Record(Rec(0, 10, "a", 9)), RefStep::Record(Rec(0, 20, "a", 2)), RefStep::Record(s),
          RefStep::Record(Rec(0, 40, "a", 2)), RefStep::Record(Rec(0, 10, "a", 9, -1)),
          RefStep::Record(Rec(0, 50, "b", 1)), RefStep::Record(Rec(0, 50, "b", 1, -1)), RefStep::End(0)});
  ASSERT_EQ(r.rows.size(), 1u);  // b's only record was retracted
  const RefRow& a = r.rows.begin()->second;
  EXPECT_EQ(a.count, 3);
  EXPECT_EQ(a.cells[1].value, RefValue::Number(4));  // max compares "4" as 4: above 2
  EXPECT_EQ(a.cells[2].value, RefValue::Number(2));
  EXPECT_EQ(a.cells[3].value, RefValue::Number((2 + 4 + 2) / 3.0));
  ASSERT_EQ(a.cells[4].top.size(), 1u);
  EXPECT_EQ(a.cells[4].top[0], std::make_pair(RefValue::Number(2), int64_t{2}));
  EXPECT_EQ(a.cells[5].value, RefValue::Number(2));
}

TEST(ReferenceEvaluator, FirstFiringHoldsTheRecordsBeforeTheWatermarkPassedTheEnd) {
  RefConfig c;
  c.window = {spec::WindowKind::kTumbling, 1000, 0, {}};
  c.lateness = 1000;
  c.aggregates = {{RefAgg::kCount}, {RefAgg::kSum}};
  // t=1500 moves the watermark past 1000: [0, 1000) fires with a@100 alone. a@900 and b@950
  // come within the lateness: a's row is re-emitted; b had no row when the window fired, so its
  // first final row is the one right after b@950.
  RefResult r = EvaluateReference(
      c, {RefStep::Record(Rec(0, 100, "a", 1)), RefStep::Record(Rec(0, 1500, "a", 2)),
          RefStep::Record(Rec(0, 900, "a", 4)), RefStep::Record(Rec(0, 950, "b", 8)), RefStep::End(0)});
  EXPECT_EQ(r.late, 0u);
  ASSERT_EQ(r.first.size(), 3u);
  const RefRow& a0 = r.first.at({kT0, kT0 + 1000, RefValue::String("a")});
  EXPECT_EQ(a0.count, 1);
  EXPECT_EQ(a0.cells[1].value, RefValue::Number(1));
  EXPECT_EQ(r.rows.at({kT0, RefValue::String("a")}).count, 2);
  EXPECT_EQ(r.first.at({kT0, kT0 + 1000, RefValue::String("b")}).count, 1);
  EXPECT_EQ(r.first.at({kT0 + 1000, kT0 + 2000, RefValue::String("a")}).count, 1);  // at the end of input
}

TEST(ReferenceEvaluator, FirstFiringOfCumulativeSteps) {
  RefConfig c;
  c.window = {spec::WindowKind::kCumulative, 2000, 1000, {}};
  c.aggregates = {{RefAgg::kCount}};
  RefResult r = EvaluateReference(c, {RefStep::Record(Rec(0, 100, "a", 1)), RefStep::Record(Rec(0, 1500, "a", 1)),
                                      RefStep::Record(Rec(0, 2500, "a", 1)), RefStep::End(0)});
  EXPECT_EQ(r.first.at({kT0, kT0 + 1000, RefValue::String("a")}).count, 1);
  EXPECT_EQ(r.first.at({kT0, kT0 + 2000, RefValue::String("a")}).count, 2);
  EXPECT_EQ(r.first.at({kT0 + 2000, kT0 + 3000, RefValue::String("a")}).count, 1);
  EXPECT_EQ(r.first.at({kT0 + 2000, kT0 + 4000, RefValue::String("a")}).count, 1);
  EXPECT_EQ(r.first.size(), 4u);
}

TEST(ReferenceEvaluator, FirstFiringOfSessionsThatMergeAndMoveAfterwards) {
  RefConfig c;
  c.window = {spec::WindowKind::kSession, 100, 0, {}};
  c.lateness = 1000;
  c.aggregates = {{RefAgg::kCount}};
  const RefValue a = RefValue::String("a");
  // a@250 fires [0, 100) and [120, 220) (watermark 250). a@90 bridges them into [0, 220),
  // re-emitted under the key of [0, 100); a@-20 moves its start: a new key, first emitted
  // right after it.
  RefResult r = EvaluateReference(c, {RefStep::Record(Rec(0, 0, "a", 1)), RefStep::Record(Rec(0, 120, "a", 1)),
                                      RefStep::Record(Rec(0, 250, "a", 1)), RefStep::Record(Rec(0, 90, "a", 1)),
                                      RefStep::Record(Rec(0, -20, "a", 1)), RefStep::End(0)});
  EXPECT_EQ(r.late, 0u);
  const RefRow& s0 = r.first.at({kT0, 0, a});
  EXPECT_EQ(s0.count, 1);
  EXPECT_EQ(s0.window_end, kT0 + 100);
  EXPECT_EQ(r.first.at({kT0 + 120, 0, a}).count, 1);
  const RefRow& moved = r.first.at({kT0 - 20, 0, a});
  EXPECT_EQ(moved.count, 4);
  EXPECT_EQ(moved.window_end, kT0 + 220);
  EXPECT_EQ(r.first.at({kT0 + 250, 0, a}).count, 1);
  EXPECT_EQ(r.first.size(), 4u);
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows.at({kT0 - 20, a}).count, 4);
}

}  // namespace
}  // namespace weir::operators
