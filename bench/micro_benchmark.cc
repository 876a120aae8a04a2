// Micro-benchmarks of the hot paths: JSON decode into rows, and a whole metric (filter, event
// time, group-by, aggregates) over decoded batches. Input: the e-commerce simulator.
#include <benchmark/benchmark.h>

#include "weir/codec/json_decoder.h"
#include "weir/operators/window_metric.h"
#include "weir/simulate/simulator.h"

namespace {

using namespace weir;

std::shared_ptr<codec::PaddedBuffer> Events(size_t n) {
  simulate::Options opt;
  opt.seed = 7;
  opt.params["user_agents"] = "short";
  auto s = simulate::MakeScenario("ecommerce", opt);
  std::string text;
  (*s)->NextLines(text, n);
  return codec::PaddedBuffer::Adopt(std::move(text));
}

void Q1Paths(Layout& layout) {
  layout.Intern("event_type");
  layout.Intern("timestamp");
  layout.Intern("properties.currency");
  layout.Intern("properties.amount");
}

void BM_DecodeNdjson(benchmark::State& state) {
  auto buf = Events(10000);
  Layout layout;
  Q1Paths(layout);
  codec::JsonDecoder dec(layout);
  for (auto _ : state) {
    Batch b(layout.width());
    b.Reserve(10000);
    benchmark::DoNotOptimize(dec.DecodeNdjson(*buf, b, nullptr));
  }
  state.SetItemsProcessed(state.iterations() * 10000);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(buf->size()));
}
BENCHMARK(BM_DecodeNdjson);

struct NullEmitter : runtime::Emitter {
  void EmitResults(ResultBatch&) override {}
  void EmitLate(LateBatch&) override {}
};

void BM_RevenuePerMinuteMetric(benchmark::State& state) {
  auto buf = Events(10000);
  spec::Pipeline pipeline;
  spec::Diagnostics diags;
  Layout layout;
  runtime::PlanContext ctx{pipeline, diags, layout, {{"in", 1, false, false}}, ""};
  spec::MetricSpec m;
  m.id = "q1";
  m.where = {"event_type = 'purchase_completed'", {}};
  m.event_time = {"timestamp", {}};
  m.watermark = 5000;
  m.window = {spec::WindowKind::kTumbling, 60000, 0, {}};
  m.group_by = {{"currency", {"properties.currency", {}}, {}}};
  m.select = {{"count", {"count()", {}}, {}}, {"total", {"sum(properties.amount)", {}}, {}},
              {"avg", {"avg(properties.amount)", {}}, {}}};
  auto metric = operators::MakeWindowMetric(m, ctx, 0);
  if (!metric) {
    state.SkipWithError(diags.Format().c_str());
    return;
  }
  codec::JsonDecoder dec(layout);
  Batch b(layout.width());
  b.Hold(buf);
  dec.DecodeNdjson(*buf, b, nullptr);
  NullEmitter out;
  for (auto _ : state) metric->Process(b, out);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(b.size()));
}
BENCHMARK(BM_RevenuePerMinuteMetric);

}  // namespace

BENCHMARK_MAIN();
