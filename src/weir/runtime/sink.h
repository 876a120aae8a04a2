// Sinks: where events, metric results and late records go.
//
// Contract:
// - Open() is called once before any Write, Close() once at the end, both from the pipeline
//   thread. Write* and Flush() are called from the pipeline thread only and must not block for
//   long: a sink that talks to a remote system buffers and writes from its own thread.
// - A sink receives only what its `from:` selects: events, one metric's results, or one
//   metric's late records.
// - Flush() is called after every processed input batch and at shutdown; a sink may treat it as
//   a hint (file sinks write their buffer).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weir/base/result.h"
#include "weir/model/batch.h"
#include "weir/model/layout.h"
#include "weir/model/results.h"

namespace weir::runtime {

struct SinkStats {
  std::atomic<uint64_t> written{0};  ///< records or rows written
  std::atomic<uint64_t> errors{0};
};

/// A running output of the pipeline.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Open() = 0;
  virtual Status WriteEvents(const Batch& batch) { return Ok(); }
  virtual Status WriteResults(const ResultBatch& batch) { return Ok(); }
  virtual Status WriteLate(const LateBatch& batch) { return Ok(); }
  virtual Status Flush() { return Ok(); }
  virtual void Close() {}
  /// Where the sink's output stands, for checkpoints (a file's length, say); nullopt if the
  /// sink has no position (it upserts, or cannot go back). Called after Flush, between batches.
  virtual std::optional<int64_t> Position() const { return std::nullopt; }
  /// Called before Open when restoring a checkpoint: go back to `position`, so that the output
  /// replayed from the checkpoint is written once.
  virtual void RestorePosition(int64_t position) {}
  SinkStats& stats() { return stats_; }
  /// Called once before Open(): lets event sinks add computed fields to events.
  void SetLayout(const Layout* layout);

 protected:
  std::vector<std::pair<uint32_t, std::string>> computed_;  ///< computed slot -> field name

 private:
  SinkStats stats_;
};

/// A sink that writes JSON lines (file, stdout): one line per event, result row or late record.
class LineSink : public Sink {
 public:
  Status WriteEvents(const Batch& batch) override;
  Status WriteResults(const ResultBatch& batch) override;
  Status WriteLate(const LateBatch& batch) override;

 protected:
  /// Receives complete lines, each ending in '\n'.
  virtual Status WriteLines(std::string_view lines, size_t count) = 0;

 private:
  std::string buf_;
};

}  // namespace weir::runtime
