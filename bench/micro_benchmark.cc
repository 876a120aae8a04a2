// Micro-benchmarks of the hot paths: JSON decode into rows, expression evaluation (a row at a
// time and a batch at a time), every aggregate's update path, ISO-8601 parsing and key encoding,
// and a whole metric (filter, event time, group-by, aggregates) over decoded batches. Input: the
// e-commerce simulator's events.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>

#include "weir/aggregate/aggregate.h"
#include "weir/codec/json_decoder.h"
#include "weir/expr/expr.h"
#include "weir/model/key_codec.h"
#include "weir/operators/window_metric.h"
#include "weir/runtime/registry.h"
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

// Decodes 10,000 simulator events into fresh batches, as often as the benchmark asks.
void DecodeEvents(benchmark::State& state, const Layout& layout, const codec::DecodeOptions& options) {
  auto buf = Events(10000);
  codec::JsonDecoder dec(layout, options);
  for (auto _ : state) {
    Batch b(layout.width());
    b.Reserve(10000);
    benchmark::DoNotOptimize(dec.DecodeNdjson(*buf, b, nullptr));
  }
  state.SetItemsProcessed(state.iterations() * 10000);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(buf->size()));
}

void BM_DecodeNdjson(benchmark::State& state) {
  Layout layout;
  Q1Paths(layout);
  DecodeEvents(state, layout, {});
}
BENCHMARK(BM_DecodeNdjson);

// Q1's decoding as the file source runs it: no envelopes, a gate that keeps purchases only and
// reads event times as it goes; argument 1 with prefix reads (DecodeOptions::prefix_reads).
void BM_DecodeNdjsonGated(benchmark::State& state) {
  Layout layout;
  Q1Paths(layout);
  const uint32_t type = *layout.Find("event_type"), time = *layout.Find("timestamp");
  const codec::DecodeGate gate = codec::DecodeGate::FieldIs(type, "purchase_completed", time);
  DecodeEvents(state, layout, {.envelopes = false, .gate = &gate, .prefix_reads = state.range(0) != 0});
}
BENCHMARK(BM_DecodeNdjsonGated)->Arg(0)->Arg(1);

// Decoded simulator events with every field the expressions below read.
struct DecodedEvents {
  static constexpr size_t kEvents = 4096;
  Layout layout;
  std::shared_ptr<codec::PaddedBuffer> buf = Events(kEvents);
  Batch batch;
  runtime::LayoutScope scope{layout};

  DecodedEvents() {
    Q1Paths(layout);
    layout.Intern("user_id");
    layout.Intern("properties.product_id");
    codec::JsonDecoder dec(layout);
    batch = Batch(layout.width());
    batch.Hold(buf);
    dec.DecodeNdjson(*buf, batch, nullptr);
  }
  expr::ProgramPtr Compile(const char* text) {
    auto p = expr::Compile(text, scope);
    if (!p) std::abort();  // the texts below are known to compile
    return std::move(*p);
  }
};

const char* const kExpressions[] = {
    "event_type = 'purchase_completed'",
    "properties.amount * 1.2 + 3",
    "event_type IN ('purchase_completed', 'refund') AND properties.amount > 50",
    "CASE WHEN properties.amount > 100 THEN 'high' WHEN properties.amount > 10 THEN 'mid' ELSE 'low' END",
    "lower(properties.currency)",
    "hour(timestamp)",
};

// Program::Eval, one row at a time (what a decoder's gate does per event).
void BM_ExprEvalRow(benchmark::State& state) {
  DecodedEvents ev;
  auto p = ev.Compile(kExpressions[state.range(0)]);
  state.SetLabel(kExpressions[state.range(0)]);
  const size_t n = ev.batch.size();
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) benchmark::DoNotOptimize(p->Eval(ev.batch.row(i), ev.batch.arena()));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_ExprEvalRow)->DenseRange(0, 5);

// Program::EvalBatch over the whole batch (what a metric's Prepare does per column).
void BM_ExprEvalBatch(benchmark::State& state) {
  DecodedEvents ev;
  auto p = ev.Compile(kExpressions[state.range(0)]);
  state.SetLabel(kExpressions[state.range(0)]);
  const size_t n = ev.batch.size();
  std::vector<Value> out(n);
  for (auto _ : state) {
    p->EvalBatch(ev.batch.values(), ev.batch.width(), n, out.data(), ev.batch.arena());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_ExprEvalBatch)->DenseRange(0, 5);

// One aggregate's Update over 4096 records of one group (every row points at one state), with
// argument columns shaped like the benchmark queries' (amounts, user ids over 100k users, product
// ids over 10k products). With `retract`, every other batch retracts what the previous one added,
// so states stay bounded and valid; aggregates that cannot retract are not run that way.
struct AggregateCase {
  const char* name;
  int args;
  const char* column;  // "amount", "user", "product", "flag"
  Value constant;      // percentile's q, top_k's k
};
const AggregateCase kAggregates[] = {
    {"count", 0, "", {}},
    {"count_if", 1, "flag", {}},
    {"sum", 1, "amount", {}},
    {"sum_if", 2, "amount", {}},
    {"avg", 1, "amount", {}},
    {"min", 1, "amount", {}},
    {"max", 1, "amount", {}},
    {"first", 1, "amount", {}},
    {"last", 1, "amount", {}},
    {"count_distinct", 1, "user", {}},
    {"approx_distinct", 1, "user", {}},
    {"percentile", 2, "amount", Value::Double(0.99)},
    {"top_k", 2, "product", Value::Int(10)},
};

void BM_AggregateUpdate(benchmark::State& state) {
  const AggregateCase& c = kAggregates[state.range(0)];
  const bool retract = state.range(1) != 0;
  state.SetLabel(std::string(c.name) + (retract ? " +/-" : ""));
  aggregate::AggregateOptions options;
  options.insert_only = !retract;
  if (!c.constant.is_null()) options.constants = {Value::Null(), c.constant};
  auto fn = aggregate::MakeAggregate(c.name, c.args, options);
  if (!fn) {
    state.SkipWithError(fn.error().message.c_str());
    return;
  }
  const aggregate::AggregateFunction& f = **fn;
  if (retract && !f.retractable()) {
    state.SkipWithError("cannot retract");
    return;
  }
  constexpr size_t kN = 4096;
  std::mt19937_64 rng(7);
  std::vector<std::string> texts(kN);
  std::vector<Value> x(kN), flag(kN);
  std::vector<Timestamp> times(kN);
  for (size_t i = 0; i < kN; ++i) {
    std::string_view col = c.column;
    if (col == "user") {
      texts[i] = "user_" + std::to_string(rng() % 100000);
    } else if (col == "product") {
      texts[i] = "prod_" + std::to_string(rng() % 10000);
    }
    x[i] = texts[i].empty() ? Value::Double(static_cast<double>(rng() % 100000) / 100) : Value::String(texts[i]);
    flag[i] = Value::Bool(rng() % 4 == 0);
    times[i] = 1771237800000 + static_cast<Timestamp>(i);
  }
  if (std::string_view(c.column) == "flag") x = flag;
  std::vector<char> state_bytes(f.state_size() + 16);
  char* st = state_bytes.data() + (16 - reinterpret_cast<uintptr_t>(state_bytes.data()) % 16) % 16;
  f.Init(st);
  std::vector<char*> rows(kN, st);
  const Value* args[2] = {x.data(), flag.data()};
  std::vector<int8_t> plus(kN, +1), minus(kN, -1);
  bool add = true;
  for (auto _ : state) {
    const std::vector<int8_t>& w = add || !retract ? plus : minus;
    f.Update({rows.data(), args, w.data(), times.data(), kN}, 0);
    add = !add;
    benchmark::ClobberMemory();
  }
  if (f.has_destructor()) f.Destroy(st);
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kN));
}
BENCHMARK(BM_AggregateUpdate)->ArgsProduct({benchmark::CreateDenseRange(0, 12, 1), {0, 1}});

// ISO-8601 event times as the simulator writes them (every event's time is parsed).
void BM_ParseIso8601(benchmark::State& state) {
  DecodedEvents ev;
  const uint32_t slot = *ev.layout.Find("timestamp");
  const size_t n = ev.batch.size();
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) benchmark::DoNotOptimize(ParseIso8601(ev.batch.at(i, slot).as_string()));
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_ParseIso8601);

// The order-preserving key encoding of short strings (group keys, distinct values).
void BM_EncodeKey(benchmark::State& state) {
  DecodedEvents ev;
  const uint32_t slot = *ev.layout.Find("user_id");
  const size_t n = ev.batch.size();
  std::string key;
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      key.clear();
      EncodeKey(ev.batch.at(i, slot), key);
      benchmark::DoNotOptimize(key.data());
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(n));
}
BENCHMARK(BM_EncodeKey);

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
  m.select = {{"count", {"count()", {}}, {}},
              {"total", {"sum(properties.amount)", {}}, {}},
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
