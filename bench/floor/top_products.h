// Q2's state for the floor programs: top 10 products by views (product_view events) per 5-minute
// window sliding every minute.
//
// Usage:
//   bench_floor::TopProducts q2;
//   q2.Add(ts_ms, product_id);   // for each product_view event
//   q2.Emit(out, "");            // per window: the 10 most viewed products, most views first
//
// Ties are broken as Weir does (WindowMetric::FireWindow/EmitItems): a window's groups are taken
// pane by pane (1-minute panes, oldest first), each pane's groups in the order they first
// appeared in it, then stably sorted by views, descending.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "floor_common.h"

namespace weir::bench_floor {

/// Views per product per 1-minute pane, merged into 5-minute windows at the end.
class TopProducts {
 public:
  static constexpr int64_t kSize = 5 * kMinute;
  static constexpr int64_t kSlide = kMinute;
  static constexpr size_t kLimit = 10;

  void Add(int64_t ts, std::string_view product) {
    uint32_t id = ProductId(product);
    int64_t start = AlignDown(ts, kSlide);
    // Events arrive nearly in time order: most go to the pane of the previous event.
    if (last_ == nullptr || last_start_ != start) {
      last_ = &panes_[start];
      last_start_ = start;
    }
    auto [it, inserted] = last_->index.try_emplace(id, static_cast<uint32_t>(last_->rows.size()));
    if (inserted) last_->rows.push_back({id, 0});
    ++last_->rows[it->second].views;
  }

  void Emit(Out& out, std::string_view metric) const {
    if (panes_.empty()) return;
    absl::flat_hash_map<uint32_t, uint32_t> index;
    std::vector<Row> merged;
    std::vector<uint32_t> order;
    const int64_t first = panes_.begin()->first - (kSize - kSlide);
    const int64_t last = panes_.rbegin()->first;
    for (int64_t ws = first; ws <= last; ws += kSlide) {
      auto lo = panes_.lower_bound(ws), hi = panes_.lower_bound(ws + kSize);
      if (lo == hi) continue;
      index.clear();
      merged.clear();
      for (auto p = lo; p != hi; ++p) {
        for (const Row& r : p->second.rows) {
          auto [it, inserted] = index.try_emplace(r.product, static_cast<uint32_t>(merged.size()));
          if (inserted) merged.push_back({r.product, 0});
          merged[it->second].views += r.views;
        }
      }
      order.resize(merged.size());
      for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
      std::stable_sort(order.begin(), order.end(),
                       [&](uint32_t x, uint32_t y) { return merged[x].views > merged[y].views; });
      if (order.size() > kLimit) order.resize(kLimit);
      for (uint32_t i : order) {
        out.WindowPrefix(metric, ws, ws + kSize);
        out.Raw(",\"product_id\":");
        out.Str(names_[merged[i].product]);
        out.Raw(",\"views\":");
        out.Int(merged[i].views);
        out.Raw("}\n");
      }
    }
  }

 private:
  struct Row {
    uint32_t product;
    int64_t views;
  };
  struct Pane {
    absl::flat_hash_map<uint32_t, uint32_t> index;  // product -> position in rows
    std::vector<Row> rows;                          // first-seen order
  };

  uint32_t ProductId(std::string_view p) {
    // Debian's abseil has its own string_view type, which the transparent lookup takes.
    auto it = ids_.find(absl::string_view(p.data(), p.size()));
    if (it != ids_.end()) return it->second;
    names_.emplace_back(p);
    ids_.emplace(std::string(p), static_cast<uint32_t>(names_.size() - 1));
    return static_cast<uint32_t>(names_.size() - 1);
  }

  absl::flat_hash_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;
  std::map<int64_t, Pane> panes_;  // node-based: last_ stays valid as panes are added
  Pane* last_ = nullptr;
  int64_t last_start_ = 0;
};

}  // namespace weir::bench_floor
