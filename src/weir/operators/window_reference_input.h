// Generated input for the engine-against-reference tests (window_reference_test.cc): the
// aggregates every metric under test computes, and random change streams — a few partitions,
// bounded disorder, occasional very late records, a few groups, values of every kind, records
// filtered out by `where`, ends of partitions at random points, (for sources that retract)
// deletes and updates as change envelopes, and in about a third of the streams idle_timeout with
// pauses after which partitions that stay quiet are idle — with the steps the reference evaluates.
//
// Internal to that test (one translation unit includes it).
#pragma once

#include <cctype>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "weir/aggregate/aggregate.h"
#include "weir/operators/reference_evaluator.h"
#include "weir/operators/window_metric.h"

namespace weir::operators {
namespace {

constexpr Timestamp kT0 = 1'700'000'000'000;  // event times are written as epoch milliseconds

spec::ExprText E(std::string text) { return {std::move(text), {}}; }

// ---- aggregates under test -------------------------------------------------------------------

struct AggCase {
  const char* name;  // select name
  const char* expr;
  RefAggregate ref;
  bool insert_only;  // rejected by the planner when a source may retract
};

const std::vector<AggCase>& AllAggCases() {
  static const std::vector<AggCase> kAll = {
      {"n", "count()", {RefAgg::kCount}, false},
      {"n_if", "count_if(f)", {RefAgg::kCountIf}, false},
      {"total", "sum(v)", {RefAgg::kSum}, false},
      {"total_if", "sum_if(v, f)", {RefAgg::kSumIf}, false},
      {"mean", "avg(v)", {RefAgg::kAvg}, false},
      {"lo", "min(v)", {RefAgg::kMin}, false},
      {"hi", "max(v)", {RefAgg::kMax}, false},
      {"distinct", "count_distinct(v)", {RefAgg::kCountDistinct}, false},
      {"p90", "percentile(v, 0.9)", {RefAgg::kPercentile, 0.9}, false},
      {"p0", "percentile(v, 0)", {RefAgg::kPercentile, 0.0}, false},
      {"med", "median(v)", {RefAgg::kPercentile, 0.5}, false},
      {"top3", "top_k(v, 3)", {RefAgg::kTopK, 0, 3}, false},
      {"first_v", "first(v)", {RefAgg::kFirst}, true},
      {"last_v", "last(v)", {RefAgg::kLast}, true},
      {"approx", "approx_distinct(v)", {RefAgg::kApproxDistinct}, true},
  };
  return kAll;
}

/// The aggregates a metric over such a stream can compute, among those this build registers.
std::vector<const AggCase*> AggCasesFor(bool retractions) {
  std::vector<const AggCase*> out;
  for (const auto& a : AllAggCases()) {
    std::string_view fn(a.expr);
    fn = fn.substr(0, fn.find('('));
    if (!aggregate::FindAggregate(fn)) continue;
    if (retractions && a.insert_only) continue;
    out.push_back(&a);
  }
  return out;
}

// ---- generated input -------------------------------------------------------------------------

/// One line of input: a JSON event (plain, or a change envelope) on a partition, the end of a
/// partition, or a pause (the clock moves past idle_timeout and the metric's timer runs).
struct Line {
  bool end = false;
  bool pause = false;
  uint32_t partition = 0;
  std::string json;
  std::vector<RefRecord> rows;  // what the line decodes to, in order
};

struct Trial {
  uint64_t seed = 0;
  RefConfig config;
  bool retractions = false;
  std::vector<Line> lines;
};

std::string WindowText(const RefConfig& c) {
  const auto& w = c.window;
  switch (w.kind) {
    case spec::WindowKind::kTumbling:
      return fmt::format("tumbling {}", w.size);
    case spec::WindowKind::kSliding:
      return fmt::format("sliding {} every {}", w.size, w.every);
    case spec::WindowKind::kCumulative:
      return fmt::format("cumulative {} every {}", w.size, w.every);
    case spec::WindowKind::kSession:
      return fmt::format("session gap {}", w.size);
    case spec::WindowKind::kNone:
      return "none";
  }
  return "?";
}

std::string TimeText(Timestamp t) {
  if (t == kMinTimestamp) return "-inf";
  if (t == kMaxTimestamp) return "+inf";
  return fmt::format("{:+}", t - kT0);
}

/// Draws a trial's stream.
class Generator {
 public:
  /// A field as JSON text ("" = left out) and what it decodes to.
  using Field = std::pair<std::string, RefValue>;
  /// The fields of a row, kept so that a delete can repeat it and an update change some.
  struct Fields {
    Timestamp t;
    bool iso;  // ts written as an ISO-8601 string instead of epoch milliseconds
    Field g, v, f;
    bool pass;  // passes `where`
  };

  Generator(uint64_t seed, spec::WindowKind kind, bool retractions) : rng_(seed) {
    trial_.seed = seed;
    trial_.retractions = retractions;
    RefConfig& c = trial_.config;
    c.partitions = static_cast<uint32_t>(Uniform(1, 3));
    c.bound = Pick<Duration>({0, 100, 500, 1500});
    c.lateness = Pick<Duration>({0, 300, 1000, 3000});
    c.window.kind = kind;
    switch (kind) {
      case spec::WindowKind::kTumbling:
        c.window.size = Pick<Duration>({500, 1000});
        break;
      case spec::WindowKind::kSliding:
      case spec::WindowKind::kCumulative:
        c.window.every = Pick<Duration>({250, 500});
        c.window.size = c.window.every * Uniform(2, 4);
        break;
      case spec::WindowKind::kSession:
        c.window.size = Pick<Duration>({200, 400, 800});
        break;
      case spec::WindowKind::kNone:
        break;
    }
    disorder_ = Pick<Duration>({0, 200, 800});
    very_late_ = Pick<double>({0, 0.03, 0.1});
    groups_ = static_cast<int>(Uniform(1, 5));
    // Idleness is drawn from a generator of its own, so that the records of a seed are the same
    // with or without it.
    idle_rng_.seed(seed * 0x9E3779B97F4A7C15ULL + 11);
    c.idle_timeout = idle_rng_() % 3 == 0;
  }

  /// The stream. With `behind_watermark` false, no record arrives behind the watermark it is
  /// judged against (nothing late, no late updates): inserts are moved up to the watermark and
  /// only rows not behind it are retracted.
  Trial Make(bool behind_watermark = true) {
    const uint32_t P = trial_.config.partitions;
    const int n = static_cast<int>(Uniform(10, 120));
    std::vector<Timestamp> clock(P);
    std::vector<int> end_at(P, -1);
    std::vector<bool> silent(P, false), ended(P, false);
    std::vector<std::vector<Fields>> live(P);  // rows of each partition that can be retracted
    ref_detail::Watermark wm(P, trial_.config.bound, trial_.config.idle_timeout);
    // True if no row of `line` would be behind the watermark.
    auto ahead = [&](const Line& line) {
      ref_detail::Watermark w = wm;
      for (const RefRecord& r : line.rows) {
        if (r.time < w.Before(r.partition)) return false;
        w.Saw(r.partition, r.time);
      }
      return true;
    };
    for (uint32_t p = 0; p < P; ++p) {
      clock[p] = kT0 + Uniform(0, 1500);
      if (Chance(0.35)) end_at[p] = static_cast<int>(Uniform(0, n));
      // A partition that never sends holds the watermark back until it ends.
      silent[p] = P > 1 && Chance(0.15);
    }
    uint32_t current = 0;
    for (int i = 0; i < n; ++i) {
      for (uint32_t p = 0; p < P; ++p) {
        if (end_at[p] == i && !ended[p]) {
          ended[p] = true;
          wm.End(p);
          trial_.lines.push_back({true, false, p, "", {}});
        }
      }
      // A pause: partitions that stay quiet after it are idle and stop holding the watermark.
      if (trial_.config.idle_timeout && std::uniform_real_distribution<double>(0, 1)(idle_rng_) < 0.06) {
        Line pause;
        pause.pause = true;
        trial_.lines.push_back(std::move(pause));
        wm.Pause();
      }
      std::vector<uint32_t> alive;
      for (uint32_t p = 0; p < P; ++p)
        if (!ended[p] && !silent[p]) alive.push_back(p);
      if (alive.empty()) break;
      // Partitions send in bursts.
      if (ended[current] || silent[current] || !Chance(0.7))
        current = alive[static_cast<size_t>(Uniform(0, static_cast<int64_t>(alive.size()) - 1))];
      const uint32_t p = current;
      clock[p] += Uniform(0, 200);
      Line line;
      line.partition = p;
      const double op = Uniform01();
      auto& rows = live[p];
      if (trial_.retractions && !rows.empty() && op < 0.25) {
        size_t idx = static_cast<size_t>(Uniform(0, static_cast<int64_t>(rows.size()) - 1));
        auto [old, old_json] = Render(p, rows[idx]);
        old.weight = -1;
        Fields changed = Modify(rows[idx]);
        if (op < 0.12) {  // delete
          line.json = fmt::format(R"({{"op":"d","before":{}}})", old_json);
          line.rows = {old};
        } else {  // update: the old row goes, a changed one comes (possibly in another group or window)
          auto [rec, json] = Render(p, changed);
          line.json = fmt::format(R"({{"op":"u","before":{},"after":{}}})", old_json, json);
          line.rows = {old, rec};
        }
        if (behind_watermark || ahead(line)) {
          if (line.rows.size() == 1) {
            rows.erase(rows.begin() + static_cast<std::ptrdiff_t>(idx));
          } else {
            rows[idx] = changed;
          }
        } else {
          line.rows.clear();  // an insert instead
        }
      }
      if (line.rows.empty()) {
        Timestamp t = Chance(very_late_) ? clock[p] - Uniform(1000, 6000) : clock[p] - Uniform(0, disorder_);
        if (!behind_watermark) t = std::max(t, ref_detail::Watermark(wm).Before(p));
        // ~10% of the records fail `where` (k = 'x'): they still move the watermark.
        Fields x{t, Chance(0.1), Group(), NumberValue(), Flag(), !Chance(0.1)};
        auto [rec, json] = Render(p, x);
        line.json = trial_.retractions && Chance(0.8) ? fmt::format(R"({{"op":"c","after":{}}})", json) : json;
        line.rows = {rec};
        rows.push_back(x);
      }
      for (const RefRecord& r : line.rows) {
        wm.Before(r.partition);
        wm.Saw(r.partition, r.time);
      }
      trial_.lines.push_back(std::move(line));
    }
    return std::move(trial_);
  }

 private:
  int64_t Uniform(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }
  double Uniform01() { return std::uniform_real_distribution<double>(0, 1)(rng_); }
  bool Chance(double p) { return Uniform01() < p; }
  template <class T>
  T Pick(std::initializer_list<T> xs) {
    return *(xs.begin() + Uniform(0, static_cast<int64_t>(xs.size()) - 1));
  }

  Field Group() {
    switch (Uniform(0, groups_ - 1)) {
      case 0:
        return {R"("a")", RefValue::String("a")};
      case 1:
        return {R"("b")", RefValue::String("b")};
      case 2:
        return {Chance(0.5) ? "7" : "7.0", RefValue::Number(7)};  // one group: 7 and 7.0 are equal
      case 3:
        return {R"("c")", RefValue::String("c")};
      default:
        return {Chance(0.5) ? "null" : "", RefValue::Null()};
    }
  }

  Field NumberValue() {
    double r = Uniform01();
    if (r < 0.4) {
      int64_t x = Uniform(-5, 20);
      return {std::to_string(x), RefValue::Number(static_cast<double>(x))};
    }
    if (r < 0.6) {  // a decimal with two digits
      int64_t cents = Uniform(-500, 2500);
      std::string s = fmt::format("{}{}.{:02}", cents < 0 ? "-" : "", std::llabs(cents) / 100, std::llabs(cents) % 100);
      return {s, RefValue::Number(std::stod(s))};
    }
    if (r < 0.75) {  // a string holding a number: a number for sum/avg/percentile, a string otherwise
      std::string s = Chance(0.5) ? std::to_string(Uniform(-3, 12)) : fmt::format("{}.25", Uniform(0, 9));
      return {"\"" + s + "\"", RefValue::String(s)};
    }
    if (r < 0.85) return {"null", RefValue::Null()};
    if (r < 0.92) return {"", RefValue::Null()};
    std::string s = Chance(0.5) ? "abc" : "zz";
    return {"\"" + s + "\"", RefValue::String(s)};
  }

  Field Flag() {
    double r = Uniform01();
    if (r < 0.45) return {"true", RefValue::Bool(true)};
    if (r < 0.8) return {"false", RefValue::Bool(false)};
    if (r < 0.9) return {"null", RefValue::Null()};
    return {"", RefValue::Null()};
  }

  /// A row and its JSON.
  static std::pair<RefRecord, std::string> Render(uint32_t p, const Fields& x) {
    RefRecord r;
    r.partition = p;
    r.time = x.t;
    r.weight = 1;
    r.passes_where = x.pass;
    r.group = x.g.second;
    r.value = x.v.second;
    r.flag = x.f.second;
    std::string s = x.iso ? fmt::format(R"({{"ts":"{}")", FormatIso8601(x.t)) : fmt::format(R"({{"ts":{})", x.t);
    if (!x.g.first.empty()) s += ",\"g\":" + x.g.first;
    if (!x.v.first.empty()) s += ",\"v\":" + x.v.first;
    if (!x.f.first.empty()) s += ",\"f\":" + x.f.first;
    s += x.pass ? R"(,"k":"y"})" : R"(,"k":"x"})";
    return {r, s};
  }

  Fields Modify(Fields x) {
    if (Chance(0.4)) x.g = Group();
    if (Chance(0.6)) x.v = NumberValue();
    if (Chance(0.3)) x.f = Flag();
    if (Chance(0.1)) x.pass = !x.pass;
    if (Chance(0.25)) x.t += Uniform(-400, 400);
    return x;
  }

  std::mt19937_64 rng_, idle_rng_;
  Trial trial_;
  Duration disorder_ = 0;
  double very_late_ = 0;
  int groups_ = 1;
};

/// True if every retraction undoes an earlier insert of an identical row (a shrunk input must
/// stay a possible change stream).
bool ValidStream(const std::vector<Line>& lines) {
  std::map<std::string, int> live;
  for (const Line& l : lines) {
    for (const RefRecord& r : l.rows) {
      std::string id = fmt::format("{}|{}|{}|{}|{}", r.time, r.group.ToString(), r.value.ToString(), r.flag.ToString(),
                                   r.passes_where);
      if (r.weight > 0) {
        ++live[id];
      } else if (live[id]-- <= 0) {
        return false;
      }
    }
  }
  return true;
}

/// The reference's steps: the lines, then the end of every partition not ended yet.
std::vector<RefStep> Steps(const Trial& trial, const std::vector<Line>& lines) {
  std::vector<RefStep> steps;
  std::vector<bool> ended(trial.config.partitions, false);
  for (const Line& l : lines) {
    if (l.pause) {
      steps.push_back(RefStep::Pause());
      continue;
    }
    if (l.end) {
      if (!ended[l.partition]) steps.push_back(RefStep::End(l.partition));
      ended[l.partition] = true;
      continue;
    }
    for (const RefRecord& r : l.rows) steps.push_back(RefStep::Record(r));
  }
  for (uint32_t p = 0; p < trial.config.partitions; ++p)
    if (!ended[p]) steps.push_back(RefStep::End(p));
  return steps;
}

}  // namespace
}  // namespace weir::operators
