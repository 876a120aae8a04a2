// Wall-clock pacing; see pacer.h.
#include "weir/simulate/pacer.h"

#include <algorithm>
#include <cmath>

#include "weir/base/time.h"

namespace weir::simulate {

Pacer::Pacer(double events_per_second, size_t max_per_call)
    : rate_(events_per_second),
      unpaced_(!(events_per_second > 0) || !std::isfinite(events_per_second)),
      start_nanos_(MonotonicNanos()) {
  if (max_per_call == 0)
    max_per_call = unpaced_ ? 1024 : static_cast<size_t>(std::max(1.0, std::ceil(rate_ / 10)));
  max_per_call_ = max_per_call;
  max_backlog_ = unpaced_ ? 0 : std::max(rate_, static_cast<double>(max_per_call_));
}

size_t Pacer::Due() { return DueAt(MonotonicNanos()); }

size_t Pacer::DueAt(int64_t now_nanos) {
  if (unpaced_) {
    produced_ += max_per_call_;
    return max_per_call_;
  }
  // Events owed since the start: floor(elapsed * rate), relative to what was handed out and
  // what was written off.
  double owed_total = std::floor(static_cast<double>(now_nanos - start_nanos_) * 1e-9 * rate_);
  double owed = owed_total - static_cast<double>(produced_ + skipped_);
  if (owed <= 0) return 0;
  if (owed > max_backlog_) {
    auto forget = static_cast<uint64_t>(owed - max_backlog_);
    skipped_ += forget;
    owed -= static_cast<double>(forget);
  }
  size_t n = static_cast<size_t>(std::min(owed, static_cast<double>(max_per_call_)));
  produced_ += n;
  return n;
}

int64_t Pacer::NanosUntilNext() const { return NanosUntilNextAt(MonotonicNanos()); }

int64_t Pacer::NanosUntilNextAt(int64_t now_nanos) const {
  if (unpaced_) return 0;
  // The next event is number produced + skipped + 1, due at that many intervals after start.
  double due_at = static_cast<double>(produced_ + skipped_ + 1) / rate_ * 1e9;
  double wait = due_at - static_cast<double>(now_nanos - start_nanos_);
  return wait <= 0 ? 0 : static_cast<int64_t>(std::ceil(wait));
}

}  // namespace weir::simulate
