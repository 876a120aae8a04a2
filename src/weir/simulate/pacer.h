// Wall-clock pacing for real-time generation: tells a generator loop how many events are due.
//
//   Pacer pacer(5000);                      // 5000 events per second
//   while (running) {
//     size_t n = pacer.Due();
//     scenario->NextLines(buf, n);
//     if (n == 0) std::this_thread::sleep_for(std::chrono::nanoseconds(pacer.NanosUntilNext()));
//   }
//
// Pair it with Options::realtime = true so event timestamps follow the wall clock too.
#pragma once

#include <cstddef>
#include <cstdint>

namespace weir::simulate {

/// Converts elapsed (monotonic) time into a number of events due at a fixed rate.
///
/// Due() is capped per call so one call never asks for an unbounded burst; what is owed stays
/// owed for the next call. A caller that falls more than one second (of events) behind, e.g.
/// while blocked by backpressure, does not get the whole backlog as a burst later: the excess
/// is forgotten and counted in skipped(). A rate <= 0 (or NaN) means unpaced: every call
/// returns max_per_call. Not thread-safe; one generator loop owns a Pacer.
class Pacer {
 public:
  /// max_per_call 0 picks a tenth of a second of events (at least 1).
  explicit Pacer(double events_per_second, size_t max_per_call = 0);

  /// How many events are due now by the monotonic clock, at most max_per_call; those are
  /// counted as produced.
  size_t Due();
  /// Same, at a given MonotonicNanos() reading (for tests and for callers that have one).
  size_t DueAt(int64_t now_nanos);

  /// Nanoseconds until the next event is due (0 if one is due already), for sleeping.
  int64_t NanosUntilNext() const;
  int64_t NanosUntilNextAt(int64_t now_nanos) const;

  /// The MonotonicNanos() reading at construction; event k (from 1) is due at
  /// start_nanos() + k / rate seconds.
  int64_t start_nanos() const { return start_nanos_; }
  double rate() const { return rate_; }
  size_t max_per_call() const { return max_per_call_; }
  /// Events handed out by Due() so far.
  uint64_t produced() const { return produced_; }
  /// Events forgotten because the caller fell more than a second behind.
  uint64_t skipped() const { return skipped_; }

 private:
  double rate_;
  bool unpaced_;
  size_t max_per_call_;
  double max_backlog_;
  int64_t start_nanos_;
  uint64_t produced_ = 0;
  uint64_t skipped_ = 0;
};

}  // namespace weir::simulate
