// What the metric tests share: a harness that plans one metric over one source, feeds it NDJSON
// batches and collects what it emits, and the metrics several tests use.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "weir/codec/json_decoder.h"
#include "weir/operators/sharded_metric.h"
#include "weir/operators/window_metric.h"

namespace weir::operators::metric_test {

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

inline spec::ExprText E(std::string text) { return {std::move(text), {}}; }

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

inline spec::MetricSpec RevenuePerMinute() {
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

inline spec::MetricSpec SessionsPerUser(Duration bound) {
  spec::MetricSpec m;
  m.id = "sessions";
  m.event_time = E("ts");
  m.watermark = bound;
  m.window = {spec::WindowKind::kSession, 30 * 60000, 0, {}};
  m.group_by = {{"user", E("user"), {}}};
  m.select = {{"events", E("count()"), {}}, {"spent", E("sum(amount)"), {}}};
  return m;
}

}  // namespace weir::operators::metric_test
