// The pane of a WindowMetric: state rows of every group with data in [start, start + pane size).
// Internal to the operators module (shared by the metric and its checkpoint code).
#pragma once

#include <memory>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/operators/window_metric.h"

namespace weir::operators {

inline constexpr uint32_t kRowsPerChunk = 256;
inline constexpr uint8_t kChangedSinceFire = 1;
inline constexpr uint8_t kChangedSinceEarly = 2;

struct WindowMetric::Pane {
  Timestamp start = 0;
  absl::flat_hash_map<uint32_t, uint32_t> row_of;  // group id -> row
  std::vector<uint32_t> group_of;                  // row -> group id
  // Per row: kChangedSinceFire (the windows fired so far saw an older state) and
  // kChangedSinceEarly (early emission has not shown the change yet).
  std::vector<uint8_t> dirty;
  std::vector<std::unique_ptr<char[]>> chunks;
  uint32_t row_size = 0;
  uint8_t any_dirty = 0;

  char* row(uint32_t r) { return chunks[r / kRowsPerChunk].get() + static_cast<size_t>(r % kRowsPerChunk) * row_size; }
  uint32_t rows() const { return static_cast<uint32_t>(group_of.size()); }
  void ClearDirty(uint8_t mask) {
    if (!(any_dirty & mask)) return;
    for (auto& d : dirty) d &= static_cast<uint8_t>(~mask);
    any_dirty &= static_cast<uint8_t>(~mask);
  }
};

}  // namespace weir::operators
