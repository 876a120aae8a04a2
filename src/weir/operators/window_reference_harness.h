// Running WindowMetric on generated streams (window_reference_input.h) and comparing what it
// emits with the reference: feeding in several batchings, with several state shards and through
// a checkpoint; collecting the emitted rows as an upserting store would; comparing, shrinking a
// failing stream and describing it; running a series of random trials.
//
// Internal to window_reference_test.cc (one translation unit includes it).
#pragma once

#include <gtest/gtest.h>

#include <charconv>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "weir/codec/json_decoder.h"
#include "weir/operators/sharded_metric.h"
#include "weir/operators/window_reference_input.h"

namespace weir::operators {
namespace {

// ---- running the engine ----------------------------------------------------------------------

enum class Batching { kRuns, kRandom, kSingle };

std::string_view BatchingName(Batching b) {
  switch (b) {
    case Batching::kRuns:
      return "each run of a partition's lines as one batch";
    case Batching::kRandom:
      return "random-sized batches";
    case Batching::kSingle:
      return "one line per batch";
  }
  return "?";
}

/// How the engine is fed, and which revision rule its output must follow.
struct RunOptions {
  Batching batching = Batching::kSingle;
  /// Revisions must increase per row key (window_start, group). The relaxations below were
  /// needed by engine bugs since fixed (the WindowReferenceRegression tests pin them); they
  /// stay off.
  bool revisions_per_step = false;
  bool revision_restarts_after_deletion = false;
  /// A third: a cumulative window whose group lost all its records after an earlier step was
  /// emitted leaves that step's row in place (the full window emits no deletion). Such rows
  /// (window_end short of start + size, for a key the reference has no row for) are ignored.
  bool ignore_stale_cumulative_steps = false;
  /// Shards of the metric's state (the pipeline's workers).
  uint32_t shards = 1;
  /// If set: after this many input lines, save the state, restore it into a new metric with
  /// `restore_shards` shards, and go on with that one.
  std::optional<size_t> restore_after;
  uint32_t restore_shards = 1;
};

RunOptions OptionsFor(spec::WindowKind kind, Batching batching) {
  RunOptions o;
  o.batching = batching;
  return o;
}

RefValue ToRef(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull:
      return RefValue::Null();
    case ValueType::kBool:
      return RefValue::Bool(v.as_bool());
    case ValueType::kInt:
      return RefValue::Number(static_cast<double>(v.as_int()));
    case ValueType::kDouble:
      return RefValue::Number(v.as_double());
    case ValueType::kString:
      return RefValue::String(v.as_string());
    case ValueType::kJson:
      return RefValue::Json(v.as_string());
    case ValueType::kTimestamp:
      return RefValue::Json(FormatIso8601(v.as_time()));
  }
  return RefValue::Null();
}

struct EngineRow {
  Timestamp window_end = 0;
  std::vector<RefValue> values;
};

/// The first final row emitted for a (window, group) that is not a deletion. (Deletions before
/// it are not compared: the engine also deletes rows it never emitted — a window or session
/// whose records were all retracted before it fired, when it is emitted again — which an
/// upserting store ignores.)
struct FirstRow {
  Timestamp window_end = 0;
  uint64_t revision = 0;
  std::vector<RefValue> values;
};

struct EngineResult {
  std::map<RefKey, EngineRow> rows;  // the final state: last final row per key, deletions applied
  /// The first final row of each (window_start, window_end, group), or for sessions
  /// (start, 0, group): RefResult::first's keys.
  std::map<RefFireKey, FirstRow> first;
  uint64_t late_counter = 0;          // late_records()
  uint64_t late_emitted = 0;          // records sent to the late output
  uint64_t deletions = 0;             // deletion rows emitted
  uint64_t updates = 0;               // rows emitted again for a key already emitted
  std::vector<std::string> problems;  // broken invariants (revisions, decoding, planning)
  /// Everything emitted, in order: one line per result batch, row and late record.
  std::vector<std::string> emitted;
};

/// Applies emitted rows to a final state the way an upserting store does, and checks revisions.
struct StateCollector : runtime::Emitter {
  EngineResult* result = nullptr;
  RunOptions options;
  bool sessions = false;  // first rows are keyed by (start, 0, group)
  struct Last {
    uint64_t revision;
    bool deleted;
  };
  std::map<std::tuple<Timestamp, Timestamp, RefValue>, Last> last;

  void EmitResults(ResultBatch& b) override {
    std::string head = "batch";
    for (Timestamp w : b.replaces) head += fmt::format(" replaces {}", w);
    result->emitted.push_back(head);
    for (const ResultRow& row : b.rows) {
      std::string line = fmt::format("seq {} rev {}{} ", row.seq, row.revision, row.deleted ? " deleted" : "");
      AppendResultJson(*b.schema, row, line);
      // The state's bytes list set members in hash-table order, which is not the same in two
      // tables holding the same members: its length must agree, its content is the values'.
      line += fmt::format(" state of {} bytes", row.state.size());
      result->emitted.push_back(std::move(line));
    }
    for (const ResultRow& row : b.rows) {
      if (!row.final) continue;  // early rows are not required
      RefValue group = ToRef(row.keys[0]);
      auto [first, added] = row.deleted
                                ? std::make_pair(result->first.end(), false)
                                : result->first.try_emplace({row.window_start, sessions ? 0 : row.window_end, group},
                                                            FirstRow{row.window_end, row.revision, {}});
      if (added)
        for (size_t s = 0; s < b.schema->value_names.size(); ++s) first->second.values.push_back(ToRef(row.values[s]));
      auto rk = std::make_tuple(row.window_start, options.revisions_per_step ? row.window_end : 0, group);
      auto [it, inserted] = last.try_emplace(rk, Last{row.revision, row.deleted});
      if (!inserted) {
        ++result->updates;
        bool restart = options.revision_restarts_after_deletion && it->second.deleted && !row.deleted;
        if (row.revision <= it->second.revision && !restart && result->problems.size() < 5)
          result->problems.push_back(fmt::format("revision of the row [{}, {}) g={} went from {}{} to {}{}",
                                                 TimeText(row.window_start), TimeText(row.window_end), group.ToString(),
                                                 it->second.revision, it->second.deleted ? " (deletion)" : "",
                                                 row.revision, row.deleted ? " (deletion)" : ""));
        it->second = {row.revision, row.deleted};
      }
      RefKey key{row.window_start, group};
      if (row.deleted) {
        ++result->deletions;
        result->rows.erase(key);
        continue;
      }
      EngineRow er{row.window_end, {}};
      for (size_t s = 0; s < b.schema->value_names.size(); ++s) er.values.push_back(ToRef(row.values[s]));
      result->rows[key] = std::move(er);
    }
  }
  void EmitLate(LateBatch& b) override {
    result->late_emitted += b.records.size();
    for (const LateRecord& r : b.records) {
      std::string line = "late ";
      AppendLateJson(*b.schema, r, line);
      result->emitted.push_back(std::move(line));
    }
  }
};

/// idle_timeout of streams with pauses: a pause moves the test's clock past it.
constexpr Duration kIdleTimeout = 60000;

/// Pins the clock a metric judges idle inputs by (WindowMetric::SetNow).
void PinClock(runtime::Metric& m, Timestamp now) {
  if (auto* w = dynamic_cast<WindowMetric*>(&m)) w->SetNow(now);
  if (auto* s = dynamic_cast<ShardedMetric*>(&m)) s->SetNow(now);
}

spec::MetricSpec SpecFor(const RefConfig& c, const std::vector<const AggCase*>& aggs) {
  spec::MetricSpec m;
  m.id = "ref";
  m.where = E("k != 'x'");
  m.event_time = E("ts");
  m.watermark = c.bound;
  m.allowed_lateness = c.lateness;
  m.window = c.window;
  if (c.idle_timeout) m.idle_timeout = kIdleTimeout;
  m.group_by = {{"g", E("g"), {}}};
  for (const AggCase* a : aggs) m.select.push_back({a->name, E(a->expr), {}});
  return m;
}

EngineResult RunEngine(const Trial& trial, const std::vector<Line>& lines, const std::vector<const AggCase*>& aggs,
                       const RunOptions& options) {
  const Batching batching = options.batching;
  EngineResult result;
  const uint32_t P = trial.config.partitions;
  spec::Pipeline pipeline;
  spec::Diagnostics diags;
  Layout layout;
  runtime::PlanContext ctx{pipeline, diags, layout, {{"in", P, false, trial.retractions}}, "", options.shards};
  auto metric = MakeWindowMetric(SpecFor(trial.config, aggs), ctx, 0);
  if (!metric) {
    result.problems.push_back("planning failed: " + diags.Format());
    return result;
  }
  codec::JsonDecoder decoder(layout, {.envelopes = true});
  StateCollector out;
  out.result = &result;
  out.options = options;
  out.sessions = trial.config.window.kind == spec::WindowKind::kSession;
  std::mt19937_64 rng(trial.seed * 31 + 7);
  // With idle_timeout, the metric goes by a clock of the test's: it stays put between pauses
  // (no input turns idle), and a pause moves it past the timeout (every input is idle until it
  // sends again). It starts at the wall clock, after the metric counted its inputs as heard from.
  const bool idle = trial.config.idle_timeout;
  Timestamp clock = idle ? NowMillis() : 0;
  if (idle) PinClock(*metric, clock);

  auto feed = [&](uint32_t p, size_t from, size_t to) {
    std::string ndjson;
    size_t rows = 0;
    for (size_t i = from; i < to; ++i) {
      ndjson += lines[i].json;
      ndjson += '\n';
      rows += lines[i].rows.size();
    }
    auto buf = codec::PaddedBuffer::Copy(ndjson);
    Batch b(layout.width());
    b.Hold(buf);
    b.origin.partition = p;
    codec::DecodeStats st = decoder.DecodeNdjson(*buf, b, nullptr);
    if (st.rejected != 0 || b.size() != rows)
      result.problems.push_back(fmt::format("decoding lines {}..{} gave {} rows ({} rejected), expected {}", from, to,
                                            b.size(), st.rejected, rows));
    metric->Process(b, out);
  };

  std::vector<bool> ended(P, false);
  size_t i = 0;
  bool restored = false;
  while (i < lines.size()) {
    // With idle_timeout, at a pause: a restored metric counts every input as heard from when it
    // starts, which the pause then makes idle, as in the uninterrupted run.
    if (options.restore_after && !restored && i >= *options.restore_after && (!idle || lines[i].pause)) {
      // A checkpoint and a restart, possibly with another number of workers.
      restored = true;
      std::string saved;
      metric->SaveState(saved);
      runtime::PlanContext ctx2{
          pipeline, diags, layout, {{"in", P, false, trial.retractions}}, "", options.restore_shards};
      auto next = MakeWindowMetric(SpecFor(trial.config, aggs), ctx2, 0);
      if (idle) PinClock(*next, clock);
      if (auto st = next->RestoreState(saved); !st) {
        result.problems.push_back("restore failed: " + st.error().message);
        return result;
      }
      metric = std::move(next);
    }
    if (lines[i].pause) {
      clock += kIdleTimeout + 1;
      PinClock(*metric, clock);
      metric->OnTimer(clock, out);
      ++i;
      continue;
    }
    if (lines[i].end) {
      if (!ended[lines[i].partition]) metric->EndPartition(0, lines[i].partition, out);
      ended[lines[i].partition] = true;
      ++i;
      continue;
    }
    // A run: consecutive lines of one partition.
    size_t j = i;
    while (j < lines.size() && !lines[j].end && !lines[j].pause && lines[j].partition == lines[i].partition) ++j;
    for (size_t k = i; k < j;) {
      size_t n = batching == Batching::kRuns     ? j - k
                 : batching == Batching::kSingle ? 1
                                                 : std::uniform_int_distribution<size_t>(1, 8)(rng);
      n = std::min(n, j - k);
      feed(lines[i].partition, k, k + n);
      k += n;
    }
    i = j;
  }
  for (uint32_t p = 0; p < P; ++p)
    if (!ended[p]) metric->EndPartition(0, p, out);
  result.late_counter = metric->late_records();
  return result;
}

// ---- comparing -------------------------------------------------------------------------------

/// Reads top_k's result, [{"value":…,"count":…},…], with scalar values.
std::optional<std::vector<std::pair<RefValue, int64_t>>> ParseTopK(std::string_view s) {
  std::vector<std::pair<RefValue, int64_t>> out;
  auto eat = [&](std::string_view lit) {
    if (s.substr(0, lit.size()) != lit) return false;
    s.remove_prefix(lit.size());
    return true;
  };
  auto number = [&]() -> std::optional<double> {
    size_t n = 0;
    while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) ||
                            std::string_view("+-.eE").find(s[n]) != std::string_view::npos))
      ++n;
    double d = 0;
    auto r = std::from_chars(s.data(), s.data() + n, d);
    if (n == 0 || r.ptr != s.data() + n) return std::nullopt;
    s.remove_prefix(n);
    return d;
  };
  if (!eat("[")) return std::nullopt;
  while (!eat("]")) {
    if (!out.empty() && !eat(",")) return std::nullopt;
    if (!eat(R"({"value":)")) return std::nullopt;
    RefValue v;
    if (eat("null")) {
      v = RefValue::Null();
    } else if (eat("true")) {
      v = RefValue::Bool(true);
    } else if (eat("false")) {
      v = RefValue::Bool(false);
    } else if (eat("\"")) {
      size_t q = s.find('"');  // the generated strings hold no quotes or escapes
      if (q == std::string_view::npos) return std::nullopt;
      v = RefValue::String(s.substr(0, q));
      s.remove_prefix(q + 1);
    } else if (auto d = number()) {
      v = RefValue::Number(*d);
    } else {
      return std::nullopt;
    }
    if (!eat(R"(,"count":)")) return std::nullopt;
    auto c = number();
    if (!c || !eat("}")) return std::nullopt;
    out.emplace_back(v, static_cast<int64_t>(*c));
  }
  return out;
}

std::string TopText(const std::vector<std::pair<RefValue, int64_t>>& top) {
  std::string s = "[";
  for (const auto& [v, n] : top) s += fmt::format("{}{}x{}", s.size() > 1 ? " " : "", v.ToString(), n);
  return s + "]";
}

bool CellMatches(const RefCell& e, const RefValue& a) {
  if (e.is_top) {
    if (a.kind != RefValue::Kind::kJson) return false;
    auto top = ParseTopK(a.text);
    return top && *top == e.top;
  }
  if (e.value.is_number() && a.is_number()) return std::fabs(e.value.number - a.number) <= e.tolerance;
  return e.value == a;
}

std::string CellText(const RefCell& e) {
  if (e.is_top) return TopText(e.top);
  if (e.tolerance > 0) return fmt::format("{} (±{:.3g})", e.value.ToString(), e.tolerance);
  return e.value.ToString();
}

std::string RowKeyText(const RefKey& k, Timestamp end) {
  return fmt::format("[{}, {}) g={}", TimeText(k.first), TimeText(end), k.second.ToString());
}

std::string FireKeyText(const RefFireKey& k, Timestamp end) {
  return fmt::format("[{}, {}) g={}", TimeText(std::get<0>(k)), TimeText(end), std::get<2>(k).ToString());
}

/// The first final row of every (window, group) against the row the reference has for it when
/// it first fires (RefResult::first), and no first row where the reference has none.
void CompareFirst(const RefResult& want, const EngineResult& got, const std::vector<const AggCase*>& aggs,
                  std::vector<std::string>& diffs) {
  for (const auto& [key, row] : want.first) {
    auto it = got.first.find(key);
    if (it == got.first.end()) {
      diffs.push_back(fmt::format("first firing of {} (net count {}): no final row emitted",
                                  FireKeyText(key, row.window_end), row.count));
      continue;
    }
    const FirstRow& g = it->second;
    if (g.window_end != row.window_end)
      diffs.push_back(fmt::format("first firing of {}: window_end {}, want {}", FireKeyText(key, row.window_end),
                                  TimeText(g.window_end), TimeText(row.window_end)));
    for (size_t a = 0; a < aggs.size(); ++a)
      if (a >= g.values.size() || !CellMatches(row.cells[a], g.values[a]))
        diffs.push_back(fmt::format("first firing of {} (revision {}): {} = {}, want {}",
                                    FireKeyText(key, row.window_end), g.revision, aggs[a]->expr,
                                    a < g.values.size() ? g.values[a].ToString() : "(none)", CellText(row.cells[a])));
  }
  for (const auto& [key, row] : got.first) {
    if (want.first.count(key)) continue;
    std::string cells;
    for (size_t a = 0; a < aggs.size() && a < row.values.size(); ++a)
      cells += fmt::format(" {}={}", aggs[a]->name, row.values[a].ToString());
    diffs.push_back(fmt::format("first firing of {}: unexpected final row (revision {}):{}",
                                FireKeyText(key, row.window_end), row.revision, cells));
  }
}

std::vector<std::string> Compare(const RefResult& want, const EngineResult& got,
                                 const std::vector<const AggCase*>& aggs, const RefConfig& config,
                                 const RunOptions& options) {
  std::vector<std::string> diffs = got.problems;
  for (const auto& [key, row] : want.rows) {
    auto it = got.rows.find(key);
    if (it == got.rows.end()) {
      std::string cells;
      for (size_t a = 0; a < aggs.size(); ++a) cells += fmt::format(" {}={}", aggs[a]->name, CellText(row.cells[a]));
      diffs.push_back(
          fmt::format("missing row {} (net count {}):{}", RowKeyText(key, row.window_end), row.count, cells));
      continue;
    }
    const EngineRow& g = it->second;
    if (g.window_end != row.window_end)
      diffs.push_back(fmt::format("row {}: window_end {}, want {}", RowKeyText(key, row.window_end),
                                  TimeText(g.window_end), TimeText(row.window_end)));
    for (size_t a = 0; a < aggs.size(); ++a)
      if (a >= g.values.size() || !CellMatches(row.cells[a], g.values[a]))
        diffs.push_back(fmt::format("row {}: {} = {}, want {}", RowKeyText(key, row.window_end), aggs[a]->expr,
                                    a < g.values.size() ? g.values[a].ToString() : "(none)", CellText(row.cells[a])));
  }
  for (const auto& [key, row] : got.rows) {
    if (want.rows.count(key)) continue;
    if (options.ignore_stale_cumulative_steps && row.window_end - key.first < config.window.size) continue;
    std::string cells;
    for (size_t a = 0; a < aggs.size() && a < row.values.size(); ++a)
      cells += fmt::format(" {}={}", aggs[a]->name, row.values[a].ToString());
    diffs.push_back(fmt::format("unexpected row {}:{}", RowKeyText(key, row.window_end), cells));
  }
  if (got.late_counter != want.late || got.late_emitted != want.late)
    diffs.push_back(fmt::format("late records: counted {}, sent to the late output {}, want {}", got.late_counter,
                                got.late_emitted, want.late));
  CompareFirst(want, got, aggs, diffs);
  return diffs;
}

std::vector<std::string> Check(const Trial& trial, const std::vector<Line>& lines,
                               const std::vector<const AggCase*>& aggs, const RunOptions& options,
                               EngineResult* engine = nullptr, RefResult* reference = nullptr) {
  RefResult want = EvaluateReference(trial.config, Steps(trial, lines));
  EngineResult got = RunEngine(trial, lines, aggs, options);
  auto diffs = Compare(want, got, aggs, trial.config, options);
  if (!diffs.empty())
    for (const auto& n : want.notes) diffs.push_back("note: " + n);
  if (engine) *engine = std::move(got);
  if (reference) *reference = std::move(want);
  return diffs;
}

/// Runs the engine with `options` (shards, a restore) and compares everything it emits with
/// `want`, what one unpartitioned metric emitted for the same input and batching, and its final
/// state and first firings with the reference's.
std::vector<std::string> SameEmissions(const Trial& trial, const std::vector<const AggCase*>& aggs,
                                       const RunOptions& options, const std::vector<std::string>& want,
                                       const RefResult& reference) {
  EngineResult got = RunEngine(trial, trial.lines, aggs, options);
  std::vector<std::string> diffs = Compare(reference, got, aggs, trial.config, options);
  const std::string how =
      fmt::format("with {} shards{}", options.shards,
                  options.restore_after
                      ? fmt::format(", restored into {} after line {}", options.restore_shards, *options.restore_after)
                      : "");
  for (size_t i = 0; i < std::max(want.size(), got.emitted.size()) && diffs.size() < 10; ++i) {
    std::string_view w = i < want.size() ? std::string_view(want[i]) : "(nothing)";
    std::string_view g = i < got.emitted.size() ? std::string_view(got.emitted[i]) : "(nothing)";
    if (w != g) diffs.push_back(fmt::format("emission {} {}: got {}, one shard emitted {}", i, how, g, w));
  }
  return diffs;
}

/// Removes lines while the mismatch persists (and the stream stays a valid change stream).
std::vector<Line> Shrink(const Trial& trial, std::vector<Line> lines, const std::vector<const AggCase*>& aggs,
                         const RunOptions& options) {
  int budget = 3000;
  size_t chunk = std::max<size_t>(1, lines.size() / 2);
  while (budget > 0) {
    bool progress = false;
    for (size_t i = 0; i < lines.size() && budget > 0;) {
      std::vector<Line> candidate;
      for (size_t k = 0; k < lines.size(); ++k)
        if (k < i || k >= i + chunk) candidate.push_back(lines[k]);
      --budget;
      if (ValidStream(candidate) && !Check(trial, candidate, aggs, options).empty()) {
        lines = std::move(candidate);
        progress = true;
      } else {
        i += chunk;
      }
    }
    if (!progress) {
      if (chunk == 1) break;
      chunk /= 2;
    }
  }
  return lines;
}

std::string Describe(const Trial& trial, const std::vector<Line>& lines, const RunOptions& options,
                     const std::vector<std::string>& diffs) {
  const RefConfig& c = trial.config;
  std::string s = fmt::format(
      "seed {}: window {}, bound {}, allowed_lateness {}{}, {} partition(s), {}; fed as {}\n"
      "input ({} lines; t = event time - {}; partitions not ended here end afterwards, in order):\n",
      trial.seed, WindowText(c), c.bound, c.lateness, c.idle_timeout ? ", idle_timeout (pauses)" : "", c.partitions,
      trial.retractions ? "source may retract" : "insert-only", BatchingName(options.batching), lines.size(), kT0);
  for (const Line& l : lines) {
    if (l.pause) {
      s += "  pause: idle_timeout passes, the timer runs\n";
      continue;
    }
    if (l.end) {
      s += fmt::format("  end of partition {}\n", l.partition);
      continue;
    }
    std::string times;
    for (const RefRecord& r : l.rows) times += fmt::format("{}{}", times.empty() ? "" : ",", TimeText(r.time));
    s += fmt::format("  p{} t={} {}\n", l.partition, times, l.json);
  }
  s += "differences:\n";
  for (size_t i = 0; i < diffs.size() && i < 20; ++i) s += "  " + diffs[i] + "\n";
  return s;
}

/// What a set of trials exercised, so that a generator change cannot make them vacuous.
struct Coverage {
  size_t rows = 0, late = 0, deletions = 0, updates = 0;
  /// First firings compared, and those of them whose row is not the final one (the final
  /// state alone would not check them).
  size_t first = 0, first_not_final = 0;
  /// Trials with idle_timeout whose expected result differs from the same stream's without it.
  size_t idle_mattered = 0;
};

/// True if idle_timeout changes what the reference expects of `trial` (late records, rows).
bool IdleMatters(const Trial& trial) {
  if (!trial.config.idle_timeout) return false;
  RefConfig without = trial.config;
  without.idle_timeout = false;
  const RefResult a = EvaluateReference(trial.config, Steps(trial, trial.lines));
  const RefResult b = EvaluateReference(without, Steps(trial, trial.lines));
  if (a.late != b.late || a.rows.size() != b.rows.size()) return true;
  for (auto i = a.rows.begin(), j = b.rows.begin(); i != a.rows.end(); ++i, ++j)
    if (i->first != j->first || i->second.count != j->second.count || i->second.window_end != j->second.window_end)
      return true;
  return false;
}

/// Runs `trials` random trials of a window kind, each fed in every one of `batchings`; reports
/// the first mismatch, with its input shrunk. With `behind_watermark` false, no record arrives
/// behind the watermark.
Coverage RunTrials(spec::WindowKind kind, bool retractions, int trials, uint64_t seed_base,
                   std::initializer_list<Batching> batchings, bool behind_watermark = true) {
  Coverage cov;
  const auto aggs = AggCasesFor(retractions);
  EXPECT_FALSE(aggs.empty());
  for (int n = 0; n < trials; ++n) {
    Trial trial = Generator(seed_base + static_cast<uint64_t>(n), kind, retractions).Make(behind_watermark);
    for (const AggCase* a : aggs) trial.config.aggregates.push_back(a->ref);
    cov.idle_mattered += IdleMatters(trial);
    for (Batching b : batchings) {
      RunOptions options = OptionsFor(kind, b);
      EngineResult engine;
      RefResult reference;
      auto diffs = Check(trial, trial.lines, aggs, options, &engine, &reference);
      cov.rows += engine.rows.size();
      cov.late += engine.late_counter;
      cov.deletions += engine.deletions;
      cov.updates += engine.updates;
      cov.first += reference.first.size();
      for (const auto& [key, row] : reference.first) {
        auto f = reference.rows.find({std::get<0>(key), std::get<2>(key)});
        cov.first_not_final +=
            f == reference.rows.end() || f->second.window_end != row.window_end || f->second.count != row.count;
      }
      if (diffs.empty()) {
        // Partitioned state, and a checkpoint restored into another number of shards: what is
        // emitted must be exactly what one unpartitioned metric emits.
        options.shards = 2 + static_cast<uint32_t>(n % 2);
        if (b == Batching::kRandom) {
          options.restore_after = trial.lines.size() / 2;
          options.restore_shards = 1 + static_cast<uint32_t>(n % 3);
        }
        auto same = SameEmissions(trial, aggs, options, engine.emitted, reference);
        if (same.empty()) continue;
        ADD_FAILURE() << Describe(trial, trial.lines, options, same);
        return cov;
      }
      std::vector<Line> small = Shrink(trial, trial.lines, aggs, options);
      ADD_FAILURE() << Describe(trial, small, options, Check(trial, small, aggs, options))
                    << "(original input: " << trial.lines.size() << " lines)";
      return cov;
    }
  }
  return cov;
}

}  // namespace
}  // namespace weir::operators
