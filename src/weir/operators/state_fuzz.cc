// libFuzzer entry point for saved metric state (checkpoints: WindowMetric::RestoreState, in the
// single and the partitioned format, and through it every aggregate's Deserialize). Any input
// is restored into metrics of three shapes, each unpartitioned and in two shards; a restore
// either fails with an error or leaves a metric that can be saved, fired and finished. It must
// never crash.
//
// Build, as one command (needs clang with libFuzzer and a libstdc++ that clang can compile with <expected>):
//   clang++ -std=c++23 -g -O1 -fsanitize=fuzzer,address -march=haswell -Isrc
//     src/weir/operators/state_fuzz.cc src/weir/{operators,aggregate,expr,spec,model,codec,base,runtime}/*.cc ...
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "weir/operators/window_metric.h"

namespace weir::operators::state_fuzz {

/// Drops whatever is emitted.
struct Sink : runtime::Emitter {
  void EmitResults(ResultBatch&) override {}
  void EmitLate(LateBatch&) override {}
};

spec::ExprText Expr(std::string text) { return {std::move(text), {}}; }

/// Metrics of three shapes: a tumbling window over a source that retracts, with every aggregate
/// that can take retractions; sessions with those that cannot; a sliding top-N. Each
/// unpartitioned and in each of `shard_counts` shards.
struct Metrics {
  spec::Pipeline pipeline;
  spec::Diagnostics diags;
  Layout layout;
  std::vector<std::unique_ptr<runtime::Metric>> all;

  explicit Metrics(std::vector<size_t> shard_counts = {1, 2}) {
    for (size_t shards : shard_counts) {
      {
        spec::MetricSpec m = Base("every_aggregate", {spec::WindowKind::kTumbling, 60000, 0, {}}, 5000);
        for (const char* s : {"count()", "count_if(v > 1)", "sum(v)", "sum_if(v, v > 1)", "avg(v)", "min(v)", "max(v)",
                              "min(s)", "count_distinct(s)", "percentile(v, 0.9)", "top_k(s, 3)"})
          m.select.push_back({"a" + std::to_string(m.select.size()), Expr(s), {}});
        Add(m, shards, /*retracts=*/true);
      }
      {
        spec::MetricSpec m = Base("sessions", {spec::WindowKind::kSession, 30000, 0, {}}, 2000);
        m.group_by = {{"user", Expr("s"), {}}};
        m.select = {{"n", Expr("count()"), {}},       {"total", Expr("sum(v)"), {}}, {"first", Expr("first(s)"), {}},
                    {"last", Expr("last(v)"), {}}, {"users", Expr("approx_distinct(s)"), {}}};
        Add(m, shards, /*retracts=*/false);
      }
      {
        spec::MetricSpec m = Base("top", {spec::WindowKind::kSliding, 120000, 60000, {}}, 0);
        m.select = {{"n", Expr("count()"), {}}};
        m.order_by = {{"n", true}};
        m.limit = 2;
        Add(m, shards, /*retracts=*/false);
      }
    }
  }
  /// Event time `ts`, a 1 s watermark, group key `g`.
  static spec::MetricSpec Base(std::string id, spec::WindowSpec window, Duration lateness) {
    spec::MetricSpec m;
    m.id = std::move(id);
    m.event_time = Expr("ts");
    m.watermark = 1000;
    m.allowed_lateness = lateness;
    m.window = window;
    m.group_by = {{"g", Expr("g"), {}}};
    return m;
  }
  void Add(const spec::MetricSpec& m, size_t shards, bool retracts) {
    runtime::PlanContext ctx{pipeline, diags, layout, {{"in", 1, false, retracts}}, "", shards};
    all.push_back(MakeWindowMetric(m, ctx, 0));
    if (!all.back()) {  // the shapes above are valid
      std::fprintf(stderr, "%s\n", diags.Format().c_str());
      std::abort();
    }
  }
};

}  // namespace weir::operators::state_fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace weir;
  using namespace weir::operators::state_fuzz;
  static Metrics* metrics = new Metrics();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  Sink sink;
  for (auto& m : metrics->all) {
    if (!m->RestoreState(in)) continue;
    std::string again;
    m->SaveState(again);
    m->OnTimer(NowMillis(), sink);
    (void)m->StatusJson(NowMillis());
    m->EndPartition(0, 0, sink);
  }
  return 0;
}
