// The embedded result store: metric results and late records on RocksDB.
//
// Rows are keyed by (metric, window_start, group key) in an order-preserving encoding, so a
// time-range query is one range scan and a replayed emission overwrites the same row (upsert by
// result key). Late records are kept per metric in arrival order.
//
//   auto store = ResultStore::Open("/var/lib/weir/shop/results");
//   store->Write(result_batch);
//   ResultQuery q{.metric = "revenue", .start = t0, .end = t1, .filters = {{"currency", "USD"}}};
//   auto rows = store->Query(q);   // JSON objects, oldest window first
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "weir/base/result.h"
#include "weir/model/results.h"

namespace weir::store {

struct ResultQuery {
  std::string metric;
  Timestamp start = kMinTimestamp;  ///< windows starting at or after
  Timestamp end = kMaxTimestamp;    ///< windows starting before
  /// Group-key filters: key name -> value as text (numbers compare by value).
  std::vector<std::pair<std::string, std::string>> filters;
  size_t limit = 100000;
  bool newest_first = false;
  bool with_states = false;  ///< also return each row's group key and partial state
  bool json_rows = true;     ///< return the rows' JSON (off when only the states are wanted)
};

/// A stored row's partial state, for re-aggregation.
struct StoredState {
  Timestamp window_start;
  std::string keys;   ///< the group key tuple (model/key_codec.h)
  std::string state;  ///< ResultRow::state as emitted
};

struct QueryResult {
  std::vector<std::string> rows;  ///< JSON objects as written by AppendResultJson (json_rows)
  std::vector<StoredState> states;  ///< with_states: one per row, in the same order
  bool truncated = false;         ///< more rows matched than `limit`
};

/// A thread-safe handle on the store. Writes come from the pipeline thread, reads from the
/// HTTP server's threads.
class ResultStore {
 public:
  /// Opens (creating if needed) the store in `dir`. A read-only handle may be opened while a
  /// running pipeline writes (it sees the data as of opening).
  static Result<std::unique_ptr<ResultStore>> Open(const std::string& dir, bool read_only = false);
  /// Metrics that have written here.
  std::vector<std::string> Metrics() const;
  ~ResultStore();

  /// Tells the store a metric's group-key names (for filters in queries).
  void RegisterMetric(const MetricSchema& schema);
  /// Upserts every row of the batch (and first deletes the windows listed in `replaces`).
  Status Write(const ResultBatch& batch);
  /// Upserts rows given in stored form (downsampled tiers): key tuple, JSON, partial state.
  Status PutRows(std::string_view metric, const std::vector<StoredState>& states, const std::vector<std::string>& json);
  /// Deletes a metric's rows whose window starts before `start`.
  Status DeleteBefore(std::string_view metric, Timestamp start);
  /// Start of the newest stored window of a metric, if any.
  Result<std::optional<Timestamp>> NewestWindow(std::string_view metric) const;
  /// Start of the oldest stored window of a metric, if any.
  Result<std::optional<Timestamp>> OldestWindow(std::string_view metric) const;
  /// Appends late records.
  Status WriteLate(const LateBatch& batch);

  Result<QueryResult> Query(const ResultQuery& q) const;
  /// Late records of a metric, oldest first, with event time in [start, end).
  Result<QueryResult> QueryLate(const std::string& metric, Timestamp start, Timestamp end, size_t limit) const;

  /// Makes every write so far durable (syncs the store's log).
  Status Flush();
  /// Bytes on disk (estimate), for /metrics.
  uint64_t SizeBytes() const;
  /// Empty while the store works; otherwise why not: the error of the last write, delete or
  /// flush, when it failed (a later one that succeeds clears it). For /health. Any thread.
  std::string Health() const;

 private:
  struct Impl;
  explicit ResultStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::store
