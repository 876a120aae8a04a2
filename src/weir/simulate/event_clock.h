// Event timestamps for generated streams: a base time that advances at a fixed event-time rate
// (or follows the wall clock in realtime mode), with each event jittered backwards.
//
//   EventClock clock(options);
//   Timestamp t = clock.Next(rng);   // this event's timestamp
//   clock.frontier();                // its un-jittered time; later events are >= frontier - max_disorder
#pragma once

#include <cstdint>

#include "weir/base/time.h"
#include "weir/simulate/random.h"
#include "weir/simulate/simulator.h"

namespace weir::simulate {

/// Hands out event timestamps: mostly increasing, with bounded, realistic lateness.
///
/// Lateness model (why: real streams are mostly in order, with a network-jitter band and a
/// few stragglers such as mobile clients retrying): 85% of events are on time, 12% are up to
/// min(250 ms, max_disorder) late, 3% are up to max_disorder late, uniformly within each band.
class EventClock {
 public:
  explicit EventClock(const Options& options);

  /// The timestamp of the next event. Uses one or two draws from rng (none when
  /// max_disorder is 0).
  Timestamp Next(Rng& rng);

  Timestamp last() const { return last_; }
  Timestamp frontier() const { return frontier_; }
  uint64_t count() const { return count_; }

 private:
  Timestamp start_;
  double ms_per_event_;
  Duration max_disorder_;
  Duration small_disorder_;
  bool realtime_;
  uint64_t count_ = 0;
  Timestamp frontier_;
  Timestamp last_;
};

/// A scenario whose events take their times from an EventClock: the clock answers for the
/// scenario's times and count.
class ClockedScenario : public Scenario {
 public:
  Timestamp last_event_time() const override { return clock_.last(); }
  Timestamp event_time_frontier() const override { return clock_.frontier(); }
  uint64_t events_generated() const override { return clock_.count(); }

 protected:
  explicit ClockedScenario(const Options& options) : clock_(options) {}
  EventClock clock_;
};

}  // namespace weir::simulate
