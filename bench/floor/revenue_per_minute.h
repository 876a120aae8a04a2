// Q1's state for the floor programs: revenue per minute by currency (tumbling 1m; count,
// sum(amount), avg(amount)) over purchase_completed events.
//
// Usage:
//   bench_floor::RevenuePerMinute q1;
//   q1.Add(ts_ms, currency, amount);   // for each purchase_completed event
//   q1.Emit(out, "");                  // rows ordered by window, then currency
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "floor_common.h"

namespace weir::bench_floor {

/// Count, sum and average of amounts per (1-minute window, currency).
class RevenuePerMinute {
 public:
  void Add(int64_t ts, std::string_view currency, double amount) {
    Agg& a = windows_[{AlignDown(ts, kMinute), CurrencyId(currency)}];
    ++a.count;
    a.sum += amount;
  }

  void Emit(Out& out, std::string_view metric) const {
    std::vector<std::pair<std::pair<int64_t, uint32_t>, Agg>> rows(windows_.begin(), windows_.end());
    std::sort(rows.begin(), rows.end(), [&](const auto& x, const auto& y) {
      if (x.first.first != y.first.first) return x.first.first < y.first.first;
      return currencies_[x.first.second] < currencies_[y.first.second];
    });
    for (const auto& [key, a] : rows) {
      out.WindowPrefix(metric, key.first, key.first + kMinute);
      out.Raw(",\"currency\":");
      out.Str(currencies_[key.second]);
      out.Raw(",\"count\":");
      out.Int(a.count);
      out.Raw(",\"total_revenue\":");
      out.Double(a.sum);
      out.Raw(",\"avg_order_value\":");
      out.Double(a.sum / static_cast<double>(a.count));
      out.Raw("}\n");
    }
  }

 private:
  struct Agg {
    int64_t count = 0;
    double sum = 0;
  };

  // A handful of currencies: a linear scan beats hashing the string.
  uint32_t CurrencyId(std::string_view c) {
    for (uint32_t i = 0; i < currencies_.size(); ++i)
      if (currencies_[i] == c) return i;
    currencies_.emplace_back(c);
    return static_cast<uint32_t>(currencies_.size() - 1);
  }

  std::vector<std::string> currencies_;
  absl::flat_hash_map<std::pair<int64_t, uint32_t>, Agg> windows_;
};

}  // namespace weir::bench_floor
