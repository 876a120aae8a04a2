// Sources: where records come from.
//
// Contract:
// - The pipeline calls Start() once, from its control thread, after the layout is final. A source
//   runs its own threads (or is driven by the HTTP server's threads) and hands batches to its
//   SourceContext. It must not call the context after Stop() returns.
// - Push() blocks while the pipeline is full (backpressure); TryPush() refuses instead.
// - A bounded source calls EndPartition() for each partition when its input is exhausted; once
//   every source of a pipeline is bounded and ended, `weir run` finishes.
// - Stop() may be called from any thread, at most once, and returns after the source's threads
//   have stopped.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/base/result.h"
#include "weir/codec/json_decoder.h"
#include "weir/model/batch.h"
#include "weir/model/layout.h"

namespace weir::runtime {

/// Counters every source keeps; read by /api/v1/status and /metrics.
struct SourceStats {
  std::atomic<uint64_t> accepted{0};  ///< events accepted into the pipeline
  std::atomic<uint64_t> rejected{0};  ///< events refused (malformed, invalid)
  std::atomic<uint64_t> bytes{0};     ///< input bytes accepted
  std::atomic<uint64_t> batches{0};
};

/// What a running source uses to deliver data. Thread-safe.
class SourceContext {
 public:
  virtual ~SourceContext() = default;
  /// Blocks while the pipeline is full. False when the pipeline is stopping (drop the batch).
  virtual bool Push(Batch&& batch) = 0;
  /// Never blocks. False when the pipeline is full or stopping; the batch is left untouched.
  virtual bool TryPush(Batch& batch) = 0;
  /// Reserves room for a batch of `bytes` without blocking; false when full or stopping. Then
  /// PushReserved (never blocks, never refused) or CancelReservation.
  virtual bool TryReserve(size_t bytes) = 0;
  virtual void PushReserved(Batch&& batch, size_t bytes) = 0;
  virtual void CancelReservation(size_t bytes) = 0;
  /// Why the last TryReserve/TryPush was refused, for the client ("… is full", "memory above
  /// the cap"). Any thread.
  virtual std::string CapacityReason() const { return "the pipeline is at capacity"; }
  /// No more data will come from `partition`.
  virtual void EndPartition(uint32_t partition) = 0;
  /// The slots every batch must have.
  virtual const Layout& layout() const = 0;
  /// A decoder for this pipeline's layout; one per thread.
  virtual std::unique_ptr<codec::JsonDecoder> NewDecoder(const codec::DecodeOptions& options) const = 0;
  virtual uint32_t source_index() const = 0;
  virtual SourceStats& stats() = 0;
  /// Where to resume `partition`: the position of the last batch the restored checkpoint
  /// covers (the source replays what follows), or nullopt to start from the beginning.
  virtual std::optional<int64_t> RestoredPosition(uint32_t partition) const = 0;
  /// What the source saved (Source::SaveState) in the restored checkpoint; empty if nothing.
  virtual std::string_view RestoredState() const = 0;
  /// What decoders of this source may skip (DecodeOptions::gate), or nullptr. Lives as long as
  /// the pipeline.
  virtual const codec::DecodeGate* decode_gate() const { return nullptr; }
  /// The pipeline's durable directory, for sources that keep a log.
  virtual const std::string& data_dir() const = 0;
  /// Queue accounting of a batch (what TryReserve expects).
  static size_t QueueBytes(const Batch& b) { return b.bytes + b.size() * b.width() * sizeof(Value); }
};

/// A running input of the pipeline.
class Source {
 public:
  virtual ~Source() = default;
  virtual Status Start(SourceContext& ctx) = 0;
  virtual void Stop() = 0;
  /// True if the input ends by itself (a file, a simulator with a count).
  virtual bool bounded() const { return false; }
  /// Number of partitions; each tracks its own watermark.
  virtual uint32_t partitions() const { return 1; }
  /// True if records may be retractions (change streams).
  virtual bool may_retract() const { return false; }
  /// Extra fields for /api/v1/status, as JSON members (",\"path\":\"/x\"") or empty.
  virtual std::string StatusJson() const { return {}; }
  /// Empty when working; otherwise why not (a log that cannot be written). Any thread.
  virtual std::string Health() const { return {}; }
  /// False while the source cannot take input yet (replaying its log after a restart). Any thread.
  virtual bool Ready() const { return true; }
  /// A checkpoint covering `partition` up to `position` is durable: what came before may go.
  /// Called on the pipeline thread.
  virtual void OnCheckpoint(uint32_t partition, int64_t position) {}
  /// State to keep in a checkpoint beside the positions, handed back through
  /// SourceContext::RestoredState. Called on the pipeline thread during the cut (keep it quick);
  /// it may include more than the positions cover (what follows them is replayed), never less.
  virtual void SaveState(std::string& out) const {}
};

}  // namespace weir::runtime
