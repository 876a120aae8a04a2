// Downsampling and retention of a pipeline's stored results (`retention:` of a metric).
//
// Tier k holds the rows of tier k-1 (tier 0: the metric's own rows) re-aggregated to a coarser
// window, written once the coarse window can no longer change (its end plus the allowed
// lateness is behind the watermark), under the store id "<metric>@<window>". Rows older than a
// level's `keep` (measured against the watermark) are deleted, but never before the next tier
// has them. Queries read the finest level that still covers the start of their range.
#pragma once

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "weir/runtime/operator.h"
#include "weir/store/result_store.h"

namespace weir::runtime {

/// What is stored where, for query planning.
struct RetentionLevel {
  std::string id;          ///< store id: the metric id, or "<metric>@<window>"
  Duration window;         ///< window of the rows at this level
  Timestamp from;          ///< rows before this are gone (kMinTimestamp: none deleted)
  Timestamp upto;          ///< downsampled up to here (kMaxTimestamp for level 0)
};

class RetentionJob {
 public:
  RetentionJob(store::ResultStore& store, const std::vector<std::unique_ptr<Metric>>& metrics);
  /// Does a bounded amount of work. Pipeline thread.
  void Run();
  /// The levels of `metric` (level 0 first); empty if it has no retention. Any thread.
  std::vector<RetentionLevel> Levels(std::string_view metric) const;
  /// Held by a query from reading Levels until it has read the rows: rows are deleted, and the
  /// levels that say so published, while no query holds it, so a query never sees a level's
  /// rows gone before the next level's `upto` covers them.
  std::shared_lock<std::shared_mutex> LockForQuery() const { return std::shared_lock(query_mu_); }
  static std::string TierId(std::string_view metric, Duration window);

 private:
  struct Tracked {
    const Metric* metric;
    std::vector<RetentionLevel> levels;  // level 0 = the metric's own rows
    std::vector<bool> known;             // upto of level k (k >= 1) read from the store yet
  };
  void RunOne(Tracked& t);
  store::ResultStore& store_;
  std::vector<Tracked> tracked_;
  mutable std::mutex mu_;
  mutable std::shared_mutex query_mu_;
};

}  // namespace weir::runtime
