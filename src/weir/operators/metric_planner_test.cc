// The metric planner's validate-time errors.
#include <gtest/gtest.h>

#include <algorithm>

#include <fmt/format.h>

#include "weir/operators/metric_test_harness.h"

namespace weir::operators {
namespace {

using namespace metric_test;

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
