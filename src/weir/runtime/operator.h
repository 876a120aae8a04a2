// Processors and metrics: the operators between sources and sinks.
//
// Contract: every method is called from the pipeline thread, one batch at a time, in arrival
// order. Operators do CPU work only — no sleeping, no I/O, no waiting on the network — so that
// one thread can drive many of them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/base/result.h"
#include "weir/base/time.h"
#include "weir/expr/expr.h"
#include "weir/model/batch.h"
#include "weir/model/results.h"
#include "weir/spec/spec.h"
#include "weir/store/result_store.h"

namespace weir::runtime {

/// Transforms batches in place: drops records, computes fields, rewrites records.
/// Process may be called from several threads at once, each with its own batch: batches are
/// processed in parallel and put back in order afterwards.
class Processor {
 public:
  virtual ~Processor() = default;
  virtual void Process(Batch& batch) = 0;
  /// Records dropped so far (by filters), for status.
  virtual uint64_t dropped() const { return 0; }
};

/// Receives what a metric produces. Called on the pipeline thread.
class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual void EmitResults(ResultBatch& batch) = 0;
  virtual void EmitLate(LateBatch& batch) = 0;
};

/// Which source partitions feed a metric: each holds the metric's watermark back until it has
/// advanced, ended, or (with idle_timeout) gone quiet.
struct InputPartition {
  uint32_t source;
  uint32_t partition;
};

/// What a metric computes from a batch before touching its state (see Metric::Prepare).
class PreparedState {
 public:
  virtual ~PreparedState() = default;
};

/// A query for results coarser than the metric's own: `window` a multiple of the metric's
/// window (0 = the metric's own), `group_by` a subset of its group keys (in that order).
struct ReaggregateRequest {
  Duration window = 0;
  std::vector<std::string> group_by;
};

/// Progress numbers of a metric, for telemetry. Read on the pipeline thread.
struct MetricNumbers {
  Timestamp watermark;
  uint64_t late, emitted_rows, open_panes, groups;
};

/// An event-time aggregation (windows, group-by, aggregates), fed batch by batch.
///
/// Work on a batch is split in two: Prepare evaluates everything that needs no state (filters,
/// event time, group keys, aggregate arguments) and may run on any thread, for several batches
/// at once; Apply folds the prepared batch into the metric's state, called from the pipeline
/// thread, one batch at a time, in arrival order (the pipeline applies a partitioned metric's
/// partitions in parallel: ApplyPartition). Results therefore do not depend on how many threads prepare.
class Metric {
 public:
  virtual ~Metric() = default;
  virtual const MetricSchema& schema() const = 0;
  /// True if this metric reads records from source `source` (its `from:`).
  virtual bool Reads(uint32_t source) const = 0;
  /// Thread-safe: evaluates what needs no state. May use the batch's arena (one thread works
  /// on a batch at a time).
  virtual std::unique_ptr<PreparedState> Prepare(Batch& batch) const = 0;
  /// Folds a prepared batch into the state; may emit results.
  virtual void Apply(Batch& batch, PreparedState* prepared, Emitter& out) = 0;
  /// Prepare and Apply in one call.
  void Process(Batch& batch, Emitter& out) {
    auto p = Prepare(batch);
    Apply(batch, p.get(), out);
  }
  /// A partition will send nothing more: it no longer holds the watermark back.
  virtual void EndPartition(uint32_t source, uint32_t partition, Emitter& out) = 0;
  /// Called periodically with the wall clock: idle inputs, early emission, processing time.
  virtual void OnTimer(Timestamp now, Emitter& out) = 0;
  /// JSON object describing the metric's progress: watermark, open windows, late count and,
  /// when a window is overdue, why it has not fired.
  virtual std::string StatusJson(Timestamp now) const = 0;
  virtual uint64_t late_records() const = 0;
  virtual MetricNumbers Numbers() const = 0;
  /// The metric's record filter (`where`) and event-time expression, or nullptr. The pipeline
  /// uses them to let decoders skip events that no metric keeps (codec::DecodeGate).
  virtual const expr::Program* record_filter() const { return nullptr; }
  virtual const expr::Program* event_time_expr() const { return nullptr; }
  /// How often the metric wants OnTimer for early emission, if it emits early.
  virtual std::optional<Duration> EarlyEmitInterval() const { return std::nullopt; }
  /// Merges stored partial states (rows of this metric, oldest window first) into coarser
  /// windows and/or fewer group keys, and returns the result rows as JSON. Thread-safe: reads
  /// only the metric's definition. Errors name what cannot be done and why.
  /// With `merged`, also returns each output row's key tuple and merged partial state (in the
  /// same order as the rows), so that the rows can be stored and merged again (downsampling).
  virtual Result<std::vector<std::string>> Reaggregate(const std::vector<store::StoredState>& rows,
                                                       const ReaggregateRequest& request,
                                                       std::vector<store::StoredState>* merged = nullptr) const = 0;
  /// How long this metric keeps its rows, and its downsampling tiers.
  virtual const spec::RetentionSpec& retention() const = 0;
  /// The watermark this metric derives from `source` (the minimum over its partitions), if the
  /// metric reads it and has seen event time from it.
  virtual std::optional<Timestamp> InputWatermark(uint32_t source) const = 0;

  /// Appends the whole state (windows, groups, aggregate states, watermarks, counters) in a
  /// portable encoding, for checkpoints. Called on the pipeline thread between batches.
  virtual void SaveState(std::string& out) const = 0;
  /// Replaces the state with one written by SaveState of a metric with the same definition.
  virtual Status RestoreState(std::string_view in) = 0;
  /// Changes when the definition changes in a way that makes saved state unusable.
  virtual uint64_t StateFingerprint() const = 0;
  /// A partitioned metric's Apply in three steps, so that the pipeline can apply one batch to
  /// the partitions of all its metrics in one parallel step: BeginApply, then ApplyPartition for
  /// each of PartitionCount() partitions (any thread, in parallel), then FinishApply (emits).
  /// PartitionCount() is 0 for a metric that is not partitioned (use Apply).
  virtual size_t PartitionCount() const { return 0; }
  virtual void BeginApply() {}
  virtual void ApplyPartition(Batch& batch, PreparedState* prepared, size_t partition) {
    (void)batch, (void)prepared, (void)partition;
  }
  virtual void FinishApply(Emitter& out) { (void)out; }
};

}  // namespace weir::runtime
