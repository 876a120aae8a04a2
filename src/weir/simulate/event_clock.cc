// Event timestamps; see event_clock.h.
#include "weir/simulate/event_clock.h"

#include <algorithm>

namespace weir::simulate {

EventClock::EventClock(const Options& o)
    : start_(o.start_time),
      ms_per_event_(1000.0 / o.events_per_second_of_event_time),
      max_disorder_(std::max<Duration>(0, o.max_disorder)),
      small_disorder_(std::min<Duration>(250, max_disorder_)),
      realtime_(o.realtime),
      frontier_(o.realtime ? NowMillis() : o.start_time),
      last_(frontier_) {}

Timestamp EventClock::Next(Rng& rng) {
  Timestamp base;
  if (realtime_) {
    // The wall clock may step back (NTP); the base never does, so the disorder bound holds.
    base = std::max(frontier_, NowMillis());
  } else {
    base = start_ + static_cast<Timestamp>(static_cast<double>(count_) * ms_per_event_);
  }
  ++count_;
  frontier_ = base;
  Timestamp t = base;
  if (max_disorder_ > 0) {
    uint64_t r = rng.Below(100);
    if (r >= 97) {
      t -= static_cast<Duration>(rng.Below(static_cast<uint64_t>(max_disorder_) + 1));
    } else if (r >= 85) {
      t -= static_cast<Duration>(rng.Below(static_cast<uint64_t>(small_disorder_) + 1));
    }
  }
  last_ = t;
  return t;
}

}  // namespace weir::simulate
