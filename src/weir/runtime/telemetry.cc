#include "weir/runtime/telemetry.h"

#include <cmath>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace weir::runtime {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void Add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double v) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) m.counter.value = v;
  else m.gauge.value = v;
  f.metric.push_back(std::move(m));
}

}  // namespace

struct Telemetry::Impl {
  prometheus::Registry registry;
  prometheus::Histogram* latency;
  Impl()
      : latency(&prometheus::BuildHistogram()
                     .Name("weir_processing_latency_seconds")
                     .Help("Time from a batch's ingest to the results it caused")
                     .Register(registry)
                     .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                      0.25, 0.5, 1, 2.5, 5, 10, 30, 60})) {}
};

Telemetry::Telemetry() : impl_(std::make_unique<Impl>()) {}
Telemetry::~Telemetry() = default;

void Telemetry::ObserveLatency(double seconds) { impl_->latency->Observe(seconds); }

std::string Telemetry::Exposition(const TelemetrySnapshot& s) const {
  std::vector<MetricFamily> fams = impl_->registry.Collect();

  auto in = Family("weir_source_events_total", "Events accepted by a source", MetricType::Counter);
  auto rej = Family("weir_source_rejected_total", "Events a source refused (malformed, invalid)", MetricType::Counter);
  auto bytes = Family("weir_source_bytes_total", "Input bytes accepted by a source", MetricType::Counter);
  for (const auto& src : s.sources) {
    std::vector<ClientMetric::Label> l = {{"source", src.id}, {"type", src.type}};
    Add(in, l, static_cast<double>(src.accepted));
    Add(rej, l, static_cast<double>(src.rejected));
    Add(bytes, l, static_cast<double>(src.bytes));
  }
  auto out = Family("weir_sink_records_total", "Records written by a sink", MetricType::Counter);
  auto serr = Family("weir_sink_errors_total", "Failed writes of a sink", MetricType::Counter);
  for (const auto& sink : s.sinks) {
    std::vector<ClientMetric::Label> l = {{"sink", sink.id}, {"type", sink.type}};
    Add(out, l, static_cast<double>(sink.written));
    Add(serr, l, static_cast<double>(sink.errors));
  }
  auto lag = Family("weir_watermark_lag_seconds", "Wall clock minus the metric's watermark", MetricType::Gauge);
  auto late = Family("weir_late_records_total", "Records that arrived after their window closed", MetricType::Counter);
  auto rows = Family("weir_result_rows_total", "Result rows emitted", MetricType::Counter);
  auto panes = Family("weir_open_panes", "Window panes holding state", MetricType::Gauge);
  auto groups = Family("weir_groups", "Distinct group keys held in state", MetricType::Gauge);
  for (const auto& m : s.metrics) {
    std::vector<ClientMetric::Label> l = {{"metric", m.id}};
    if (!std::isnan(m.watermark_lag_seconds)) Add(lag, l, m.watermark_lag_seconds);
    Add(late, l, static_cast<double>(m.late));
    Add(rows, l, static_cast<double>(m.emitted_rows));
    Add(panes, l, static_cast<double>(m.open_panes));
    Add(groups, l, static_cast<double>(m.groups));
  }
  auto qb = Family("weir_queue_batches", "Batches waiting for the pipeline", MetricType::Gauge);
  Add(qb, {}, static_cast<double>(s.queue_batches));
  auto qy = Family("weir_queue_bytes", "Bytes waiting for the pipeline", MetricType::Gauge);
  Add(qy, {}, static_cast<double>(s.queue_bytes));
  auto store = Family("weir_store_bytes", "Size of the embedded result store", MetricType::Gauge);
  Add(store, {}, static_cast<double>(s.store_bytes));
  auto ck = Family("weir_checkpoints_total", "Checkpoints taken", MetricType::Counter);
  Add(ck, {}, static_cast<double>(s.checkpoints));
  auto ckf = Family("weir_checkpoint_failures_total", "Checkpoints that failed", MetricType::Counter);
  Add(ckf, {}, static_cast<double>(s.checkpoint_failures));
  auto ckb = Family("weir_checkpoint_bytes", "Size of the last checkpoint", MetricType::Gauge);
  Add(ckb, {}, static_cast<double>(s.checkpoint_bytes));
  auto cks = Family("weir_checkpoint_duration_seconds", "Duration of the last checkpoint", MetricType::Gauge);
  Add(cks, {}, s.checkpoint_seconds);
  auto live = Family("weir_live_subscribers", "Open SSE and WebSocket subscriptions", MetricType::Gauge);
  Add(live, {}, static_cast<double>(s.live_subscribers));
  for (auto* f : {&in, &rej, &bytes, &out, &serr, &lag, &late, &rows, &panes, &groups, &qb, &qy, &store, &ck, &ckf,
                  &ckb, &cks, &live})
    fams.push_back(std::move(*f));
  return prometheus::TextSerializer().Serialize(fams);
}

}  // namespace weir::runtime
