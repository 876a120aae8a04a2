// Prometheus exposition of a pipeline's numbers (prometheus-cpp's data model and text format;
// Weir's own HTTP server serves it at /metrics).
//
//   Telemetry t;
//   t.ObserveLatency(0.012);                 // ingest -> result, seconds (pipeline thread)
//   std::string text = t.Exposition(snapshot);
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace weir::runtime {

/// Numbers copied out of a running pipeline (so that serializing needs no lock on it).
struct TelemetrySnapshot {
  struct Source {
    std::string id, type;
    uint64_t accepted, rejected, bytes, batches;
  };
  struct Sink {
    std::string id, type;
    uint64_t written, errors;
  };
  struct Metric {
    std::string id;
    double watermark_lag_seconds;  ///< wall clock minus watermark; NaN if no watermark yet
    uint64_t late, emitted_rows, open_panes, groups;
  };
  std::vector<Source> sources;
  std::vector<Sink> sinks;
  std::vector<Metric> metrics;
  uint64_t queue_batches = 0, queue_bytes = 0, store_bytes = 0;
  uint64_t checkpoints = 0, checkpoint_failures = 0, checkpoint_bytes = 0;
  double checkpoint_seconds = 0;
  uint64_t live_subscribers = 0;
};

/// Owns the histograms that must accumulate between scrapes; the rest is read from snapshots.
class Telemetry {
 public:
  Telemetry();
  ~Telemetry();
  /// Time from a batch's ingest to the results it caused. Thread-safe.
  void ObserveLatency(double seconds);
  /// The text exposition format (version 0.0.4).
  std::string Exposition(const TelemetrySnapshot& s) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::runtime
