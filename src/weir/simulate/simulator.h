// Realistic synthetic event streams for the demo, tests and benchmarks: a registry of
// scenarios, each generating single-line JSON events deterministically from a seed.
//
//   weir::simulate::Options opt;
//   opt.seed = 7;
//   opt.params["users"] = "5000";
//   auto scenario = weir::simulate::MakeScenario("ecommerce", opt);
//   if (!scenario) return scenario.error();
//   std::string buf;
//   for (int i = 0; i < 1000; ++i) {
//     (*scenario)->Next(buf);   // one JSON object, no newline
//     buf += '\n';
//   }
//
// Determinism: for the same scenario name, Options (with realtime = false) and Weir build, the
// stream is byte-identical, event for event. Generators use their own PRNG (xoshiro256**) and
// integer-built lookup tables, never std:: random distributions, whose output differs between
// standard library versions. A different seed gives a different stream.
//
// Real-time generation: set `realtime = true` and drive Next() with a Pacer (pacer.h) at the
// wanted rate. Each event's time is then the wall clock at the call (never going backwards),
// jittered back like any other event; start_time and events_per_second_of_event_time are
// ignored. Everything except the timestamps stays a function of the seed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "weir/base/result.h"
#include "weir/base/time.h"

namespace weir::simulate {

/// 2026-02-16T10:30:00.000Z, the default time of the first event (fixed, for determinism).
inline constexpr Timestamp kDefaultStartTime = 1771237800000;

/// Scenario-specific knobs by name; values are text as they come from YAML or the command line.
using ParamMap = std::map<std::string, std::string, std::less<>>;

/// How a scenario generates: seed, event-time progression, disorder, scenario params.
struct Options {
  uint64_t seed = 1;
  /// Event time of the first event (before jitter), ms since the epoch.
  Timestamp start_time = kDefaultStartTime;
  /// Event n's un-jittered time is start_time + n * 1000 / events_per_second_of_event_time, so
  /// the default 1000 puts events 1 ms apart. Must be positive and finite.
  double events_per_second_of_event_time = 1000;
  /// Events' timestamps jitter backwards by up to this many ms (see README: 85% on time, 12%
  /// up to 250 ms late, 3% up to max_disorder late). A watermark of max_disorder never drops
  /// an event. Must be >= 0.
  Duration max_disorder = 3000;
  /// Event time follows the wall clock instead of start_time + n / rate (see the file comment).
  bool realtime = false;
  /// Scenario-specific knobs; unknown names are an error.
  ParamMap params;
};

/// A generator of one kind of event stream.
///
/// Not thread-safe: one thread at a time calls Next(). Next() does not block, does no I/O and
/// allocates nothing beyond growing the caller's string.
class Scenario {
 public:
  virtual ~Scenario() = default;

  virtual std::string_view name() const = 0;

  /// Appends ONE event, a single-line JSON object without a trailing newline, to `out`.
  virtual void Next(std::string& out) = 0;

  /// Timestamp written into the most recent event (start_time before the first event).
  virtual Timestamp last_event_time() const = 0;

  /// Un-jittered time of the most recent event. No later event carries a timestamp below
  /// event_time_frontier() - max_disorder, so a source may use that as an exact watermark.
  virtual Timestamp event_time_frontier() const = 0;

  /// Events generated so far.
  virtual uint64_t events_generated() const = 0;

  /// Appends `n` events as NDJSON: each followed by '\n'.
  void NextLines(std::string& out, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      Next(out);
      out += '\n';
    }
  }
};

/// One scenario parameter, for help texts and error messages.
struct ParamInfo {
  std::string_view name;
  std::string_view default_value;
  std::string_view help;
};

/// A registered scenario.
struct ScenarioInfo {
  std::string_view name;
  std::string_view summary;
  std::span<const ParamInfo> params;
  Result<std::unique_ptr<Scenario>> (*make)(const Options&);
  /// Events are change envelopes (Debezium/native `op`, `before`, `after`): the simulator
  /// source decodes them as changes, as a source with `changes: true` does.
  bool changes = false;
};

/// Every registered scenario, in name order.
std::span<const ScenarioInfo> Scenarios();

/// Names of the registered scenarios ("campaigns", "ecommerce", "orders"), in name order.
std::vector<std::string> ScenarioNames();

/// Creates scenario `name`. Errors: unknown name (the message lists the known ones), invalid
/// common options, unknown or out-of-range params (the message lists the known params).
Result<std::unique_ptr<Scenario>> MakeScenario(std::string_view name, const Options& options);

}  // namespace weir::simulate
