// A metric whose state is partitioned by group-key hash into shards, one per worker.
//
// Each shard is a WindowMetric that folds only the records whose group key it owns, but
// follows every record's event time: all shards keep the same watermark, panes and revisions,
// and fire the same windows at the same points of a batch. A batch is applied to all shards at
// once (on the pipeline's workers); what they emit is then put together, point by point, into
// what one unpartitioned metric emits: rows of a window in key order (or order_by, then key,
// keeping the top `limit` of all shards), sessions by (end, start, key), late records in
// arrival order, sequence numbers counted over the whole metric. Results are therefore the same
// whatever the number of shards; so is the saved state, which restores into any number.
#pragma once

#include <memory>
#include <vector>

#include "weir/operators/window_metric.h"

namespace weir::operators {

class ShardedMetric final : public runtime::Metric {
 public:
  ShardedMetric(std::shared_ptr<const MetricPlan> plan, uint32_t shards);
  ~ShardedMetric() override;

  const MetricSchema& schema() const override { return plan_->schema; }
  bool Reads(uint32_t source) const override { return shards_[0]->Reads(source); }
  std::unique_ptr<runtime::PreparedState> Prepare(Batch& batch) const override { return shards_[0]->Prepare(batch); }
  void Apply(Batch& batch, runtime::PreparedState* prepared, runtime::Emitter& out) override;
  void EndPartition(uint32_t source, uint32_t partition, runtime::Emitter& out) override;
  void OnTimer(Timestamp now, runtime::Emitter& out) override;
  std::string StatusJson(Timestamp now) const override;
  uint64_t late_records() const override;
  runtime::MetricNumbers Numbers() const override;
  std::optional<Timestamp> InputWatermark(uint32_t source) const override { return shards_[0]->InputWatermark(source); }
  Result<std::vector<std::string>> Reaggregate(const std::vector<store::StoredState>& rows,
                                               const runtime::ReaggregateRequest& request,
                                               std::vector<store::StoredState>* merged = nullptr) const override {
    return shards_[0]->Reaggregate(rows, request, merged);
  }
  const spec::RetentionSpec& retention() const override { return plan_->retention; }
  const expr::Program* record_filter() const override { return plan_->where.get(); }
  const expr::Program* event_time_expr() const override { return plan_->event_time.get(); }
  std::optional<Duration> EarlyEmitInterval() const override { return plan_->emit_early; }
  void SaveState(std::string& out) const override;
  Status RestoreState(std::string_view in) override;
  uint64_t StateFingerprint() const override { return shards_[0]->StateFingerprint(); }
  size_t PartitionCount() const override { return shards_.size(); }
  void BeginApply() override;
  void ApplyPartition(Batch& batch, runtime::PreparedState* prepared, size_t partition) override;
  void FinishApply(runtime::Emitter& out) override { Merge(out); }

  size_t shard_count() const { return shards_.size(); }
  /// Tests: pins the wall clock every shard goes by (WindowMetric::SetNow); 0 reads it again.
  void SetNow(Timestamp now);

 private:
  struct Log;
  /// Puts together what the shards emitted in the last call and hands it to `out`.
  void Merge(runtime::Emitter& out);
  void MergeResults(std::vector<ResultBatch*>& parts, bool emit_if_empty, runtime::Emitter& out);

  std::shared_ptr<const MetricPlan> plan_;
  std::vector<std::unique_ptr<WindowMetric>> shards_;
  std::vector<std::unique_ptr<Log>> logs_;  ///< per shard: what it emitted in the current call
  uint64_t seq_ = 0;
  uint64_t emitted_rows_ = 0;
  Timestamp pinned_now_ = 0;
  // Scratch of Merge, reused.
  std::vector<std::string> keys_;
};

}  // namespace weir::operators
