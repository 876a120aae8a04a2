// A planned, running pipeline: sources -> processors -> metrics -> store and sinks.
//
//   spec::Diagnostics diags;
//   auto p = Pipeline::Plan(spec, registry, {.data_dir = dir}, diags);   // nullptr on errors
//   p->Start();
//   p->WaitUntilDone();   // bounded inputs: returns when every window has been emitted
//   p->Stop();
//
// Threads: sources run their own threads (or the HTTP server's) and push batches into one
// bounded queue; a single pipeline thread runs processors, metrics and sinks in arrival order,
// handing preparation and the shards of metric state to `workers - 1` worker threads.
// Everything a source has handed over before Stop() is processed before Stop() returns.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "weir/runtime/ingest.h"
#include "weir/runtime/registry.h"
#include "weir/runtime/retention.h"
#include "weir/store/result_store.h"

namespace weir::runtime {

struct PipelineOptions {
  std::string data_dir;            ///< durable state; default spec.durability.dir or .weir/<name>
  size_t queue_batches = 65536;    ///< bound on queued batches (bytes are bounded by the spec)
  Duration timer_interval = 100;   ///< how often metrics see the wall clock
  /// Threads that prepare batches (decode, processors, expression evaluation) in parallel, and
  /// shards of each metric's state (by group-key hash), applied in parallel in arrival order;
  /// results do not depend on it.
  size_t workers = 1;
};

/// Receives every result batch a metric emits (after the store has it), on the pipeline thread.
/// Must not block: copy what is needed and hand it to other threads.
class ResultListener {
 public:
  virtual ~ResultListener() = default;
  virtual void OnResults(const ResultBatch& batch) = 0;
};

class Pipeline {
 public:
  /// Builds everything the spec declares. Every problem is reported to `diags` (with its
  /// location); returns nullptr if there was any.
  static std::unique_ptr<Pipeline> Plan(const spec::Pipeline& spec, const Registry& registry,
                                        const PipelineOptions& options, spec::Diagnostics& diags);
  ~Pipeline();

  /// Opens the store and sinks, starts the pipeline thread, then the sources.
  Status Start();
  /// Stops the sources, processes what they handed over, flushes and closes sinks. Idempotent;
  /// callable from any thread except the pipeline thread.
  void Stop();
  /// Blocks until every source is bounded and exhausted and all results are emitted, or until
  /// Stop(). Returns true in the first case.
  bool WaitUntilDone();
  /// True when every source is bounded.
  bool bounded() const;

  const std::string& name() const;
  store::ResultStore* store() const;
  std::vector<IngestEndpoint*> ingest_endpoints() const;
  std::vector<const MetricSchema*> metric_schemas() const;
  /// Where a metric's rows are kept (level 0: its own rows; then downsampled tiers), for query
  /// planning; empty if it has no retention. Any thread.
  std::vector<RetentionLevel> RetentionLevels(std::string_view metric) const;
  /// Held while a query reads RetentionLevels and then the rows they point to (see
  /// RetentionJob::LockForQuery); owns nothing when no metric has retention.
  std::shared_lock<std::shared_mutex> LockRetention() const;
  /// A metric by id (its const methods, such as Reaggregate, are safe from any thread).
  const Metric* metric(std::string_view id) const;
  /// /api/v1/status body (a snapshot at most one timer interval old).
  std::string StatusJson() const;
  /// Prometheus text exposition of the pipeline's counters, gauges and latency histogram.
  /// `live_subscribers` is added by the server, which owns the live hub.
  std::string MetricsText(uint64_t live_subscribers) const;
  /// Health of each part: {"name": "healthy"|"degraded"|"unhealthy"} as a JSON object, and
  /// whether a required part is down.
  std::pair<std::string, bool> HealthJson() const;
  /// True once every source takes input (logs replayed). Any thread.
  bool Ready() const;
  /// Events accepted by all sources so far.
  uint64_t accepted_events() const;
  /// Adds a listener for emitted results. Call before Start(); the listener must outlive the
  /// pipeline's Stop().
  void AddResultListener(ResultListener* listener);
  /// A fatal error that stopped the pipeline (a required sink failing), if any.
  std::optional<Error> failure() const;

 private:
  struct Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::runtime
