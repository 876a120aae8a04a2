// Checkpoints: a consistent cut of a pipeline — every metric's state and every source
// partition's position — written atomically to a file with a checksum.
//
// The cut needs no barriers: state changes only on the pipeline thread, one batch at a time, so
// between two batches the metrics' state and the positions of the batches applied so far are
// consistent by construction.
//
//   CheckpointStore store(dir, /*keep=*/3);
//   store.Write(checkpoint);                       // ckpt-00000000000000000042.ckpt
//   auto latest = store.LoadLatest(&skipped);      // newest intact one; corrupt ones reported
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "weir/base/result.h"
#include "weir/base/time.h"

namespace weir::runtime {

struct Checkpoint {
  uint64_t id = 0;  ///< increasing
  Timestamp created_at = 0;
  struct SourcePosition {
    std::string source;
    uint32_t partition;
    int64_t position;  ///< source-defined: WAL position, byte offset, events generated
  };
  std::vector<SourcePosition> positions;
  /// Sinks' positions, keyed "sink:<id>" in `positions` with partition 0.
  struct MetricState {
    std::string metric;
    uint64_t fingerprint;
    std::string state;
  };
  std::vector<MetricState> metrics;
  /// What a source keeps beside its positions (the HTTP source: recent idempotency keys).
  struct SourceState {
    std::string source;
    std::string state;
  };
  std::vector<SourceState> sources;

  std::optional<int64_t> PositionOf(std::string_view source, uint32_t partition) const;
  std::string_view StateOf(std::string_view source) const;
};

/// A directory of checkpoint files. Not thread-safe: one writer.
class CheckpointStore {
 public:
  CheckpointStore(std::string dir, int keep) : dir_(std::move(dir)), keep_(keep) {}

  /// Writes `cp` (to a temporary file, fsync, rename, fsync of the directory), then removes
  /// all but the newest `keep` checkpoints. Returns the size in bytes.
  Result<uint64_t> Write(const Checkpoint& cp);
  /// The newest checkpoint that reads back whole. Each newer one that does not is described in
  /// `skipped` (file and reason).
  Result<std::optional<Checkpoint>> LoadLatest(std::vector<std::string>* skipped) const;

  /// The source positions of every checkpoint file in the directory, by id, oldest first,
  /// read from the head of each file without reading (or checking) the rest. A file whose
  /// head does not parse is listed with no positions. Used to keep source logs back to the
  /// oldest checkpoint still on disk.
  std::vector<std::pair<uint64_t, std::vector<Checkpoint::SourcePosition>>> PeekPositions() const;
  int keep() const { return keep_; }

  static std::string Encode(const Checkpoint& cp);
  static Result<Checkpoint> Decode(std::string_view bytes);

  const std::string& dir() const { return dir_; }

 private:
  std::vector<std::pair<uint64_t, std::string>> List() const;  // (id, path), oldest first
  std::string dir_;
  int keep_;
};

}  // namespace weir::runtime
