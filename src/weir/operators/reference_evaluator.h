// A brute-force reference for WindowMetric, used only by tests: it computes the FINAL result rows
// of a metric, and the row each (window, group) has when it first fires, from a stream of
// records by the plainest rules that define them, with no panes, no incremental states and no
// cleverness, so that randomized tests can compare the engine against it
// (window_reference_test.cc).
//
//   RefConfig config;
//   config.window = {spec::WindowKind::kSliding, 3000, 1000};
//   config.bound = 500;
//   config.partitions = 2;
//   config.aggregates = {{RefAgg::kCount}, {RefAgg::kSum}};
//   std::vector<RefStep> steps = {RefStep::Record(r0), RefStep::End(1), RefStep::Record(r1)};
//   RefResult expected = EvaluateReference(config, steps);   // expected.rows, .first, .late
//
// The rules (the engine's documented semantics, with the watermark exactly as
// WindowMetric::Apply computes it):
//
// Watermark. For partition q let M_q be the largest event time of the records of q seen BEFORE
// the current record (-inf if none yet; +inf once q has ended). The watermark against which
// record i (of partition p) is judged is
//     W_i = max(W_{i-1}, min_q M_q - bound)
// where the minimum includes p's own maximum over its earlier records but NOT record i itself
// (Apply computes `max(watermark_, SatSub(min(others, part_max), bound))` before it folds the
// record's time into part_max; record i's own time could not change any decision about record i,
// whose windows all end after t). Records that fail `where` still advance M_q. Ending partitions
// never lowers it; when all have ended it is +inf and everything fires.
//
// Idle inputs (config.idle_timeout). Wall-clock time is modelled as phases: a Pause step moves
// the clock past idle_timeout and runs the metric's timer. In a phase, partition q is IDLE if it
// has sent no record in that phase (the partition of the current record never is), and ended or
// idle partitions drop out of the minimum above. After every record, end and pause the
// watermark also settles to the minimum over the active partitions (as the engine does at the
// end of a batch, at EndPartition and on its timer); when none is active and not all have
// ended, to the largest M_q of any (minus the bound) — Flink's rule: idle inputs do not hold
// the watermark back, and when all are idle it goes as far as the furthest reached. W never
// decreases. Without idle_timeout every partition is active until it ends, and settling
// changes nothing: the next record's W_i is the same.
//
// Pane-based windows (tumbling, sliding, cumulative). The windows of a record at t:
//   tumbling(size)          [floor(t/size)*size, +size)
//   sliding(size, every)    every [s, s+size) with s a multiple of `every` and s <= t < s+size
//   cumulative(size, every) [d, d+k*every) for k = 1..size/every with d+k*every > t, d = floor(t/size)*size
// A record is LATE (counted, not aggregated) iff lastWindowEnd(t) + allowed_lateness <= W_i.
// Otherwise it contributes to each of its windows w that is still open to late data,
// w.end + allowed_lateness > W_i (a window already closed beyond the lateness keeps the rows it
// emitted). A cumulative window [d, d+k*every) shares its row key (d, group) with every other
// step, and the full window [d, d+size) is emitted last, so the final row of (d, group) is the
// full window's.
//
// window: none. One global window [-inf, +inf) holding every record that passes `where`;
// nothing is late. Its rows are keyed by window_start = kMinTimestamp, window_end = kMaxTimestamp.
//
// Sessions (gap). Per group, a live session is an interval [start, end) with the records that
// joined it. Before record i, every live session with end + allowed_lateness <= W_i is closed
// for good: its row is final. Record i (passing `where`) joins every live session of its group
// that overlaps [t, t+gap) — they merge into one whose interval is the union with [t, t+gap);
// a retraction joins like an insert, and sessions never split. (This rule is taken from the
// engine, so the tests do not check it: retracting the record that bridged two sessions leaves
// one session, where a definition over the net records would give two.) If none overlaps, the
// record is late when it is a retraction or when t + gap + allowed_lateness <= W_i, and
// otherwise starts a new session [t, t+gap). A row is keyed by (session start, group), window_end = session end.
//
// Aggregates over the records of a (window, group), weights +1/-1: see RefAgg. A group whose net
// record count is <= 0 has no row.
//
// The result is the final state an upserting store would hold: one row per (window_start,
// group). Late records are counted in RefResult::late.
//
// First firing (RefResult::first). A (window, group) is first emitted as final when the
// watermark reaches the window's end (end <= W: before the first record i with W_i >= end, or
// at the end of input), with the records that joined it before that: those with W_i < end.
// If it then has no row (no records, or a net count <= 0), the first final row is the one
// after the first later record (within the lateness, so joining it) that gives it a positive
// net count: the engine re-emits a fired window right after each record that changes it.
// Each step [d, d+k*every) of a cumulative window is a window of its own here. A session is
// first emitted under its key (start, group) at the first point, checked before each record
// and at the end of input, where it ends at or before the watermark with a positive net
// count: when it fires; when a record joins it behind the watermark (a new session, or one
// merged or moved to an earlier start, which takes a new key); or, if a late record extended
// a fired session past the watermark, when the watermark reaches its new end.
// Not modelled: the rows re-emitted between the first and the last (the harness checks only
// that their revisions grow), early rows, and deletions (the engine also deletes rows it never
// emitted; see FirstRow in the harness); nor `having` / `order_by` + `limit`, which the random
// metrics do not use (under a top-N a group's row depends on the others' and is re-ranked).
#pragma once

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "weir/base/time.h"
#include "weir/spec/spec.h"

namespace weir::operators {

/// A scalar as the reference sees it: numbers are one kind (7 and 7.0 are the same value).
struct RefValue {
  enum class Kind { kNull, kBool, kNumber, kString, kJson };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;  ///< kString, kJson

  static RefValue Null() { return {}; }
  static RefValue Bool(bool b) {
    RefValue v;
    v.kind = Kind::kBool;
    v.boolean = b;
    return v;
  }
  static RefValue Number(double d) {
    RefValue v;
    v.kind = Kind::kNumber;
    v.number = d;
    return v;
  }
  static RefValue String(std::string_view s) {
    RefValue v;
    v.kind = Kind::kString;
    v.text = s;
    return v;
  }
  static RefValue Json(std::string_view s) {
    RefValue v;
    v.kind = Kind::kJson;
    v.text = s;
    return v;
  }
  bool is_null() const { return kind == Kind::kNull; }
  bool is_number() const { return kind == Kind::kNumber; }

  /// Total order: null < bool < numbers (by value) < strings (by bytes) < json.
  friend int Compare(const RefValue& a, const RefValue& b) {
    if (a.kind != b.kind) return static_cast<int>(a.kind) < static_cast<int>(b.kind) ? -1 : 1;
    switch (a.kind) {
      case Kind::kNull:
        return 0;
      case Kind::kBool:
        return a.boolean == b.boolean ? 0 : (a.boolean ? 1 : -1);
      case Kind::kNumber:
        return a.number < b.number ? -1 : (b.number < a.number ? 1 : 0);
      default:
        return a.text.compare(b.text) < 0 ? -1 : (a.text == b.text ? 0 : 1);
    }
  }
  friend bool operator<(const RefValue& a, const RefValue& b) { return Compare(a, b) < 0; }
  friend bool operator==(const RefValue& a, const RefValue& b) { return Compare(a, b) == 0; }

  std::string ToString() const {
    switch (kind) {
      case Kind::kNull:
        return "null";
      case Kind::kBool:
        return boolean ? "true" : "false";
      case Kind::kNumber:
        return fmt::format("{}", number);
      case Kind::kString:
        return "\"" + text + "\"";
      case Kind::kJson:
        return text;
    }
    return "?";
  }
};

/// The number a value stands for in sum/avg/percentile: numbers, and strings that are wholly a
/// number ("12", "-3.5"); anything else none.
inline std::optional<double> RefNumeric(const RefValue& v) {
  if (v.is_number()) return v.number;
  if (v.kind != RefValue::Kind::kString || v.text.empty()) return std::nullopt;
  const char* b = v.text.data();
  const char* e = b + v.text.size();
  if (*b == '+') ++b;
  double d = 0;
  auto r = std::from_chars(b, e, d);
  if (r.ec != std::errc() || r.ptr != e || !std::isfinite(d)) return std::nullopt;
  return d;
}

/// One decoded record (a change envelope's row).
struct RefRecord {
  uint32_t partition = 0;
  Timestamp time = 0;
  int weight = 1;  ///< +1 insert, -1 retraction of an identical earlier insert
  bool passes_where = true;
  RefValue group;        ///< the group key
  RefValue value;        ///< x of the aggregates
  RefValue flag;         ///< the condition of count_if / sum_if (counts when it is true)
  uint64_t arrival = 0;  ///< position in the stream (set by EvaluateReference)
};

/// A step of the input: a record, the end of a partition, or a pause (idle_timeout passes with
/// no record, then the metric's timer runs).
struct RefStep {
  bool end_partition = false;
  bool pause = false;
  uint32_t partition = 0;
  RefRecord record;
  static RefStep Record(RefRecord r) {
    RefStep s;
    s.partition = r.partition;
    s.record = std::move(r);
    return s;
  }
  static RefStep Pause() {
    RefStep s;
    s.pause = true;
    return s;
  }
  static RefStep End(uint32_t partition) {
    RefStep s;
    s.end_partition = true;
    s.partition = partition;
    return s;
  }
};

/// The aggregate functions, over the records of a (window, group) with their weights:
enum class RefAgg {
  kCount,           ///< sum of weights
  kCountIf,         ///< sum of weights of records whose flag is true
  kSum,             ///< sum of weight * number over numeric values; null if their net count <= 0
  kSumIf,           ///< the same over records whose flag is true
  kAvg,             ///< that sum / that net count; null if the count <= 0
  kMin,             ///< smallest non-null value with a net positive count (numbers < strings;
                    ///< a numeric string counts as its number, as in kSum)
  kMax,             ///< largest such value
  kFirst,           ///< non-null value at the earliest event time, earliest arrival on ties (insert-only)
  kLast,            ///< non-null value at the latest event time, latest arrival on ties (insert-only)
  kCountDistinct,   ///< distinct non-null values with a net positive count
  kApproxDistinct,  ///< the same, within 3 standard errors of HyperLogLog p=14 (insert-only)
  kPercentile,      ///< numeric value of rank floor(q*(n-1)) in sorted order, within 1% (DDSketch)
  kTopK,            ///< the k most counted non-null values, count descending, then value ascending
};

struct RefAggregate {
  RefAgg fn = RefAgg::kCount;
  double q = 0.5;  ///< kPercentile
  int k = 3;       ///< kTopK
};

struct RefConfig {
  spec::WindowSpec window;  ///< kind, size (session: gap), every
  Duration bound = 0;
  Duration lateness = 0;
  uint32_t partitions = 1;
  /// idle_timeout is set: between pauses (RefStep::Pause) a partition that has sent nothing is
  /// idle.
  bool idle_timeout = false;
  std::vector<RefAggregate> aggregates;
};

/// An expected result cell.
struct RefCell {
  RefValue value;
  /// For numbers: the largest acceptable |actual - value| (rounding, sketch error).
  double tolerance = 0;
  bool is_top = false;  ///< top_k: compare `top` instead of `value`
  std::vector<std::pair<RefValue, int64_t>> top;
};

struct RefRow {
  Timestamp window_start = 0, window_end = 0;
  RefValue group;
  int64_t count = 0;           ///< net records
  std::vector<RefCell> cells;  ///< one per aggregate, in order
};

using RefKey = std::pair<Timestamp, RefValue>;  ///< (window_start, group)
/// (window_start, window_end, group) of a window, each step of a cumulative window its own;
/// (session start, 0, group) of a session, whose end moves as it grows.
using RefFireKey = std::tuple<Timestamp, Timestamp, RefValue>;

struct RefResult {
  std::map<RefKey, RefRow> rows;
  /// The row each (window, group) has when it is first emitted as final (see "First firing" in
  /// the header comment); a key missing here is never emitted as final.
  std::map<RefFireKey, RefRow> first;
  uint64_t late = 0;
  /// Things the test should print if the comparison fails (e.g. two sessions of one group that
  /// start at the same instant and so share a row key).
  std::vector<std::string> notes;
};

// ---------------------------------------------------------------------------------------------

namespace ref_detail {

inline Timestamp FloorTo(Timestamp t, Duration size) {
  Timestamp r = t % size;
  return r < 0 ? t - r - size : t - r;
}

/// Per-partition maxima and the watermark, as defined in the header comment.
class Watermark {
 public:
  Watermark(uint32_t partitions, Duration bound, bool idle_timeout = false)
      : max_(partitions, kMinTimestamp),
        heard_(partitions, 0),
        ended_(partitions, false),
        bound_(bound),
        idle_timeout_(idle_timeout) {}
  void End(uint32_t p) {
    ended_[p] = true;
    Settle();
  }
  /// The clock jumps past idle_timeout and the timer runs: every partition is idle until it
  /// sends again.
  void Pause() {
    ++phase_;
    Settle();
  }
  /// The watermark record i of partition p is judged against: p's own maximum is over its
  /// earlier records; p is active (it is sending), other partitions count unless ended or idle.
  Timestamp Before(uint32_t p) {
    heard_[p] = phase_;
    Timestamp m = max_[p];
    for (size_t q = 0; q < max_.size(); ++q)
      if (q != p && Active(q)) m = std::min(m, max_[q]);
    wm_ = std::max(wm_, SatSub(m, bound_));
    return wm_;
  }
  void Saw(uint32_t p, Timestamp t) {
    max_[p] = std::max(max_[p], t);
    Settle();
  }

 private:
  bool Active(size_t q) const { return !ended_[q] && (!idle_timeout_ || heard_[q] == phase_); }
  /// After a record, an end or a pause: the minimum over active partitions; with none active,
  /// +inf if all ended, else the largest maximum of any.
  void Settle() {
    Timestamp m = kMaxTimestamp, reached = kMinTimestamp;
    bool active = false, all_ended = true;
    for (size_t q = 0; q < max_.size(); ++q) {
      all_ended = all_ended && ended_[q];
      if (Active(q)) {
        active = true;
        m = std::min(m, max_[q]);
      } else {
        reached = std::max(reached, max_[q]);
      }
    }
    wm_ = std::max(wm_, SatSub(active || all_ended ? m : reached, bound_));
  }

  std::vector<Timestamp> max_;
  std::vector<uint64_t> heard_;  ///< the phase (clock between pauses) of each partition's last record
  std::vector<bool> ended_;
  Duration bound_;
  bool idle_timeout_;
  uint64_t phase_ = 0;
  Timestamp wm_ = kMinTimestamp;
};

inline bool FlagTrue(const RefRecord& r) { return r.flag.kind == RefValue::Kind::kBool && r.flag.boolean; }

/// Net count of each distinct non-null value.
inline std::map<RefValue, int64_t> ValueCounts(const std::vector<const RefRecord*>& recs) {
  std::map<RefValue, int64_t> counts;
  for (const RefRecord* r : recs)
    if (!r->value.is_null()) counts[r->value] += r->weight;
  return counts;
}

inline RefCell SumLike(const std::vector<const RefRecord*>& recs, bool conditional, bool average) {
  double sum = 0, scale = 0;
  int64_t n = 0;
  for (const RefRecord* r : recs) {
    if (conditional && !FlagTrue(*r)) continue;
    auto x = RefNumeric(r->value);
    if (!x) continue;
    sum += r->weight * *x;
    scale += std::fabs(*x);
    n += r->weight;
  }
  RefCell c;
  if (n <= 0) return c;
  c.value = RefValue::Number(average ? sum / static_cast<double>(n) : sum);
  if (average) scale /= static_cast<double>(n);
  c.tolerance = 1e-9 * std::max(1.0, scale);
  return c;
}

inline RefCell Aggregate(const RefAggregate& agg, const std::vector<const RefRecord*>& recs) {
  RefCell c;
  switch (agg.fn) {
    case RefAgg::kCount:
    case RefAgg::kCountIf: {
      int64_t n = 0;
      for (const RefRecord* r : recs)
        if (agg.fn == RefAgg::kCount || FlagTrue(*r)) n += r->weight;
      c.value = RefValue::Number(static_cast<double>(n));
      return c;
    }
    case RefAgg::kSum:
      return SumLike(recs, false, false);
    case RefAgg::kSumIf:
      return SumLike(recs, true, false);
    case RefAgg::kAvg:
      return SumLike(recs, false, true);
    case RefAgg::kMin:
    case RefAgg::kMax: {
      std::optional<RefValue> best;
      std::map<RefValue, int64_t> counts;
      for (const auto& [v, n] : ValueCounts(recs)) {
        auto x = RefNumeric(v);
        counts[x ? RefValue::Number(*x) : v] += n;
      }
      for (const auto& [v, n] : counts) {
        if (n <= 0) continue;
        if (!best || (agg.fn == RefAgg::kMin ? v < *best : *best < v)) best = v;
      }
      if (best) c.value = *best;
      return c;
    }
    case RefAgg::kFirst:
    case RefAgg::kLast: {
      const RefRecord* best = nullptr;
      for (const RefRecord* r : recs) {
        if (r->value.is_null() || r->weight < 0) continue;
        if (!best) {
          best = r;
        } else if (agg.fn == RefAgg::kFirst) {
          if (r->time < best->time || (r->time == best->time && r->arrival < best->arrival)) best = r;
        } else {
          if (r->time > best->time || (r->time == best->time && r->arrival > best->arrival)) best = r;
        }
      }
      if (best) c.value = best->value;
      return c;
    }
    case RefAgg::kCountDistinct:
    case RefAgg::kApproxDistinct: {
      int64_t n = 0;
      for (const auto& [v, cnt] : ValueCounts(recs)) n += cnt > 0;
      c.value = RefValue::Number(static_cast<double>(n));
      // HyperLogLog p = 14: standard error 1.04 / sqrt(2^14) = 0.81%; allow three of them.
      if (agg.fn == RefAgg::kApproxDistinct) c.tolerance = 3 * 0.0081 * static_cast<double>(n);
      return c;
    }
    case RefAgg::kPercentile: {
      std::map<double, int64_t> counts;
      for (const RefRecord* r : recs)
        if (auto x = RefNumeric(r->value)) counts[*x] += r->weight;
      std::vector<double> sorted;
      for (const auto& [x, n] : counts)
        for (int64_t i = 0; i < n; ++i) sorted.push_back(x);
      if (sorted.empty()) return c;
      auto rank = static_cast<size_t>(std::floor(agg.q * static_cast<double>(sorted.size() - 1)));
      double x = sorted[rank];
      c.value = RefValue::Number(x);
      c.tolerance = 0.01 * std::fabs(x) + 1e-12;  // DDSketch, relative accuracy 1%
      return c;
    }
    case RefAgg::kTopK: {
      c.is_top = true;
      for (const auto& [v, n] : ValueCounts(recs))
        if (n > 0) c.top.emplace_back(v, n);
      std::stable_sort(c.top.begin(), c.top.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
      if (c.top.size() > static_cast<size_t>(agg.k)) c.top.resize(static_cast<size_t>(agg.k));
      return c;
    }
  }
  return c;
}

/// The row of a (window, group), or nothing if its net record count is not positive.
inline std::optional<RefRow> MakeRow(const RefConfig& config, Timestamp start, Timestamp end, const RefValue& group,
                                     const std::vector<const RefRecord*>& recs) {
  RefRow row{start, end, group, 0, {}};
  for (const RefRecord* r : recs) row.count += r->weight;
  if (row.count <= 0) return std::nullopt;
  for (const auto& a : config.aggregates) row.cells.push_back(Aggregate(a, recs));
  return row;
}

/// The windows [start, end) that hold a record at t.
inline std::vector<std::pair<Timestamp, Timestamp>> WindowsOf(const spec::WindowSpec& w, Timestamp t) {
  std::vector<std::pair<Timestamp, Timestamp>> out;
  switch (w.kind) {
    case spec::WindowKind::kTumbling: {
      Timestamp s = FloorTo(t, w.size);
      out.emplace_back(s, s + w.size);
      break;
    }
    case spec::WindowKind::kSliding:
      for (Timestamp s = FloorTo(t, w.every); s > t - w.size; s -= w.every) out.emplace_back(s, s + w.size);
      break;
    case spec::WindowKind::kCumulative: {
      Timestamp d = FloorTo(t, w.size);
      for (Timestamp k = 1; k <= w.size / w.every; ++k)
        if (d + k * w.every > t) out.emplace_back(d, d + k * w.every);
      break;
    }
    default:
      out.emplace_back(kMinTimestamp, kMaxTimestamp);
  }
  return out;
}

inline RefResult EvaluatePanes(const RefConfig& config, const std::vector<RefStep>& steps) {
  RefResult result;
  Watermark wm(config.partitions, config.bound, config.idle_timeout);
  const bool none = config.window.kind == spec::WindowKind::kNone;
  // (start, end) -> group -> records
  std::map<std::pair<Timestamp, Timestamp>, std::map<RefValue, std::vector<const RefRecord*>>> windows;
  // (end, start, group) of each (window, group) not emitted yet that records joined since the
  // watermark was last compared with its end.
  std::set<std::tuple<Timestamp, Timestamp, RefValue>> pending;
  // What fires before a record judged against `w` (or at the end of input): the rows of every
  // pending (window, group) that ends at or before `w` and has records.
  auto fire = [&](Timestamp w) {
    while (!pending.empty() && std::get<0>(*pending.begin()) <= w) {
      const auto [e, s, g] = *pending.begin();
      pending.erase(pending.begin());
      if (auto row = MakeRow(config, s, e, g, windows[{s, e}][g])) result.first[{s, e, g}] = std::move(*row);
    }
  };
  for (const RefStep& step : steps) {
    if (step.pause) {
      wm.Pause();
      continue;
    }
    if (step.end_partition) {
      wm.End(step.partition);
      continue;
    }
    const RefRecord& r = step.record;
    const Timestamp w = wm.Before(r.partition);
    fire(w);
    wm.Saw(r.partition, r.time);
    if (!r.passes_where) continue;
    auto ws = WindowsOf(config.window, r.time);
    Timestamp last_end = kMinTimestamp;
    for (const auto& [s, e] : ws) last_end = std::max(last_end, e);
    if (!none && SatAdd(last_end, config.lateness) <= w) {
      ++result.late;
      continue;
    }
    for (const auto& [s, e] : ws) {
      if (!none && SatAdd(e, config.lateness) <= w) continue;
      windows[{s, e}][r.group].push_back(&r);
      if (!result.first.count({s, e, r.group})) pending.insert({e, s, r.group});
    }
  }
  fire(kMaxTimestamp);  // every partition has ended
  for (const auto& [bounds, groups] : windows) {
    const auto [s, e] = bounds;
    // Cumulative: only the full window's row survives under the shared key (d, group).
    if (config.window.kind == spec::WindowKind::kCumulative && e - s != config.window.size) continue;
    for (const auto& [g, recs] : groups)
      if (auto row = MakeRow(config, s, e, g, recs)) result.rows[{s, g}] = std::move(*row);
  }
  return result;
}

inline RefResult EvaluateSessions(const RefConfig& config, const std::vector<RefStep>& steps) {
  struct Session {
    Timestamp start, end;
    std::vector<const RefRecord*> recs;
    bool changed = true;  ///< since the watermark was last compared with its end
  };
  RefResult result;
  Watermark wm(config.partitions, config.bound, config.idle_timeout);
  const Duration gap = config.window.size;
  std::map<RefValue, std::vector<Session>> live;
  std::set<RefKey> closed_keys;
  auto close = [&](const RefValue& g, const Session& s) {
    RefKey key{s.start, g};
    if (!closed_keys.insert(key).second)
      result.notes.push_back(
          fmt::format("two sessions of group {} start at {}: they share a row key", g.ToString(), s.start));
    if (auto row = MakeRow(config, s.start, s.end, g, s.recs)) {
      result.rows[key] = std::move(*row);
    } else {
      result.rows.erase(key);
    }
  };
  // What fires before a record judged against `w` (or at the end of input): the row of every
  // session that ends at or before `w`, changed since last time, and was not emitted under its
  // key (start, group) before.
  auto fire = [&](Timestamp w) {
    for (auto& [g, sessions] : live) {
      for (Session& s : sessions) {
        if (!s.changed || s.end > w) continue;
        s.changed = false;
        if (result.first.count({s.start, 0, g})) continue;
        if (auto row = MakeRow(config, s.start, s.end, g, s.recs)) result.first[{s.start, 0, g}] = std::move(*row);
      }
    }
  };
  for (const RefStep& step : steps) {
    if (step.pause) {
      wm.Pause();
      continue;
    }
    if (step.end_partition) {
      wm.End(step.partition);
      continue;
    }
    const RefRecord& r = step.record;
    const Timestamp w = wm.Before(r.partition);
    wm.Saw(r.partition, r.time);
    fire(w);
    for (auto& [g, sessions] : live) {
      for (auto it = sessions.begin(); it != sessions.end();) {
        if (SatAdd(it->end, config.lateness) <= w) {
          close(g, *it);
          it = sessions.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (!r.passes_where) continue;
    const Timestamp t_end = SatAdd(r.time, gap);
    auto& sessions = live[r.group];
    Session joined{r.time, t_end, {}};
    bool any = false;
    for (auto it = sessions.begin(); it != sessions.end();) {
      if (t_end > it->start && r.time < it->end) {
        any = true;
        joined.start = std::min(joined.start, it->start);
        joined.end = std::max(joined.end, it->end);
        joined.recs.insert(joined.recs.end(), it->recs.begin(), it->recs.end());
        it = sessions.erase(it);
      } else {
        ++it;
      }
    }
    if (!any && (r.weight < 0 || SatAdd(t_end, config.lateness) <= w)) {
      ++result.late;
      continue;
    }
    joined.recs.push_back(&r);
    sessions.push_back(std::move(joined));
  }
  // End of input: every session still live fires and is final.
  fire(kMaxTimestamp);
  for (const auto& [g, sessions] : live)
    for (const Session& s : sessions) close(g, s);
  return result;
}

}  // namespace ref_detail

/// The final rows of a metric over `steps` (which should end every partition), and the number
/// of late records, by the rules in the header comment.
inline RefResult EvaluateReference(const RefConfig& config, std::vector<RefStep> steps) {
  uint64_t arrival = 0;
  for (RefStep& s : steps) s.record.arrival = arrival++;
  if (config.window.kind == spec::WindowKind::kSession) return ref_detail::EvaluateSessions(config, steps);
  return ref_detail::EvaluatePanes(config, steps);
}

}  // namespace weir::operators
