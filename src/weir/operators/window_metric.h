// The event-time aggregation behind every `metrics:` entry.
//
// Records are filtered (`where`), stamped with event time, checked against the watermark,
// grouped, and folded into per-(pane, group) aggregate states. Windows are unions of panes:
// a tumbling window is one pane; a sliding window of size S every E is S/E panes of size E,
// each record aggregated once into its pane and panes merged when a window fires; a cumulative
// window is the panes from its start to the current step; `none` is one pane forever.
//
// The watermark is tracked per input partition (max event time seen minus the bound); the
// metric's watermark is the minimum over its inputs that are neither ended nor idle (no record
// for `idle_timeout`). When every input is ended or idle, it is the furthest any of them reached
// (minus the bound), and +inf once all have ended; it never goes back. A window
// [start, end) fires when the watermark reaches `end`. A record behind the watermark whose
// window is still within the allowed lateness updates the window and re-emits it with a higher
// revision; later than that it goes to the late output.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>

#include "weir/aggregate/aggregate.h"
#include "weir/expr/expr.h"
#include "weir/operators/group_table.h"
#include "weir/runtime/operator.h"
#include "weir/runtime/registry.h"
#include "weir/spec/spec.h"

namespace weir::operators {

/// One aggregate call of a metric's select, such as sum(properties.amount).
struct AggregateCall {
  std::string text;  ///< as written, for messages
  aggregate::AggregatePtr fn;
  std::vector<expr::ProgramPtr> args;  ///< over the record layout
  uint32_t offset = 0;                 ///< of its state inside a state row
};

/// Everything a WindowMetric needs, compiled from a MetricSpec by the planner.
struct MetricPlan {
  MetricSchema schema;
  std::string definition;         ///< canonical text of what shapes the state (for checkpoints)
  std::vector<uint32_t> sources;  ///< sources read; empty = all
  std::vector<runtime::InputPartition> inputs;
  std::vector<std::string> source_ids;  ///< by source index, for status
  expr::ProgramPtr where;
  expr::ProgramPtr event_time;  ///< null = processing time
  std::string event_time_text;
  Duration watermark = 0;
  Duration allowed_lateness = 0;
  std::optional<Duration> idle_timeout;
  std::optional<Duration> emit_early;
  spec::WindowSpec window;
  std::vector<expr::ProgramPtr> group_by;  ///< over the record layout
  std::vector<AggregateCall> aggregates;
  uint32_t state_size = 0;
  /// Over a result row laid out as [group keys, aggregate results, select values].
  std::vector<expr::ProgramPtr> selects;
  expr::ProgramPtr having;
  std::vector<std::pair<uint32_t, bool>> order_by;  ///< result-row slot, descending
  int64_t limit = 0;
  spec::RetentionSpec retention;
};

/// Builds the metric for `spec` (registered as the pipeline's metric factory).
std::unique_ptr<runtime::Metric> MakeWindowMetric(const spec::MetricSpec& spec, runtime::PlanContext& ctx,
                                                  uint32_t index);

/// Where a shard of a partitioned metric sends what it emits, instead of an Emitter: every
/// emission is tagged with the point of the call it happened at, so that the shards' emissions
/// can be put together in the order one unpartitioned metric would have made them
/// (ShardedMetric).
class ShardOutput {
 public:
  virtual ~ShardOutput() = default;
  /// `emit_if_empty`: the batch replaces a window emitted before, so it goes out even empty.
  virtual void Results(uint64_t tag, ResultBatch& batch, bool emit_if_empty) = 0;
  virtual void Late(uint64_t tag, LateBatch& batch) = 0;
};

/// Totals a partitioned metric reports in place of one shard's own (StatusJson).
struct StatusTotals {
  uint64_t groups, state_rows, late, emitted_rows;
  uint64_t open_sessions = 0;  ///< sessions not fired yet
  /// The open session that ends first (the next the watermark must pass), if any.
  Timestamp oldest_session_start = kMaxTimestamp, oldest_session_end = kMaxTimestamp;
};

class WindowMetric final : public runtime::Metric {
 public:
  explicit WindowMetric(MetricPlan plan);
  /// Shard `shard` of `shards` of a metric whose state is partitioned by group-key hash: it
  /// folds only the records whose key it owns, but follows every record's event time, pane and
  /// lateness, so that all shards fire the same windows at the same points (ShardedMetric).
  WindowMetric(std::shared_ptr<const MetricPlan> plan, uint32_t shard, uint32_t shards);
  ~WindowMetric() override;

  const MetricSchema& schema() const override { return plan_.schema; }
  bool Reads(uint32_t source) const override;
  std::unique_ptr<runtime::PreparedState> Prepare(Batch& batch) const override;
  void Apply(Batch& batch, runtime::PreparedState* prepared, runtime::Emitter& out) override;
  void EndPartition(uint32_t source, uint32_t partition, runtime::Emitter& out) override;
  void OnTimer(Timestamp now, runtime::Emitter& out) override;
  std::string StatusJson(Timestamp now) const override;
  uint64_t late_records() const override { return late_; }
  runtime::MetricNumbers Numbers() const override {
    size_t open = panes_.size() + open_count_ + fired_sessions_.size();
    return {watermark_, late_, emitted_rows_, open, groups_.size()};
  }
  std::optional<Timestamp> InputWatermark(uint32_t source) const override;

  Result<std::vector<std::string>> Reaggregate(const std::vector<store::StoredState>& rows,
                                               const runtime::ReaggregateRequest& request,
                                               std::vector<store::StoredState>* merged = nullptr) const override;
  const spec::RetentionSpec& retention() const override { return plan_.retention; }
  const expr::Program* record_filter() const override { return plan_.where.get(); }
  const expr::Program* event_time_expr() const override { return plan_.event_time.get(); }
  std::optional<Duration> EarlyEmitInterval() const override { return plan_.emit_early; }
  void SaveState(std::string& out) const override;
  Status RestoreState(std::string_view in) override;
  uint64_t StateFingerprint() const override;

  Timestamp watermark() const { return watermark_; }
  size_t open_panes() const { return panes_.size(); }

  // Partitioning (ShardedMetric).
  void SetShardOutput(ShardOutput* out) { shard_out_ = out; }
  /// The wall clock Apply, EndPartition and RestoreState go by (0: read it), so that every
  /// shard judges idle inputs alike. Tests pin it to judge idleness on a clock of their own.
  void SetNow(Timestamp now) { now_ = now; }
  /// Which shard of `shards` owns a group key.
  static uint32_t ShardOf(std::string_view key, uint32_t shards);
  /// Restores the part of `saved` this shard owns. `saved` is what SaveState wrote, or a
  /// partitioned metric's state (PutPartitioned), written with any number of shards. `seq` and
  /// `emitted_rows` receive the whole metric's sequence number and emitted-row count.
  Status RestorePart(std::string_view saved, uint64_t* seq, uint64_t* emitted_rows);
  /// Writes the state of a partitioned metric: its own counters and each shard's SaveState.
  static void PutPartitioned(uint64_t seq, uint64_t emitted_rows, const std::vector<std::string>& shards,
                             std::string& out);
  std::string StatusJsonWith(Timestamp now, const StatusTotals& totals) const;
  StatusTotals Totals() const;
  uint64_t invalid_event_times() const { return invalid_time_; }
  size_t open_sessions() const { return open_count_ + fired_sessions_.size(); }

 private:
  struct Pane;
  struct Input {
    uint32_t source, partition;
    Timestamp max_time = kMinTimestamp;
    Timestamp last_seen = 0;  ///< wall clock of the last record
    bool ended = false;
  };

  Pane& PaneAt(Timestamp start);
  char* RowFor(Pane& pane, uint32_t group);
  Input& InputFor(uint32_t source, uint32_t partition);
  Timestamp Now() const { return now_ ? now_ : NowMillis(); }
  /// The largest event time the watermark may follow (before the bound is taken off): the
  /// minimum over active inputs (neither ended nor idle) other than `except`; kMaxTimestamp if
  /// there is none and `except` is given or every input has ended; otherwise (every input
  /// ended or idle) the largest event time any of them reached.
  Timestamp HeldAt(Timestamp now, const Input* except) const;
  /// The active input with the smallest event time: the one holding the watermark back.
  const Input* Holder(Timestamp now) const;
  bool Idle(const Input& in, Timestamp now) const {
    return !in.ended && plan_.idle_timeout && now - in.last_seen > *plan_.idle_timeout;
  }
  void AdvanceTo(Timestamp wm, runtime::Emitter& out);
  /// Emits the window ending at `end`: every group, or (only_dirty != 0) the groups whose rows
  /// carry one of the `only_dirty` flags.
  void FireWindow(Timestamp end, bool final, uint8_t only_dirty, runtime::Emitter& out, bool replace = false);
  /// End of the next window (or session) that holds data and has not fired.
  Timestamp NextFireEnd() const;
  /// One row to emit: a group's state over [start, end).
  struct EmitItem {
    uint32_t group;
    const char* state;
    Timestamp start, end;
    uint64_t revision;
    bool deleted;  ///< the row no longer exists (its session merged into another)
  };
  /// Finalizes, computes selects, applies having (and, for a window, order_by/limit) and
  /// emits. Returns false if there was nothing to emit.
  void SortSessionItems(std::vector<EmitItem>& items) const;
  bool EmitItems(std::vector<EmitItem>& items, bool final, bool sorted_window, bool emit_if_empty,
                 std::optional<Timestamp> replaces, runtime::Emitter& out);
  void EmitLateUpdates(runtime::Emitter& out);
  void EmitEarly(runtime::Emitter& out);
  void DropExpired();
  void DropPane(std::map<Timestamp, Pane>::iterator it);
  Timestamp PaneOf(Timestamp t) const;
  /// End of the last window that contains the pane starting at `pane`.
  Timestamp LastWindowEnd(Timestamp pane) const;
  /// Start of the window that ends at `end`.
  Timestamp WindowStart(Timestamp end) const;
  Duration pane_size() const;

  // Session windows: per group, disjoint sessions [first event, last event + gap).
  struct Session {
    Timestamp start = 0, end = 0;
    uint32_t group = 0;
    std::unique_ptr<char[]> state;
    uint64_t revision = 0;                    ///< emissions so far
    Timestamp emitted_start = kMinTimestamp;  ///< window start of the row last emitted
    Timestamp emitted_end = kMinTimestamp;
    uint32_t gen = 0;  ///< bumped when the session is destroyed: its open_heap_ entry is then stale
    bool fired = false, dirty = false, alive = false;
    bool queued = false;  ///< has a live entry in open_heap_ (open, not fired)
  };
  /// An entry of open_heap_: a session that has not fired, by end. Lazily kept: a session that
  /// grows leaves its entry where it was (the entry's end is then behind the session's), and a
  /// session merged away leaves a stale entry (`gen`); FireSessions re-queues or drops such
  /// entries when they reach the top, so the top is always at or before the next session end.
  struct SessionDue {
    Timestamp end;
    uint32_t id, gen;
    bool operator>(const SessionDue& o) const { return end != o.end ? end > o.end : id > o.id; }
  };
  bool Due(const SessionDue& e) const {
    const Session& s = sessions_[e.id];
    return s.alive && s.gen == e.gen && s.queued;
  }
  void QueueOpen(uint32_t id);
  /// Drops stale entries from the top of open_heap_ and moves a top entry that is behind its
  /// session: afterwards the top is exactly the open session that ends first.
  void SettleOpenTop();
  char* AssignSession(uint32_t group, Timestamp t, int8_t weight, Timestamp wm);
  /// True if a record at `t` would merge two or more sessions of `group`.
  bool SessionMerges(uint32_t group, Timestamp t, Timestamp wm) const;
  bool SessionLive(const Session& s, Timestamp wm) const;
  void FireSessions(Timestamp wm, runtime::Emitter& out);
  void EmitSessionsEarly(runtime::Emitter& out);
  void DestroySession(uint32_t id);
  void QueueDeletion(const Session& s);

  /// Reads one saved WindowMetric state into this one: all of it when `control` (watermarks,
  /// inputs, revisions, counters), and of panes, sessions and deletions the rows this shard
  /// owns.
  Status LoadSaved(std::string_view in, bool control);
  void Clear();
  /// The key bytes of `group`, valid as long as `rb`.
  std::string_view KeyFor(uint32_t group, ResultBatch& rb) const;
  /// Hands results to the shard output if there is one, else to `out`.
  void Send(ResultBatch& rb, bool emit_if_empty, runtime::Emitter& out);
  void SendLate(LateBatch& late, runtime::Emitter& out);

  std::shared_ptr<const MetricPlan> plan_owner_;
  const MetricPlan& plan_;
  uint32_t shard_ = 0, shards_ = 1;
  ShardOutput* shard_out_ = nullptr;
  uint64_t tag_ = 0;  ///< point of the current call emissions happen at (for ShardOutput)
  Timestamp now_ = 0;
  uint32_t key_count_, agg_count_, select_count_;
  GroupTable groups_;
  std::map<Timestamp, Pane> panes_;
  std::map<Timestamp, uint64_t> revisions_;  ///< window start -> emissions so far
  std::vector<Input> inputs_;
  Timestamp watermark_ = kMinTimestamp;
  Timestamp watermark_moved_at_ = 0;      ///< wall clock when watermark_ last advanced (for status)
  Timestamp fired_upto_ = kMinTimestamp;  ///< every window ending at or before this has fired
  Timestamp next_fire_ = kMaxTimestamp;   ///< NextFireEnd(), kept current for the record loop
  Timestamp last_early_ = 0;
  uint64_t seq_ = 0;
  uint64_t late_ = 0;
  uint64_t invalid_time_ = 0;
  uint64_t emitted_rows_ = 0;
  bool insert_only_ = true;

  std::vector<Session> sessions_;
  std::vector<uint32_t> free_sessions_;
  /// Per group id (dense, GroupTable), the ids of its live sessions: mostly one, so inline.
  std::vector<absl::InlinedVector<uint32_t, 1>> group_sessions_;
  absl::InlinedVector<uint32_t, 1>& SessionsOf(uint32_t group) {
    if (group >= group_sessions_.size())
      group_sessions_.resize(std::max<size_t>(group + 1, group_sessions_.size() * 2));
    return group_sessions_[group];
  }
  std::vector<SessionDue> open_heap_;  ///< min-heap (std::greater) of open sessions, see SessionDue
  size_t open_count_ = 0;              ///< sessions alive and not fired
  std::set<std::pair<Timestamp, uint32_t>> fired_sessions_;  ///< (end, id), fired, within lateness
  std::vector<uint32_t> dirty_fired_;                        ///< fired sessions changed since
  std::vector<EmitItem> pending_deletions_;

  // Per-batch scratch of Apply, reused.
  std::vector<char*> rows_;
  // Per-firing scratch of FireWindow and EmitItems, reused.
  static constexpr uint32_t kNotMerged = UINT32_MAX;
  std::vector<uint32_t> merged_at_;    ///< group id -> position in fire_groups_, or kNotMerged
  std::vector<uint32_t> fire_groups_;  ///< groups of a window over several panes
  std::vector<char> merged_;           ///< their merged states
  std::vector<EmitItem> fire_items_;
  std::vector<Value> emit_values_;
  std::vector<uint32_t> emit_source_, emit_order_, emit_deletions_;
  bool keys_after_ranking_ = false;  ///< ranking (order_by, selects, having) reads no key
};

}  // namespace weir::operators
