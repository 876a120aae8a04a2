// Checks the hot-path contract of metrics: applying a batch allocates a bounded number of times,
// not once per record. Global operator new is replaced (for this whole test program) by a
// counting one (base/counting_new.h); a batch of 20,000 records must allocate no more than one
// of 200 records plus a small constant, once the metric has seen its groups.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include "weir/base/counting_new.h"
#include "weir/codec/json_decoder.h"
#include "weir/operators/window_metric.h"

namespace weir::operators {
namespace {

struct Discard : runtime::Emitter {
  void EmitResults(ResultBatch&) override {}
  void EmitLate(LateBatch&) override {}
};

spec::ExprText E(std::string text) { return {std::move(text), {}}; }

struct Shape {
  const char* name;
  spec::WindowKind kind;
  Duration size, every;
  bool top_n;
};

spec::MetricSpec Metric(const Shape& s) {
  spec::MetricSpec m;
  m.id = s.name;
  m.where = E("type = 'buy' OR type = 'view'");
  m.event_time = E("ts");
  m.watermark = 3600000;  // nothing fires while the batches are applied
  m.window = {s.kind, s.size, s.every, {}};
  m.group_by = {{"user", E("user"), {}}};
  m.select = {{"n", E("count()"), {}},
              {"total", E("sum(amount)"), {}},
              {"avg", E("avg(amount)"), {}},
              {"buys", E("count_if(type = 'buy')"), {}},
              {"top", E("max(amount)"), {}}};
  if (s.top_n) {
    m.order_by = {{"n", true}};
    m.limit = 3;
  }
  return m;
}

/// `n` events of 50 users within one minute of event time, every tenth not kept by `where`.
std::string Events(int n) {
  std::string out;
  for (int i = 0; i < n; ++i)
    out += fmt::format(R"({{"type":"{}","ts":{},"user":"user-{:03}","amount":{}}})",
                       i % 10 == 9 ? "other"
                       : i % 3     ? "view"
                                   : "buy",
                       1767225600000 + (i * 7919) % 50000, (i * 31) % 50, i % 97) +
           "\n";
  return out;
}

class HotPath : public ::testing::TestWithParam<std::tuple<Shape, size_t>> {};

TEST_P(HotPath, AllocationsDoNotGrowWithTheRecords) {
#if !defined(WEIR_COUNTS_ALLOCATIONS)
  GTEST_SKIP() << "allocations are not counted under AddressSanitizer";
#endif
  const auto& [shape, shards] = GetParam();
  spec::Pipeline pipeline;
  spec::Diagnostics diags;
  Layout layout;
  runtime::PlanContext ctx{pipeline, diags, layout, {{"in", 1, false, false}}, "", shards};
  auto metric = MakeWindowMetric(Metric(shape), ctx, 0);
  ASSERT_TRUE(metric) << diags.Format();
  codec::JsonDecoder decoder(layout);
  Discard out;
  const std::string small_text = Events(200), large_text = Events(20000);
  auto decoded = [&](const std::string& text) {
    auto buf = codec::PaddedBuffer::Copy(text);
    auto b = std::make_unique<Batch>(layout.width());
    b->Hold(buf);
    decoder.DecodeNdjson(*buf, *b, nullptr);
    return b;
  };
  // Warm up: groups interned, panes or sessions open, scratch grown to the large batch.
  for (int i = 0; i < 2; ++i) metric->Process(*decoded(large_text), out);
  auto small = decoded(small_text), large = decoded(large_text);
  long before = weir::testing::Allocations();
  metric->Process(*small, out);
  const long small_allocs = weir::testing::Allocations() - before;
  before = weir::testing::Allocations();
  metric->Process(*large, out);
  const long large_allocs = weir::testing::Allocations() - before;
  EXPECT_GT(small_allocs, 0) << "operator new is not being counted";  // a batch's prepared state
  // 19,800 more records: a per-record allocation would show as thousands.
  EXPECT_LE(large_allocs, small_allocs + 32) << "small batch " << small_allocs << ", large " << large_allocs;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, HotPath,
    ::testing::Combine(::testing::Values(Shape{"tumbling", spec::WindowKind::kTumbling, 60000, 0, false},
                                         Shape{"sliding_top_n", spec::WindowKind::kSliding, 300000, 60000, true},
                                         Shape{"cumulative", spec::WindowKind::kCumulative, 3600000, 60000, false},
                                         Shape{"session", spec::WindowKind::kSession, 1800000, 0, false},
                                         Shape{"none", spec::WindowKind::kNone, 0, 0, false}),
                       ::testing::Values(size_t{1}, size_t{2})),
    [](const auto& info) { return fmt::format("{}_{}shard", std::get<0>(info.param).name, std::get<1>(info.param)); });

}  // namespace
}  // namespace weir::operators
