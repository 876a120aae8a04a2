// Randomized tests of WindowMetric against the brute-force reference in reference_evaluator.h.
//
// Each trial generates a stream (a few partitions, bounded disorder, occasional very late
// records, a few groups, integer / decimal / numeric-string / non-numeric / null values,
// records filtered out by `where`, ends of partitions at random points, in a third of the
// streams idle_timeout with pauses that leave quiet partitions idle (on a clock the test pins),
// and — for metrics whose source may retract — deletes and updates as change envelopes), feeds it to a metric computing
// every aggregate, and compares the final state of what the metric emitted (the last final row
// per (window_start, group), deletions applied, revisions increasing per row), the FIRST final
// row of each (window, group) — each cumulative step its own window, a session by its start —
// with the row the reference has when that window first fires, and the late count with the
// reference. Sketches (approx_distinct, percentile) are compared within their documented error
// in both. Streams are fed one line per batch, in random-sized batches, and with each run of
// one partition's lines as one batch; results must not depend on it. The same is checked of
// the metric with 2 or 3 state shards (workers), which must also emit exactly what one emits.
// (Sliding and session windows are also fed, in batches, streams with nothing behind the
// watermark: the *NothingBehindWatermark tests.)
//
// The WindowReferenceRegression tests hold minimal inputs for engine bugs these tests
// found; each skips (printing the difference) where the engine is still wrong.
//
// On a mismatch the test prints the seed, the configuration, the input shrunk to a minimal
// failing stream, and the differences.
//
//   ./weir_operators_test --gtest_filter='WindowReference*'
//
// The generated input is in window_reference_input.h, running and comparing in
// window_reference_harness.h; this file holds the tests.
#include <gtest/gtest.h>

#include "weir/operators/window_reference_harness.h"

namespace weir::operators {
namespace {

// ---- the engine against the reference ----------------------------------------------------------

constexpr int kTrials = 150;

/// Checks that the trials exercised late records, re-emitted rows and deletions where the
/// stream can produce them, and idle inputs that changed the result.
void ExpectCoverage(const Coverage& c, int trials, bool late, bool deletions) {
  EXPECT_GT(c.rows, static_cast<size_t>(trials));
  EXPECT_GT(c.first, static_cast<size_t>(trials));
  if (late) {  // records behind the watermark: some late, some updating emitted rows
    EXPECT_GT(c.late, 0u);
    EXPECT_GT(c.updates, 0u);
    EXPECT_GT(c.first_not_final, 0u);  // late updates made some first firings differ from the final row
    EXPECT_GT(c.idle_mattered, 0u);    // idle inputs no longer holding the watermark made some late
  }
  if (deletions) {
    EXPECT_GT(c.deletions, 0u);
  }
}

TEST(WindowReference, Tumbling) {
  auto c = RunTrials(spec::WindowKind::kTumbling, true, kTrials, 1000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, true, true);
}
TEST(WindowReference, TumblingInsertOnly) {
  auto c = RunTrials(spec::WindowKind::kTumbling, false, kTrials, 2000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, true, false);
}
TEST(WindowReference, Cumulative) {
  auto c = RunTrials(spec::WindowKind::kCumulative, true, kTrials, 5000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, true, true);
}
TEST(WindowReference, CumulativeInsertOnly) {
  auto c = RunTrials(spec::WindowKind::kCumulative, false, kTrials, 6000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, true, false);
}
TEST(WindowReference, None) {
  auto c =
      RunTrials(spec::WindowKind::kNone, true, kTrials, 9000, {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, false, false);
}
TEST(WindowReference, NoneInsertOnly) {
  auto c = RunTrials(spec::WindowKind::kNone, false, kTrials, 10000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, false, false);
}

// Sliding windows and sessions, fed one line per batch, in random batches and in runs.
TEST(WindowReference, Sliding) {
  auto c = RunTrials(spec::WindowKind::kSliding, true, kTrials, 3000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, true, true);
}
TEST(WindowReference, SlidingInsertOnly) {
  auto c = RunTrials(spec::WindowKind::kSliding, false, kTrials, 4000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, true, false);
}
TEST(WindowReference, SlidingBatchedNothingBehindWatermark) {
  auto c = RunTrials(spec::WindowKind::kSliding, true, kTrials, 3500, {Batching::kRandom, Batching::kRuns}, false);
  ExpectCoverage(c, kTrials, false, false);
  auto d = RunTrials(spec::WindowKind::kSliding, false, kTrials, 4500, {Batching::kRandom, Batching::kRuns}, false);
  ExpectCoverage(d, kTrials, false, false);
}
TEST(WindowReference, Session) {
  auto c = RunTrials(spec::WindowKind::kSession, true, kTrials, 7000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, true, true);
}
TEST(WindowReference, SessionInsertOnly) {
  auto c = RunTrials(spec::WindowKind::kSession, false, kTrials, 8000,
                     {Batching::kSingle, Batching::kRandom, Batching::kRuns});
  ExpectCoverage(c, kTrials, true, false);
}
TEST(WindowReference, SessionBatchedNothingBehindWatermark) {
  auto c = RunTrials(spec::WindowKind::kSession, true, kTrials, 7500, {Batching::kRandom, Batching::kRuns}, false);
  ExpectCoverage(c, kTrials, false, false);
  auto d = RunTrials(spec::WindowKind::kSession, false, kTrials, 8500, {Batching::kRandom, Batching::kRuns}, false);
  ExpectCoverage(d, kTrials, false, false);
}

// ---- engine bugs these tests found (fixed; each test fails if one comes back) --

/// A hand-written line: {"ts":…,"g":"<g>","v":<v>,"f":true,"k":"y"}, or its delete envelope.
Line Row(uint32_t partition, Timestamp t, std::string_view g, int v, bool retract = false) {
  RefRecord r;
  r.partition = partition;
  r.time = kT0 + t;
  r.weight = retract ? -1 : 1;
  r.group = RefValue::String(g);
  r.value = RefValue::Number(v);
  r.flag = RefValue::Bool(true);
  std::string obj = fmt::format(R"({{"ts":{},"g":"{}","v":{},"f":true,"k":"y"}})", kT0 + t, g, v);
  Line l;
  l.partition = partition;
  l.json = retract ? fmt::format(R"({{"op":"d","before":{}}})", obj) : obj;
  l.rows = {r};
  return l;
}

Trial Handmade(spec::WindowKind kind, Duration size, Duration every, Duration bound, Duration lateness,
               bool retractions, std::vector<Line> lines) {
  Trial t;
  t.config.window = {kind, size, every, {}};
  t.config.bound = bound;
  t.config.lateness = lateness;
  t.retractions = retractions;
  for (const AggCase* a : AggCasesFor(retractions)) t.config.aggregates.push_back(a->ref);
  t.lines = std::move(lines);
  return t;
}

std::string Join(const std::vector<std::string>& xs) {
  std::string s;
  for (const auto& x : xs) s += x + "\n";
  return s;
}

// Sliding window 2000 every 1000, lateness 1000. t=500 arrives when the watermark is 2500: it is
// not late (its last window [0, 2000) is open until 3000), but [-1000, 1000) closed at 2000 and
// must not take it. Fed one line per batch the engine gets this right; when t=500 shares a batch
// with t=2500, Apply has not moved watermark_/fired_upto_ (no window was due), so the record
// is not treated as a late update and [-1000, 1000) is fired later with it. (The same stale
// watermark_ makes EmitLateUpdates re-emit windows that closed within the batch.)
TEST(WindowReferenceRegression, SlidingRecordBehindWatermarkInSameBatch) {
  Trial t =
      Handmade(spec::WindowKind::kSliding, 2000, 1000, 0, 1000, false, {Row(0, 2500, "a", 1), Row(0, 500, "a", 2)});
  const auto aggs = AggCasesFor(false);
  auto single = Check(t, t.lines, aggs, OptionsFor(spec::WindowKind::kSliding, Batching::kSingle));
  EXPECT_TRUE(single.empty()) << Join(single);
  auto batched = Check(t, t.lines, aggs, OptionsFor(spec::WindowKind::kSliding, Batching::kRuns));
  if (!batched.empty())
    ADD_FAILURE() << "engine regression:\n"
                  << Describe(t, t.lines, OptionsFor(spec::WindowKind::kSliding, Batching::kRuns), batched);
}

// Session gap 800, lateness 300. b's session [2480, 3280) fires at watermark 3400 and expires at
// 3580; when b@1791 arrives the watermark is 3700, so it is late (1791 + 800 + 300 <= 3700).
// In one batch the expired session has not been destroyed yet (FireSessions only runs when an
// open session is due), so b@1791 joins it and re-opens it as [1791, 3280).
TEST(WindowReferenceRegression, SessionJoinsExpiredSessionInSameBatch) {
  Trial t = Handmade(spec::WindowKind::kSession, 800, 0, 0, 300, false,
                     {Row(0, 2480, "b", 1), Row(0, 3400, "a", 2), Row(0, 3700, "a", 3), Row(0, 1791, "b", 4)});
  const auto aggs = AggCasesFor(false);
  auto single = Check(t, t.lines, aggs, OptionsFor(spec::WindowKind::kSession, Batching::kSingle));
  EXPECT_TRUE(single.empty()) << Join(single);
  auto batched = Check(t, t.lines, aggs, OptionsFor(spec::WindowKind::kSession, Batching::kRuns));
  if (!batched.empty())
    ADD_FAILURE() << "engine regression:\n"
                  << Describe(t, t.lines, OptionsFor(spec::WindowKind::kSession, Batching::kRuns), batched);
}

// Session gap 400. [345, 745) is emitted (revision 1); a@545 then bridges it with [761, 1427),
// which was created first and so absorbs it: the row (345, a) is deleted (revision 2) and the
// merged session is emitted under the same key with revision 1. The final state is right, but
// a consumer keeping the highest revision per row (as results.h says sinks do) loses the row.
TEST(WindowReferenceRegression, SessionMergeRestartsRevisionOfSameKey) {
  Trial t = Handmade(spec::WindowKind::kSession, 400, 0, 0, 1000, false,
                     {Row(0, 1027, "a", 1), Row(0, 345, "a", 2), Row(0, 761, "a", 3), Row(0, 545, "a", 4)});
  const auto aggs = AggCasesFor(false);
  RunOptions relaxed = OptionsFor(spec::WindowKind::kSession, Batching::kSingle);
  auto final_state = Check(t, t.lines, aggs, relaxed);
  EXPECT_TRUE(final_state.empty()) << Join(final_state);
  RunOptions strict = relaxed;
  strict.revision_restarts_after_deletion = false;
  auto revisions = Check(t, t.lines, aggs, strict);
  if (!revisions.empty()) ADD_FAILURE() << "engine regression:\n" << Describe(t, t.lines, strict, revisions);
}

// Cumulative 2000 every 1000: the steps [0, 1000) and [0, 2000) share the row key (0, a), but
// revisions are counted per window end, so the second step arrives with revision 1 again.
TEST(WindowReferenceRegression, CumulativeStepsRepeatRevisionOfSameKey) {
  Trial t = Handmade(spec::WindowKind::kCumulative, 2000, 1000, 0, 0, false,
                     {Row(0, 100, "a", 1), Row(0, 1500, "a", 2), Row(0, 2500, "a", 3)});
  const auto aggs = AggCasesFor(false);
  RunOptions relaxed = OptionsFor(spec::WindowKind::kCumulative, Batching::kSingle);
  auto final_state = Check(t, t.lines, aggs, relaxed);
  EXPECT_TRUE(final_state.empty()) << Join(final_state);
  RunOptions strict = relaxed;
  strict.revisions_per_step = false;
  auto revisions = Check(t, t.lines, aggs, strict);
  if (!revisions.empty()) ADD_FAILURE() << "engine regression:\n" << Describe(t, t.lines, strict, revisions);
}

// Cumulative 2000 every 1000, lateness 0: a's only record is emitted in step [0, 1000), then
// deleted (not late: the full window is open). The full window [0, 2000) has no records of a,
// but as it was never emitted before (revision 1) no deletion row goes out, so the step's row
// (0, a) stays in every store.
TEST(WindowReferenceRegression, CumulativeRetractedGroupKeepsStepRow) {
  Trial t = Handmade(spec::WindowKind::kCumulative, 2000, 1000, 0, 0, true,
                     {Row(0, 100, "a", 1), Row(0, 1200, "b", 2), Row(0, 1500, "b", 3), Row(0, 100, "a", 1, true)});
  const auto aggs = AggCasesFor(true);
  RunOptions relaxed = OptionsFor(spec::WindowKind::kCumulative, Batching::kSingle);
  auto rest = Check(t, t.lines, aggs, relaxed);
  EXPECT_TRUE(rest.empty()) << Join(rest);
  RunOptions strict = relaxed;
  strict.ignore_stale_cumulative_steps = false;
  auto stale = Check(t, t.lines, aggs, strict);
  if (!stale.empty()) ADD_FAILURE() << "engine regression:\n" << Describe(t, t.lines, strict, stale);
}

}  // namespace
}  // namespace weir::operators
