// Q3's state for the floor programs: unique users per hour (tumbling 1h), exact and approximate
// (HyperLogLog, 2^14 registers) over every event.
//
// Usage:
//   bench_floor::UniqueUsers q3;
//   q3.Add(ts_ms, user_id);   // for each event
//   q3.Emit(out, "");         // one row per hour: users, users_approx
#pragma once

#include <absl/container/flat_hash_set.h>

#include <cmath>
#include <map>
#include <string>
#include <string_view>

#include "floor_common.h"

namespace weir::bench_floor {

/// The set of user ids and a HyperLogLog sketch per hour.
class UniqueUsers {
 public:
  void Add(int64_t ts, std::string_view user) {
    int64_t start = AlignDown(ts, kHour);
    if (last_ == nullptr || last_start_ != start) {
      last_ = &hours_[start];
      last_start_ = start;
    }
    // Debian's abseil has its own string_view type, which the transparent lookup takes.
    last_->users.lazy_emplace(absl::string_view(user.data(), user.size()),
                              [&](const auto& construct) { construct(user); });
    last_->approx.Add(HashBytes(user));
  }

  void Emit(Out& out, std::string_view metric) const {
    for (const auto& [start, h] : hours_) {
      out.WindowPrefix(metric, start, start + kHour);
      out.Raw(",\"users\":");
      out.Int(static_cast<int64_t>(h.users.size()));
      out.Raw(",\"users_approx\":");
      out.Int(static_cast<int64_t>(std::llround(h.approx.Estimate())));
      out.Raw("}\n");
    }
  }

 private:
  struct Hour {
    absl::flat_hash_set<std::string> users;
    Hll approx;
  };
  std::map<int64_t, Hour> hours_;  // node-based: last_ stays valid as hours are added
  Hour* last_ = nullptr;
  int64_t last_start_ = 0;
};

}  // namespace weir::bench_floor
