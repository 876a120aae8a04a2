#include "weir/operators/sharded_metric.h"

#include <algorithm>

#include "weir/model/key_codec.h"

namespace weir::operators {

/// What one shard emitted during the current call, tagged with where in the call.
struct ShardedMetric::Log final : ShardOutput {
  struct Entry {
    uint64_t tag = 0;
    bool late = false;
    bool emit_if_empty = false;
    ResultBatch results;
    LateBatch lates;
  };
  std::vector<Entry> entries;

  void Results(uint64_t tag, ResultBatch& batch, bool emit_if_empty) override {
    Entry& e = entries.emplace_back();
    e.tag = tag;
    e.emit_if_empty = emit_if_empty;
    e.results = std::move(batch);
  }
  void Late(uint64_t tag, LateBatch& batch) override {
    Entry& e = entries.emplace_back();
    e.tag = tag;
    e.late = true;
    e.lates = batch;
  }
};

ShardedMetric::ShardedMetric(std::shared_ptr<const MetricPlan> plan, uint32_t shards) : plan_(std::move(plan)) {
  for (uint32_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<WindowMetric>(plan_, i, shards));
    logs_.push_back(std::make_unique<Log>());
    shards_.back()->SetShardOutput(logs_.back().get());
  }
}

ShardedMetric::~ShardedMetric() = default;

void ShardedMetric::SetNow(Timestamp now) {
  pinned_now_ = now;
  for (auto& s : shards_) s->SetNow(now);
}

void ShardedMetric::BeginApply() {
  const Timestamp now = pinned_now_ ? pinned_now_ : NowMillis();
  for (auto& s : shards_) s->SetNow(now);
}

void ShardedMetric::ApplyPartition(Batch& batch, runtime::PreparedState* prepared, size_t partition) {
  // Shards send what they emit to their logs (SetShardOutput), never to an emitter.
  struct Unused : runtime::Emitter {
    void EmitResults(ResultBatch&) override {}
    void EmitLate(LateBatch&) override {}
  } unused;
  shards_[partition]->Apply(batch, prepared, unused);
}

// The pipeline applies the shards in parallel (BeginApply, ApplyPartition, FinishApply); this is
// the same on one thread.
void ShardedMetric::Apply(Batch& batch, runtime::PreparedState* prepared, runtime::Emitter& out) {
  BeginApply();
  for (size_t i = 0; i < shards_.size(); ++i) ApplyPartition(batch, prepared, i);
  Merge(out);
}

void ShardedMetric::EndPartition(uint32_t source, uint32_t partition, runtime::Emitter& out) {
  const Timestamp now = pinned_now_ ? pinned_now_ : NowMillis();
  for (auto& s : shards_) {
    s->SetNow(now);
    s->EndPartition(source, partition, out);
  }
  Merge(out);
}

void ShardedMetric::OnTimer(Timestamp now, runtime::Emitter& out) {
  for (auto& s : shards_) s->OnTimer(now, out);
  Merge(out);
}

void ShardedMetric::Merge(runtime::Emitter& out) {
  const size_t n = logs_.size();
  // Late records: one metric sends those it has met at its next firing (or at the end of the
  // batch), before what it fires. Each shard does the same with its own, but a shard may fire
  // where the others do not (sessions): the records go out at the first firing of any shard
  // after them.
  LateBatch late{&plan_->schema, {}};
  for (auto& log : logs_)
    for (auto& e : log->entries)
      if (e.late) late.records.insert(late.records.end(), e.lates.records.begin(), e.lates.records.end());
  std::sort(late.records.begin(), late.records.end(),
            [](const LateRecord& a, const LateRecord& b) { return a.record < b.record; });
  size_t late_sent = 0;
  auto send_late = [&](uint64_t upto) {
    LateBatch part{&plan_->schema, {}};
    while (late_sent < late.records.size() && late.records[late_sent].record < upto)
      part.records.push_back(late.records[late_sent++]);
    if (!part.records.empty()) out.EmitLate(part);
  };

  std::vector<size_t> at(n, 0);
  std::vector<std::vector<Log::Entry*>> slots(n);
  std::vector<ResultBatch*> parts;
  while (true) {
    uint64_t tag = UINT64_MAX;
    for (size_t s = 0; s < n; ++s)
      if (at[s] < logs_[s]->entries.size()) tag = std::min(tag, logs_[s]->entries[at[s]].tag);
    if (tag == UINT64_MAX) break;
    bool any = false;
    for (size_t s = 0; s < n; ++s) {
      slots[s].clear();
      auto& entries = logs_[s]->entries;
      for (; at[s] < entries.size() && entries[at[s]].tag == tag; ++at[s])
        if (!entries[at[s]].late) {
          slots[s].push_back(&entries[at[s]]);
          any = true;
        }
    }
    if (!any) continue;
    send_late(tag >> 1);  // the tag's upper bits: records folded before this point
    // Window firings are the same in every shard: the k-th batch of each belongs together.
    // Sessions fire per group, so at a point inside a batch only some shards may fire (at
    // most once each): then everything at this point goes together.
    bool aligned = true;
    for (size_t s = 1; s < n; ++s) aligned = aligned && slots[s].size() == slots[0].size();
    if (aligned) {
      for (size_t k = 0; k < slots[0].size(); ++k) {
        parts.clear();
        bool emit_if_empty = false;
        for (size_t s = 0; s < n; ++s) {
          parts.push_back(&slots[s][k]->results);
          emit_if_empty = emit_if_empty || slots[s][k]->emit_if_empty;
        }
        MergeResults(parts, emit_if_empty, out);
      }
    } else {
      parts.clear();
      bool emit_if_empty = false;
      for (size_t s = 0; s < n; ++s)
        for (Log::Entry* e : slots[s]) {
          parts.push_back(&e->results);
          emit_if_empty = emit_if_empty || e->emit_if_empty;
        }
      MergeResults(parts, emit_if_empty, out);
    }
  }
  send_late(UINT64_MAX);
  for (auto& log : logs_) log->entries.clear();
}

void ShardedMetric::MergeResults(std::vector<ResultBatch*>& parts, bool emit_if_empty, runtime::Emitter& out) {
  const MetricPlan& plan = *plan_;
  const bool session = plan.window.kind == spec::WindowKind::kSession;
  const size_t K = plan.group_by.size();
  ResultBatch merged;
  merged.schema = &plan.schema;
  // Rows keep pointing into the shards' batches, which live until the end of Merge.
  struct Item {
    ResultRow row;
    uint32_t key;  // index in keys_
  };
  std::vector<Item> deletions, rows;
  size_t used = 0;
  for (ResultBatch* p : parts) {
    if (merged.replaces.empty()) merged.replaces = p->replaces;
    for (const ResultRow& r : p->rows) {
      if (used == keys_.size()) keys_.emplace_back();
      std::string& key = keys_[used];
      key.clear();
      for (size_t k = 0; k < K; ++k) EncodeKey(r.keys[k], key);
      (r.deleted ? deletions : rows).push_back({r, static_cast<uint32_t>(used++)});
    }
  }
  if (rows.empty() && deletions.empty() && !emit_if_empty) return;
  if (parts.size() > 1) {
    // The order each shard used (WindowMetric::EmitItems), over all of them.
    auto slot = [&](const ResultRow& r, uint32_t s) -> const Value& { return s < K ? r.keys[s] : r.values[s - K]; };
    auto before = [&](const Item& a, const Item& b) {
      if (session) {
        if (a.row.window_end != b.row.window_end) return a.row.window_end < b.row.window_end;
        if (a.row.window_start != b.row.window_start) return a.row.window_start < b.row.window_start;
      } else if (!a.row.deleted) {
        for (const auto& [s, desc] : plan.order_by) {
          int c = CompareTotal(slot(a.row, s), slot(b.row, s));
          if (c != 0) return desc ? c > 0 : c < 0;
        }
      }
      return keys_[a.key] < keys_[b.key];
    };
    std::sort(deletions.begin(), deletions.end(), before);
    if (!session && plan.limit > 0 && rows.size() > static_cast<size_t>(plan.limit)) {
      std::partial_sort(rows.begin(), rows.begin() + plan.limit, rows.end(), before);
      rows.resize(plan.limit);
    } else {
      std::sort(rows.begin(), rows.end(), before);
    }
  }
  merged.rows.reserve(deletions.size() + rows.size());
  for (auto* list : {&deletions, &rows})
    for (Item& it : *list) {
      it.row.seq = ++seq_;
      // A session row's revision is its sequence number (see WindowMetric::EmitItems).
      if (session) it.row.revision = it.row.seq;
      merged.rows.push_back(it.row);
    }
  emitted_rows_ += merged.rows.size();
  out.EmitResults(merged);
}

std::string ShardedMetric::StatusJson(Timestamp now) const {
  StatusTotals t{0, 0, 0, emitted_rows_};
  for (const auto& s : shards_) {
    StatusTotals x = s->Totals();
    t.groups += x.groups;
    t.state_rows += x.state_rows;
    t.late += x.late;
    t.open_sessions += x.open_sessions;
    // Sessions are per group, so each shard holds its own: the oldest is the first to end of all.
    if (std::pair(x.oldest_session_end, x.oldest_session_start) <
        std::pair(t.oldest_session_end, t.oldest_session_start)) {
      t.oldest_session_start = x.oldest_session_start;
      t.oldest_session_end = x.oldest_session_end;
    }
  }
  return shards_[0]->StatusJsonWith(now, t);
}

uint64_t ShardedMetric::late_records() const {
  uint64_t late = 0;
  for (const auto& s : shards_) late += s->late_records();
  return late;
}

runtime::MetricNumbers ShardedMetric::Numbers() const {
  runtime::MetricNumbers n = shards_[0]->Numbers();
  n.late = late_records();
  n.emitted_rows = emitted_rows_;
  n.open_panes = shards_[0]->open_panes();  // every shard holds the same panes
  n.groups = 0;
  for (const auto& s : shards_) {
    n.open_panes += s->open_sessions();
    n.groups += s->Numbers().groups;
  }
  return n;
}

void ShardedMetric::SaveState(std::string& out) const {
  std::vector<std::string> parts(shards_.size());
  for (size_t i = 0; i < shards_.size(); ++i) shards_[i]->SaveState(parts[i]);
  WindowMetric::PutPartitioned(seq_, emitted_rows_, parts, out);
}

Status ShardedMetric::RestoreState(std::string_view in) {
  uint64_t seq = 0, emitted = 0;
  for (auto& s : shards_) WEIR_RETURN_IF_ERROR(s->RestorePart(in, &seq, &emitted));
  seq_ = seq;
  emitted_rows_ = emitted;
  return Ok();
}

}  // namespace weir::operators
