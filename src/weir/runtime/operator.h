// Processors and metrics: the operators between sources and sinks.
//
// Contract: every method is called from the pipeline thread, one batch at a time, in arrival
// order. Operators do CPU work only — no sleeping, no I/O, no waiting on the network — so that
// one thread can drive many of them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "weir/base/time.h"
#include "weir/model/batch.h"
#include "weir/model/results.h"

namespace weir::runtime {

/// Transforms batches in place: drops records, computes fields, rewrites records.
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

/// An event-time aggregation (windows, group-by, aggregates), fed batch by batch.
class Metric {
 public:
  virtual ~Metric() = default;
  virtual const MetricSchema& schema() const = 0;
  /// True if this metric reads records from source `source` (its `from:`).
  virtual bool Reads(uint32_t source) const = 0;
  /// Consumes a batch (read-only except for the batch's arena); may emit results.
  virtual void Process(Batch& batch, Emitter& out) = 0;
  /// A partition will send nothing more: it no longer holds the watermark back.
  virtual void EndPartition(uint32_t source, uint32_t partition, Emitter& out) = 0;
  /// Called periodically with the wall clock: idle inputs, early emission, processing time.
  virtual void OnTimer(Timestamp now, Emitter& out) = 0;
  /// JSON object describing the metric's progress: watermark, open windows, late count and,
  /// when a window is overdue, why it has not fired.
  virtual std::string StatusJson(Timestamp now) const = 0;
  virtual uint64_t late_records() const = 0;
  /// The watermark this metric derives from `source` (the minimum over its partitions), if the
  /// metric reads it and has seen event time from it.
  virtual std::optional<Timestamp> InputWatermark(uint32_t source) const = 0;
};

}  // namespace weir::runtime
