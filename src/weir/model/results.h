// What metrics emit: result rows (a changelog keyed by metric, window and group) and late
// records, in batches.
//
// A result row is identified by (metric, window_start, group keys). A row is emitted again with
// a higher revision when late data within the allowed lateness changes it, and early (partial)
// rows carry final = false. The store and upserting sinks keep the highest revision.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "weir/base/arena.h"
#include "weir/model/value.h"

namespace weir {

/// The columns of one metric's result rows.
struct MetricSchema {
  std::string id;
  uint32_t index = 0;                   ///< position among the pipeline's metrics
  std::vector<std::string> key_names;   ///< group_by names, in order
  std::vector<std::string> value_names; ///< select names, in order
  bool windowed = true;                 ///< false for `window: none` (no start/end)
  bool top_n = false;                   ///< order_by + limit: each emission replaces the window's rows
  Duration window_size = 0;             ///< tumbling/sliding/cumulative size, session gap
  Duration allowed_lateness = 0;
};

/// One result row. keys/values point into the owning ResultBatch.
struct ResultRow {
  Timestamp window_start = 0;
  Timestamp window_end = 0;
  uint64_t revision = 1;
  uint64_t seq = 0;  ///< per-metric emission sequence number, increasing
  bool final = true;
  bool deleted = false;  ///< the row no longer exists (values are null): stores delete it
  const Value* keys = nullptr;
  const Value* values = nullptr;
  /// The group's mergeable partial state (net record count, then each aggregate's encoding),
  /// kept by the store so that queries can re-aggregate to coarser windows exactly.
  std::string_view state;
};

/// Rows emitted by one metric at one moment. For top-N metrics, `replaces` lists windows whose
/// previous rows this batch replaces entirely.
struct ResultBatch {
  const MetricSchema* schema = nullptr;
  std::vector<ResultRow> rows;
  std::vector<Timestamp> replaces;
  Arena arena{16 * 1024};
  std::vector<Value> cells;  ///< backing storage for keys and values (reserved before use)
};

/// A record that arrived after its window closed (beyond allowed lateness).
struct LateRecord {
  Timestamp event_time;
  Timestamp window_start;
  Timestamp watermark;  ///< the metric's watermark when the record arrived
  std::string_view raw; ///< the event as received
  uint32_t record = 0;  ///< its index in the batch it arrived in
};

struct LateBatch {
  const MetricSchema* schema = nullptr;
  std::vector<LateRecord> records;
};

/// Appends a result row as one JSON object:
/// {"metric":…,"window_start":…,"window_end":…,<keys>,<values>,"revision":…,"final":…}
void AppendResultJson(const MetricSchema& schema, const ResultRow& row, std::string& out);
/// {"metric":…,"event_time":…,"window_start":…,"watermark":…,"event":<raw>}
void AppendLateJson(const MetricSchema& schema, const LateRecord& rec, std::string& out);

}  // namespace weir
