#include "weir/operators/window_metric.h"
#include "weir/operators/window_pane.h"

#include <algorithm>
#include <numeric>
#include <set>

#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include "weir/aggregate/state_io.h"
#include "weir/base/hash.h"
#include "weir/model/key_codec.h"

namespace weir::operators {

// ---------------------------------------------------------------------------------------------
// Panes

WindowMetric::WindowMetric(MetricPlan plan) : WindowMetric(std::make_shared<const MetricPlan>(std::move(plan)), 0, 1) {}

WindowMetric::WindowMetric(std::shared_ptr<const MetricPlan> plan, uint32_t shard, uint32_t shards)
    : plan_owner_(std::move(plan)), plan_(*plan_owner_), shard_(shard), shards_(shards) {
  key_count_ = static_cast<uint32_t>(plan_.group_by.size());
  select_count_ = static_cast<uint32_t>(plan_.selects.size());
  agg_count_ = static_cast<uint32_t>(plan_.aggregates.size());
  // Ranking needs the key values only if order_by, a select or having reads them.
  auto reads_key = [&](const expr::ProgramPtr& p) {
    return p && std::any_of(p->slots().begin(), p->slots().end(), [&](uint32_t s) { return s < key_count_; });
  };
  keys_after_ranking_ =
      plan_.limit > 0 && key_count_ > 0 && !reads_key(plan_.having) &&
      std::none_of(plan_.selects.begin(), plan_.selects.end(), reads_key) &&
      std::none_of(plan_.order_by.begin(), plan_.order_by.end(), [&](const auto& ob) { return ob.first < key_count_; });
  Timestamp now = NowMillis();
  watermark_moved_at_ = now;
  // The first partial rows come one `early` interval after the start, like every later one
  // (not at the first timer tick, which would depend on when input happens to arrive).
  last_early_ = now;
  for (const auto& in : plan_.inputs) inputs_.push_back({in.source, in.partition, kMinTimestamp, now, false});
}

WindowMetric::~WindowMetric() { Clear(); }

bool WindowMetric::Reads(uint32_t source) const {
  return plan_.sources.empty() || std::find(plan_.sources.begin(), plan_.sources.end(), source) != plan_.sources.end();
}

Duration WindowMetric::pane_size() const {
  switch (plan_.window.kind) {
    case spec::WindowKind::kTumbling:
      return plan_.window.size;
    case spec::WindowKind::kSliding:
    case spec::WindowKind::kCumulative:
      return plan_.window.every;
    default:
      return 0;
  }
}

Timestamp WindowMetric::PaneOf(Timestamp t) const {
  if (plan_.window.kind == spec::WindowKind::kNone) return 0;
  return AlignDown(t, pane_size());
}

Timestamp WindowMetric::LastWindowEnd(Timestamp pane) const {
  switch (plan_.window.kind) {
    case spec::WindowKind::kTumbling:
    case spec::WindowKind::kSliding:
      return SatAdd(pane, plan_.window.size);
    case spec::WindowKind::kCumulative:
      return SatAdd(AlignDown(pane, plan_.window.size), plan_.window.size);
    default:
      return kMaxTimestamp;
  }
}

Timestamp WindowMetric::WindowStart(Timestamp end) const {
  switch (plan_.window.kind) {
    case spec::WindowKind::kTumbling:
    case spec::WindowKind::kSliding:
      return SatSub(end, plan_.window.size);
    case spec::WindowKind::kCumulative:
      return AlignDown(end - 1, plan_.window.size);
    default:
      return kMinTimestamp;
  }
}

WindowMetric::Pane& WindowMetric::PaneAt(Timestamp start) {
  auto it = panes_.find(start);
  if (it != panes_.end()) return it->second;
  Pane& p = panes_[start];
  p.start = start;
  p.row_size = plan_.state_size;
  next_fire_ = NextFireEnd();
  return p;
}

char* WindowMetric::RowFor(Pane& pane, uint32_t group) {
  auto [it, inserted] = pane.row_of.try_emplace(group, pane.rows());
  uint32_t r = it->second;
  if (inserted) {
    if (r % kRowsPerChunk == 0)
      pane.chunks.push_back(std::make_unique<char[]>(static_cast<size_t>(kRowsPerChunk) * pane.row_size));
    pane.group_of.push_back(group);
    pane.dirty.push_back(0);
    groups_.Ref(group);
    char* row = pane.row(r);
    *reinterpret_cast<int64_t*>(row) = 0;  // net number of records in the group
    for (const auto& a : plan_.aggregates) a.fn->Init(row + a.offset);
  }
  pane.dirty[r] = kChangedSinceFire | kChangedSinceEarly;
  pane.any_dirty = kChangedSinceFire | kChangedSinceEarly;
  return pane.row(r);
}

void WindowMetric::DropPane(std::map<Timestamp, Pane>::iterator it) {
  Pane& p = it->second;
  for (uint32_t r = 0; r < p.rows(); ++r) {
    char* row = p.row(r);
    for (const auto& a : plan_.aggregates)
      if (a.fn->has_destructor()) a.fn->Destroy(row + a.offset);
    groups_.Unref(p.group_of[r]);
  }
  panes_.erase(it);
}

WindowMetric::Input& WindowMetric::InputFor(uint32_t source, uint32_t partition) {
  for (auto& in : inputs_)
    if (in.source == source && in.partition == partition) return in;
  inputs_.push_back({source, partition, kMinTimestamp, Now(), false});
  return inputs_.back();
}

Timestamp WindowMetric::HeldAt(Timestamp now, const Input* except) const {
  // As Flink's watermark valve: inputs that ended or are idle do not hold the watermark back.
  // When no input is active, the watermark goes as far as the furthest any of them reached
  // (never back: AdvanceTo only raises it); +inf only once every input has ended.
  Timestamp m = kMaxTimestamp, reached = kMinTimestamp;
  bool active = false, all_ended = true;
  for (const auto& in : inputs_) {
    if (&in == except) continue;
    all_ended = all_ended && in.ended;
    if (in.ended || (plan_.idle_timeout && now - in.last_seen > *plan_.idle_timeout)) {
      reached = std::max(reached, in.max_time);
      continue;
    }
    active = true;
    m = std::min(m, in.max_time);
  }
  // `except` is the input being processed: it is active, and no other input holds it back.
  if (active || except || all_ended) return m;
  return reached;
}

// ---------------------------------------------------------------------------------------------
// Processing

namespace {
/// What Prepare computes for one batch: everything that needs no metric state.
struct Prepared final : runtime::PreparedState {
  std::vector<uint8_t> keep;      // passes `where` and has an event time
  std::vector<Timestamp> times;   // kMinTimestamp: no valid event time
  std::string keys;               // encoded group keys, back to back
  std::vector<uint32_t> key_end;  // end offset of record i's key in `keys`
  std::vector<Value> args;        // argument columns of every aggregate, n values each
  std::vector<uint8_t> owner;     // partitioned metrics: the shard owning record i's group
  // When most records are not kept (by the gate or by `where`), the records Apply visits: every
  // kept one, and of each run of others (which count for their event time alone) the last, its
  // time raised to the run's latest. Empty: every record.
  std::vector<uint32_t> steps;
  uint64_t invalid_time = 0;
};
}  // namespace

std::unique_ptr<runtime::PreparedState> WindowMetric::Prepare(Batch& batch) const {
  auto prep = std::make_unique<Prepared>();
  Prepared& p = *prep;
  const size_t n = batch.size();
  if (n == 0) return prep;
  Arena& arena = batch.arena();
  p.times.resize(n);
  // Records the decoder's gate filtered out (no metric wants them) count for time alone. When
  // they are most of the batch, `where`, keys and arguments are evaluated record by record for
  // the rest only (`sel`); otherwise a column at a time for all.
  const uint8_t* filtered = batch.filtered_count() ? batch.filtered_flags() : nullptr;
  const bool sparse = 2 * batch.filtered_count() >= n;
  std::vector<uint32_t> sel;
  if (filtered) {
    p.keep.resize(n);
    if (sparse) sel.reserve(n - batch.filtered_count());
    for (size_t i = 0; i < n; ++i) {
      p.keep[i] = !filtered[i];
      if (sparse && !filtered[i]) sel.push_back(static_cast<uint32_t>(i));
    }
  } else {
    p.keep.assign(n, 1);
  }
  // Evaluates `e` into out[i] for every record (dense) or every selected one (sparse).
  auto eval = [&](const expr::Program& e, Value* out) {
    if (!sparse) return e.EvalBatch(batch.values(), batch.width(), n, out, arena);
    for (uint32_t i : sel) out[i] = e.Eval(batch.row(i), arena);
  };
  std::vector<Value> col;  // a column of `where` or event-time values, when evaluated as one
  if (plan_.where && sparse) {
    for (uint32_t i : sel) p.keep[i] = plan_.where->Test(batch.row(i), arena);
  } else if (plan_.where) {
    col.resize(n);
    plan_.where->EvalBatch(batch.values(), batch.width(), n, col.data(), arena);
    for (size_t i = 0; i < n; ++i) p.keep[i] = p.keep[i] && col[i].is_bool() && col[i].as_bool();
  }
  const auto time_slot = plan_.event_time ? plan_.event_time->FieldSlot() : std::nullopt;
  if (const Timestamp* read = time_slot ? batch.times(*time_slot) : nullptr) {
    std::copy_n(read, n, p.times.begin());  // converted by the decoder
    auto check = [&](size_t i) {
      if (p.times[i] == kMinTimestamp && p.keep[i]) {
        p.keep[i] = 0;
        ++p.invalid_time;
      }
    };
    if (sparse) {
      for (uint32_t i : sel) check(i);
    } else {
      for (size_t i = 0; i < n; ++i) check(i);
    }
  } else if (plan_.event_time) {
    col.resize(n);
    plan_.event_time->EvalBatch(batch.values(), batch.width(), n, col.data(), arena);
    constexpr size_t kAhead = 8;  // the input bytes have usually left the cache since decoding
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) col[i + kAhead].PrefetchBytes();
      auto t = EventTimeOf(col[i]);
      p.times[i] = t ? *t : kMinTimestamp;
      if (!t && p.keep[i]) {
        p.keep[i] = 0;
        ++p.invalid_time;
      }
    }
  } else {
    std::fill(p.times.begin(), p.times.end(), batch.ingest_time ? batch.ingest_time : NowMillis());
  }
  if (sparse) std::erase_if(sel, [&](uint32_t i) { return !p.keep[i]; });  // what `where` and the event time left
  // A record that is not kept only raises its partition's latest time, which Apply reads before
  // each record it visits: when most are not kept, a run of them acts as its last with the run's
  // latest time. (Windows a run makes due then fire at the next record visited rather than inside
  // the run; no record of the run is folded, so what they emit is the same.)
  // (Without a gate, `where` or an invalid time, every record is kept: nothing to count.)
  const size_t kept = sparse ? sel.size()
                      : !filtered && !plan_.where && p.invalid_time == 0
                          ? n
                          : static_cast<size_t>(std::count(p.keep.begin(), p.keep.end(), 1));
  if (2 * kept < n) {
    p.steps.reserve(2 * kept + 1);
    Timestamp run_max = kMinTimestamp;
    uint32_t run_last = 0;
    for (uint32_t i = 0; i < n; ++i) {
      if (!p.keep[i]) {
        if (p.times[i] != kMinTimestamp) {
          run_max = std::max(run_max, p.times[i]);
          run_last = i;
        }
        continue;
      }
      if (run_max != kMinTimestamp) {
        p.times[run_last] = run_max;
        p.steps.push_back(run_last);
        run_max = kMinTimestamp;
      }
      p.steps.push_back(i);
    }
    if (run_max != kMinTimestamp) {
      p.times[run_last] = run_max;
      p.steps.push_back(run_last);
    }
  }
  // Group keys of the kept records, encoded.
  const size_t K = key_count_;
  std::vector<Value> keycols(n * K);
  for (size_t k = 0; k < K; ++k) eval(*plan_.group_by[k], keycols.data() + k * n);
  p.key_end.resize(n);
  p.keys.reserve((sparse ? sel.size() : n) * 8 * (K + 1));
  for (size_t i = 0; i < n; ++i) {
    if (p.keep[i])
      for (size_t k = 0; k < K; ++k) EncodeKey(keycols[k * n + i], p.keys);
    p.key_end[i] = static_cast<uint32_t>(p.keys.size());
  }
  if (shards_ > 1) {
    p.owner.assign(n, 0);
    for (size_t i = 0; i < n; ++i) {
      if (!p.keep[i]) continue;
      uint32_t kb = i ? p.key_end[i - 1] : 0;
      p.owner[i] = static_cast<uint8_t>(ShardOf(std::string_view(p.keys.data() + kb, p.key_end[i] - kb), shards_));
    }
  }
  // Aggregate arguments (of kept records; Apply reads no others).
  size_t cols = 0;
  for (const auto& a : plan_.aggregates) cols += a.args.size();
  p.args.resize(cols * n);
  size_t c = 0;
  for (const auto& a : plan_.aggregates)
    for (const auto& arg : a.args) eval(*arg, p.args.data() + (c++) * n);
  return prep;
}

void WindowMetric::Apply(Batch& batch, runtime::PreparedState* state, runtime::Emitter& out) {
  const size_t n = batch.size();
  if (n == 0) return;
  Prepared& p = *static_cast<Prepared*>(state);
  const Timestamp now = Now();
  const Timestamp watermark_before = watermark_;
  invalid_time_ += p.invalid_time;
  const std::vector<uint8_t>& keep = p.keep;
  const bool sharded = shards_ > 1;
  const std::vector<Timestamp>& times = p.times;

  // The watermark moves record by record. Records behind it whose last window is beyond the
  // allowed lateness go to the late output. Whenever it passes the end of a window with data,
  // or a record updates a window that already fired, the records so far are folded in and the
  // windows fire right there — so what is emitted does not depend on how input is batched.
  LateBatch late{&plan_.schema, {}};
  Input& in = InputFor(batch.origin.source, batch.origin.partition);
  in.last_seen = now;
  const Timestamp others = HeldAt(now, &in);
  Timestamp part_max = in.max_time;
  const bool session = plan_.window.kind == spec::WindowKind::kSession;
  const bool panes = plan_.window.kind != spec::WindowKind::kNone && !session;
  const bool event_time = plan_.event_time != nullptr;
  const Duration ps = pane_size();
  rows_.assign(n, nullptr);
  // The previous record's group, and its row in `last_pane`: a run of records of one group (one
  // currency, or a metric without group_by) skips the lookups. A row handed out by RowFor stays
  // marked changed until the next firing.
  std::string_view last_key;
  uint32_t last_group = UINT32_MAX;
  char* last_row = nullptr;
  Pane* last_pane = nullptr;
  auto key_of = [&](size_t i) {
    const uint32_t kb = i ? p.key_end[i - 1] : 0;
    return std::string_view(p.keys.data() + kb, p.key_end[i] - kb);
  };
  // The records visited, in order: every one, or (most of the batch not kept) those of p.steps.
  const uint32_t* steps = p.steps.empty() ? nullptr : p.steps.data();
  const size_t visits = steps ? p.steps.size() : n;
  auto visit = [&](size_t v) { return steps ? static_cast<size_t>(steps[v]) : v; };
  size_t s = 0;  // the visit in progress
  // Group lookups miss the cache when there are many groups: the key of the record kAhead
  // records ahead (of those kept and owned here) is prefetched as each one is looked up.
  constexpr size_t kAhead = 8;
  size_t ahead = 0, ahead_count = 0;  // next visit to prefetch; kept records it is ahead by
  auto prefetch_ahead = [&] {
    if (ahead <= s)
      ahead = s + 1, ahead_count = 0;
    else if (ahead_count > 0)
      --ahead_count;
    for (; ahead < visits && ahead_count < kAhead; ++ahead) {
      const size_t j = visit(ahead);
      if (!keep[j] || (sharded && p.owner[j] != shard_)) continue;  // not looked up here
      groups_.Prefetch(key_of(j));
      ++ahead_count;
    }
  };
  auto group_of = [&](size_t i) {
    const std::string_view key = key_of(i);
    if (key_count_ > 0) prefetch_ahead();
    if (last_group == UINT32_MAX || key != last_key) {
      last_group = groups_.Intern(key);
      last_key = key;
      last_row = nullptr;
    }
    return last_group;
  };
  size_t seg = 0;  // first record not yet folded into the aggregates
  auto fold = [&](size_t end) {
    if (end <= seg) return;
    size_t c = 0;
    for (const auto& a : plan_.aggregates) {
      const Value* argp[4] = {nullptr, nullptr, nullptr, nullptr};
      for (size_t k = 0; k < a.args.size(); ++k, ++c)
        if (k < 4) argp[k] = p.args.data() + c * n + seg;
      a.fn->Update({rows_.data() + seg, argp, batch.weights().data() + seg, times.data() + seg, end - seg}, a.offset);
    }
    seg = end;
  };
  // Emissions are tagged with (records folded so far, phase): a late update's re-emission
  // (phase 0) comes before the watermark advancing at the next record (phase 1).
  auto advance = [&](size_t upto, Timestamp wm, uint64_t phase) {
    fold(upto);
    in.max_time = part_max;
    tag_ = (static_cast<uint64_t>(upto) << 1) | phase;
    if (!late.records.empty()) {
      SendLate(late, out);
      late.records.clear();
    }
    AdvanceTo(wm, out);
    last_group = UINT32_MAX;  // firing may release groups and panes, and clears changed flags
    last_row = nullptr;
  };
  Pane* pane = nullptr;
  Timestamp pane_lo = kMaxTimestamp, pane_hi = kMinTimestamp;  // [start, end) of the last pane found
  for (s = 0; s < visits; ++s) {
    const size_t i = visit(s);
    Timestamp t = times[i];
    if (t == kMinTimestamp) continue;
    Timestamp wm = kMinTimestamp;
    if (event_time) {
      wm = std::max(watermark_, SatSub(std::min(others, part_max), plan_.watermark));
      if (wm > watermark_) {
        if ((session ? NextFireEnd() : next_fire_) <= wm) {
          advance(i, wm, 1);
          pane = nullptr;
        } else {
          // Nothing is due: the windows ending up to here hold no data. Keep the bookkeeping
          // current, so that the next records are judged against this watermark.
          watermark_ = wm;
          if (panes && wm != kMaxTimestamp) fired_upto_ = std::max(fired_upto_, AlignDown(wm, ps));
        }
      }
    }
    part_max = std::max(part_max, t);
    if (!keep[i]) continue;
    const bool mine = !sharded || p.owner[i] == shard_;
    // The pane of `t`: records come mostly in time order, so most fall in the previous one's
    // pane, without a division.
    Timestamp pane_start = 0;  // `none`: its one pane; sessions: unused
    if (panes) {
      if (t < pane_lo || t >= pane_hi) {
        pane_lo = PaneOf(t);
        pane_hi = SatAdd(pane_lo, ps);
      }
      pane_start = pane_lo;
    }
    if (panes && event_time && SatAdd(LastWindowEnd(pane_start), plan_.allowed_lateness) <= wm) {
      if (mine) {
        ++late_;
        late.records.push_back({t, WindowStart(pane_start + ps), wm, batch.raw(i), static_cast<uint32_t>(i)});
      }
      continue;
    }
    // Records of another shard's groups: sessions are per group, so they are that shard's
    // business alone; panes are shared by every group, so every shard keeps the same panes,
    // marks them changed and fires (and re-fires) the same windows at the same points.
    if (!mine && session) continue;
    bool updates_fired = false;
    if (session) {
      const uint32_t group = group_of(i);
      // A merge destroys a session that earlier records of this segment may point to.
      if (SessionMerges(group, t, wm)) fold(i);
      rows_[i] = AssignSession(group, t, batch.weight(i), wm);
      if (!rows_[i]) {  // behind the watermark beyond lateness, with no session to join
        ++late_;
        late.records.push_back({t, t, wm, batch.raw(i), static_cast<uint32_t>(i)});
        continue;
      }
      // Emit right after this record whatever it made due: a fired session it changed, rows
      // of sessions it merged or moved, or a session that ends behind the watermark (within
      // the lateness). So a session goes out at a point set by its own group's records and
      // the watermark alone, the same however the groups are split into shards.
      updates_fired = !dirty_fired_.empty() || !pending_deletions_.empty() || (event_time && NextFireEnd() <= wm);
    } else {
      if (!pane || pane->start != pane_start) pane = &PaneAt(pane_start);
      if (mine) {
        const uint32_t group = group_of(i);
        if (!last_row || last_pane != pane) {
          last_row = RowFor(*pane, group);
          last_pane = pane;
        }
        rows_[i] = last_row;
      } else {
        pane->any_dirty = kChangedSinceFire | kChangedSinceEarly;
      }
      updates_fired = panes && event_time && fired_upto_ != kMinTimestamp && pane_start + ps <= fired_upto_;
    }
    if (rows_[i]) *reinterpret_cast<int64_t*>(rows_[i]) += batch.weight(i);
    if (updates_fired) {
      advance(i + 1, watermark_, 0);
      pane = nullptr;
    }
  }
  fold(n);
  in.max_time = part_max;
  tag_ = (static_cast<uint64_t>(n) << 1) | 1;
  if (!late.records.empty()) SendLate(late, out);

  if (!event_time) return;  // processing time advances on the timer
  Timestamp held = HeldAt(now, nullptr);
  if (held != kMinTimestamp)
    AdvanceTo(held == kMaxTimestamp ? kMaxTimestamp : SatSub(held, plan_.watermark), out);
  else
    AdvanceTo(watermark_, out);
  if (watermark_ != watermark_before) watermark_moved_at_ = now;
}

void WindowMetric::EndPartition(uint32_t source, uint32_t partition, runtime::Emitter& out) {
  tag_ = 0;
  InputFor(source, partition).ended = true;
  const Timestamp now = Now(), watermark_before = watermark_;
  Timestamp held = HeldAt(now, nullptr);
  if (held == kMaxTimestamp) {
    AdvanceTo(kMaxTimestamp, out);
  } else if (held != kMinTimestamp && plan_.event_time) {
    AdvanceTo(SatSub(held, plan_.watermark), out);
  }
  if (watermark_ != watermark_before) watermark_moved_at_ = now;
}

void WindowMetric::OnTimer(Timestamp now, runtime::Emitter& out) {
  tag_ = 0;
  const Timestamp watermark_before = watermark_;
  if (!plan_.event_time) {
    bool all_ended =
        !inputs_.empty() && std::all_of(inputs_.begin(), inputs_.end(), [](const Input& i) { return i.ended; });
    AdvanceTo(all_ended ? kMaxTimestamp : SatSub(now, plan_.watermark), out);
  } else if (plan_.idle_timeout) {
    Timestamp held = HeldAt(now, nullptr);
    if (held != kMinTimestamp) AdvanceTo(held == kMaxTimestamp ? kMaxTimestamp : SatSub(held, plan_.watermark), out);
  }
  if (watermark_ != watermark_before) watermark_moved_at_ = now;
  Duration early = plan_.emit_early.value_or(plan_.window.kind == spec::WindowKind::kNone ? 1000 : 0);
  if (early > 0 && now - last_early_ >= early) {
    last_early_ = now;
    tag_ = 1;  // after what AdvanceTo fired
    EmitEarly(out);
  }
}

// ---------------------------------------------------------------------------------------------
// Firing

void WindowMetric::AdvanceTo(Timestamp wm, runtime::Emitter& out) {
  wm = std::max(wm, watermark_);
  if (plan_.window.kind == spec::WindowKind::kSession) {
    watermark_ = wm;
    FireSessions(wm, out);
    return;
  }
  // Windows that fired before and changed since (late records within the allowed lateness),
  // judged against the watermark before this advance, when those records arrived.
  EmitLateUpdates(out);
  watermark_ = wm;
  if (plan_.window.kind == spec::WindowKind::kNone) {
    if (wm == kMaxTimestamp && fired_upto_ != kMaxTimestamp) {
      FireWindow(kMaxTimestamp, true, 0, out);
      fired_upto_ = kMaxTimestamp;
    }
    for (auto& [s, p] : panes_) p.ClearDirty(kChangedSinceFire);
    next_fire_ = kMaxTimestamp;
    return;
  }
  const Duration ps = pane_size();
  while (true) {
    Timestamp e = NextFireEnd();
    if (e == kMaxTimestamp || e > wm) break;
    FireWindow(e, true, 0, out);
    fired_upto_ = e;
  }
  // Windows ending between the last fired one and the watermark hold no data (the loop above
  // would have fired them): count them as fired.
  if (wm != kMaxTimestamp && wm != kMinTimestamp) fired_upto_ = std::max(fired_upto_, AlignDown(wm, ps));
  // Every window fired so far has seen the current state of every pane.
  for (auto& [start, p] : panes_) p.ClearDirty(kChangedSinceFire);
  DropExpired();
  next_fire_ = NextFireEnd();
}

Timestamp WindowMetric::NextFireEnd() const {
  switch (plan_.window.kind) {
    case spec::WindowKind::kNone:
      return kMaxTimestamp;
    case spec::WindowKind::kSession:
      return open_heap_.empty() ? kMaxTimestamp : open_heap_.front().end;  // at or before the next end
    default:
      break;
  }
  if (panes_.empty()) return kMaxTimestamp;
  const Duration ps = pane_size();
  // The next window end after what has fired, and no earlier than the first window that
  // contains a pane with data.
  Timestamp e = fired_upto_ == kMinTimestamp ? panes_.begin()->first + ps : fired_upto_ + ps;
  auto it = panes_.lower_bound(WindowStart(e));
  if (it == panes_.end()) return kMaxTimestamp;
  if (it->first >= e) e = it->first + ps;
  return e;
}

void WindowMetric::EmitLateUpdates(runtime::Emitter& out) {
  if (fired_upto_ == kMinTimestamp || plan_.window.kind == spec::WindowKind::kNone) return;
  std::set<Timestamp> ends;
  const Duration ps = pane_size();
  for (auto& [start, p] : panes_) {
    if (start >= fired_upto_) break;
    if (!(p.any_dirty & kChangedSinceFire)) continue;
    for (Timestamp e = start + ps; e <= LastWindowEnd(start) && e <= fired_upto_; e += ps)
      if (WindowStart(e) <= start && SatAdd(e, plan_.allowed_lateness) > watermark_) ends.insert(e);
  }
  for (Timestamp e : ends) FireWindow(e, true, kChangedSinceFire, out);
  for (auto& [start, p] : panes_) {
    if (start >= fired_upto_) break;
    p.ClearDirty(kChangedSinceFire);
  }
}

void WindowMetric::EmitEarly(runtime::Emitter& out) {
  if (plan_.window.kind == spec::WindowKind::kSession) {
    EmitSessionsEarly(out);
    return;
  }
  if (plan_.window.kind == spec::WindowKind::kNone) {
    if (fired_upto_ == kMaxTimestamp) return;
    bool dirty = false;
    for (auto& [s, p] : panes_) dirty |= (p.any_dirty & kChangedSinceEarly) != 0;
    if (!dirty) return;
    FireWindow(kMaxTimestamp, false, kChangedSinceEarly, out);
    for (auto& [s, p] : panes_) p.ClearDirty(kChangedSinceEarly);
    return;
  }
  std::set<Timestamp> ends;
  const Duration ps = pane_size();
  for (auto& [start, p] : panes_) {
    if (!(p.any_dirty & kChangedSinceEarly)) continue;
    for (Timestamp e = start + ps; e <= LastWindowEnd(start); e += ps)
      if (e > fired_upto_ && WindowStart(e) <= start) ends.insert(e);
  }
  for (Timestamp e : ends) FireWindow(e, false, kChangedSinceEarly, out);
  for (auto& [start, p] : panes_) p.ClearDirty(kChangedSinceEarly);
}

void WindowMetric::FireWindow(Timestamp end, bool final, uint8_t only_dirty, runtime::Emitter& out, bool replace) {
  const bool none = plan_.window.kind == spec::WindowKind::kNone;
  replace = replace || plan_.schema.top_n;
  if (replace) only_dirty = 0;
  Timestamp ws = none ? kMinTimestamp : WindowStart(end);
  auto first = none ? panes_.begin() : panes_.lower_bound(ws);
  auto last = none ? panes_.end() : panes_.lower_bound(end);
  if (first == last) return;

  // Groups to emit, and the state row holding each: a pane's own, or the panes' rows of a group
  // merged into one state (in merged_, by position in fire_groups_).
  const Timestamp rev_key = none ? kMinTimestamp : ws;
  const bool seen = revisions_.count(rev_key) > 0;
  // Every window (and every step of a cumulative one) with the same start writes the same rows:
  // revisions count per start, so they only ever grow for a row.
  const uint64_t revision = seen ? revisions_[rev_key] + 1 : 1;
  std::vector<EmitItem>& emit = fire_items_;
  emit.clear();
  const bool single = std::next(first) == last;
  const uint32_t ss = plan_.state_size;
  if (single) {
    Pane& p = first->second;
    for (uint32_t r = 0; r < p.rows(); ++r)
      if (!only_dirty || (p.dirty[r] & only_dirty)) emit.push_back({p.group_of[r], p.row(r), ws, end, revision, false});
  } else {
    // Group ids are dense: a group's merged row is found by indexing merged_at_, not hashing.
    std::vector<uint32_t>& at = merged_at_;
    std::vector<uint32_t>& order = fire_groups_;
    if (at.size() < groups_.id_limit()) at.resize(groups_.id_limit(), kNotMerged);
    order.clear();
    for (auto it = first; it != last; ++it) {
      const Pane& p = it->second;
      for (uint32_t r = 0; r < p.rows(); ++r) {
        const uint32_t g = p.group_of[r];
        if ((!only_dirty || (p.dirty[r] & only_dirty)) && at[g] == kNotMerged) {
          at[g] = static_cast<uint32_t>(order.size());
          order.push_back(g);
        }
      }
    }
    merged_.resize(order.size() * ss);
    for (size_t i = 0; i < order.size(); ++i) {
      *reinterpret_cast<int64_t*>(merged_.data() + i * ss) = 0;
      for (const auto& a : plan_.aggregates) a.fn->Init(merged_.data() + i * ss + a.offset);
    }
    for (auto it = first; it != last; ++it) {
      Pane& p = it->second;
      for (uint32_t r = 0; r < p.rows(); ++r) {
        const uint32_t i = at[p.group_of[r]];
        if (i == kNotMerged) continue;
        char* dst = merged_.data() + static_cast<size_t>(i) * ss;
        *reinterpret_cast<int64_t*>(dst) =
            aggregate::AddCount(*reinterpret_cast<int64_t*>(dst), *reinterpret_cast<const int64_t*>(p.row(r)));
        for (const auto& a : plan_.aggregates) a.fn->Merge(dst + a.offset, p.row(r) + a.offset);
      }
    }
    for (size_t i = 0; i < order.size(); ++i) {
      emit.push_back({order[i], merged_.data() + i * ss, ws, end, revision, false});
      at[order[i]] = kNotMerged;
    }
  }

  // Groups whose records were all retracted are emitted as deletions (EmitItems).
  EmitItems(emit, final, /*sorted_window=*/true, replace && seen,
            replace ? std::optional<Timestamp>(none ? 0 : ws) : std::nullopt, out);
  if (!single) {
    for (size_t i = 0; i < fire_groups_.size(); ++i)
      for (const auto& a : plan_.aggregates)
        if (a.fn->has_destructor()) a.fn->Destroy(merged_.data() + i * ss + a.offset);
  }
  // A firing counts as a revision even when no row passed (`having`): whether a window fires
  // depends on its panes alone, which every shard of a partitioned metric shares, so all
  // shards agree on every window's revision.
  revisions_[rev_key] = revision;
}

bool WindowMetric::EmitItems(std::vector<EmitItem>& items, bool final, bool sorted_window, bool emit_if_empty,
                             std::optional<Timestamp> replaces, runtime::Emitter& out) {
  const uint32_t K = key_count_, S = select_count_, A = agg_count_;
  const uint32_t width = K + S + A;
  ResultBatch rb;
  rb.schema = &plan_.schema;
  // Keys of the rows that rank out of the top `limit` are never looked at when nothing that
  // ranks reads them: they are decoded for the rows that stay (keys_after_ranking_).
  const bool late_keys = sorted_window && keys_after_ranking_ && items.size() > static_cast<size_t>(plan_.limit);
  std::vector<Value>& all = emit_values_;              // width values per candidate row
  std::vector<uint32_t>& source = emit_source_;        // item index per candidate row
  std::vector<uint32_t>& deletions = emit_deletions_;  // items whose earlier row must go
  all.clear();
  source.clear();
  deletions.clear();
  all.reserve(items.size() * width);
  std::vector<Value> vals(width);
  for (uint32_t i = 0; i < items.size(); ++i) {
    const EmitItem& item = items[i];
    bool exists = !item.deleted && *reinterpret_cast<const int64_t*>(item.state) > 0;
    if (exists) {
      if (!late_keys) {
        std::string_view key = KeyFor(item.group, rb);
        for (uint32_t k = 0; k < K; ++k) vals[k] = DecodeKey(key, &rb.arena);
      }
      for (uint32_t a = 0; a < A; ++a)
        vals[K + S + a] = plan_.aggregates[a].fn->Finalize(item.state + plan_.aggregates[a].offset, rb.arena);
      for (uint32_t s = 0; s < S; ++s) vals[K + s] = plan_.selects[s]->Eval(vals.data(), rb.arena);
      exists = !plan_.having || plan_.having->Test(vals.data(), rb.arena);
    }
    if (!exists) {
      // Rows emitted before (revision > 1) and gone now are deleted, unless the whole window
      // is replaced anyway.
      if (!replaces && item.revision > 1) deletions.push_back(i);
      continue;
    }
    all.insert(all.end(), vals.begin(), vals.end());
    source.push_back(i);
  }

  size_t count = all.size() / width;
  std::vector<uint32_t>& order = emit_order_;
  order.resize(count);
  std::iota(order.begin(), order.end(), 0);
  if (sorted_window) {
    // Rows of a window go out in an order that depends on the data alone (not on arrival or
    // on how the state is partitioned): by order_by, then by group key. The key breaks every
    // tie, so the top `limit` are the same whoever picks them.
    auto before = [&](uint32_t x, uint32_t y) {
      for (const auto& [slot, desc] : plan_.order_by) {
        int c = CompareTotal(all[x * width + slot], all[y * width + slot]);
        if (c != 0) return desc ? c > 0 : c < 0;
      }
      return groups_.key(items[source[x]].group) < groups_.key(items[source[y]].group);
    };
    if (plan_.limit > 0 && order.size() > static_cast<size_t>(plan_.limit)) {
      std::partial_sort(order.begin(), order.begin() + plan_.limit, order.end(), before);
      order.resize(plan_.limit);
    } else {
      std::sort(order.begin(), order.end(), before);
    }
    std::sort(deletions.begin(), deletions.end(),
              [&](uint32_t x, uint32_t y) { return groups_.key(items[x].group) < groups_.key(items[y].group); });
  }
  if (late_keys) {
    for (uint32_t idx : order) {
      std::string_view key = KeyFor(items[source[idx]].group, rb);
      for (uint32_t k = 0; k < K; ++k) all[static_cast<size_t>(idx) * width + k] = DecodeKey(key, &rb.arena);
    }
  }
  if (order.empty() && deletions.empty() && !emit_if_empty && !shard_out_) return false;

  rb.cells.reserve(order.size() * (K + S) + deletions.size() * (K + S));
  rb.rows.reserve(order.size() + deletions.size());
  std::string state_buf;
  auto add_row = [&](const EmitItem& item, const Value* v, bool deleted) {
    if (!deleted && plan_.schema.windowed && item.state) {
      state_buf.clear();
      aggregate::PutI64(state_buf, *reinterpret_cast<const int64_t*>(item.state));
      for (const auto& a : plan_.aggregates) a.fn->Serialize(item.state + a.offset, state_buf);
    }
    size_t base = rb.cells.size();
    rb.cells.insert(rb.cells.end(), v, v + K + S);
    ResultRow row;
    row.window_start = item.start;
    row.window_end = item.end;
    row.seq = ++seq_;
    // A session row's key (its start) can be deleted and later written again by another
    // session: its sequence number is what only ever grows for a key.
    row.revision = plan_.window.kind == spec::WindowKind::kSession ? row.seq : item.revision;
    row.final = final;
    row.deleted = deleted;
    row.keys = rb.cells.data() + base;
    row.values = rb.cells.data() + base + K;
    if (!deleted && plan_.schema.windowed && item.state) row.state = rb.arena.Copy(state_buf);
    rb.rows.push_back(row);
  };
  for (uint32_t d : deletions) {
    std::string_view key = KeyFor(items[d].group, rb);
    for (uint32_t k = 0; k < K; ++k) vals[k] = DecodeKey(key, &rb.arena);
    for (uint32_t s = 0; s < S; ++s) vals[K + s] = Value::Null();
    add_row(items[d], vals.data(), true);
  }
  for (uint32_t idx : order) add_row(items[source[idx]], &all[static_cast<size_t>(idx) * width], false);
  if (replaces) rb.replaces.push_back(*replaces);
  emitted_rows_ += rb.rows.size();
  Send(rb, emit_if_empty, out);
  return true;
}

std::string_view WindowMetric::KeyFor(uint32_t group, ResultBatch& rb) const {
  // Decoded key strings point into the key bytes. A shard's batch is read after the call that
  // emitted it, when the group may be gone: it gets its own copy.
  std::string_view key = groups_.key(group);
  return shard_out_ ? rb.arena.Copy(key) : key;
}

void WindowMetric::Send(ResultBatch& rb, bool emit_if_empty, runtime::Emitter& out) {
  if (shard_out_) {
    shard_out_->Results(tag_, rb, emit_if_empty);
  } else {
    out.EmitResults(rb);
  }
}

void WindowMetric::SendLate(LateBatch& late, runtime::Emitter& out) {
  if (shard_out_) {
    shard_out_->Late(tag_, late);
  } else {
    out.EmitLate(late);
  }
}

uint32_t WindowMetric::ShardOf(std::string_view key, uint32_t shards) {
  return static_cast<uint32_t>(Hash64(key) % shards);
}

void WindowMetric::DropExpired() {
  if (plan_.window.kind == spec::WindowKind::kNone) return;
  while (!panes_.empty()) {
    auto it = panes_.begin();
    Timestamp last_end = LastWindowEnd(it->first);
    if (last_end > fired_upto_ || SatAdd(last_end, plan_.allowed_lateness) > watermark_) break;
    DropPane(it);
  }
  // A start's last window ends at start + size (for every pane-based kind).
  while (!revisions_.empty()) {
    Timestamp last_end = SatAdd(revisions_.begin()->first, plan_.window.size);
    if (SatAdd(last_end, plan_.allowed_lateness) > watermark_ || last_end > fired_upto_) break;
    revisions_.erase(revisions_.begin());
  }
}

}  // namespace weir::operators
