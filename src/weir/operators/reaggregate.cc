// Query-time re-aggregation: stored partial states merged into coarser windows and/or fewer
// group keys, exactly (avg from sum and count, distinct counts and sketches merged).
#include <absl/container/flat_hash_map.h>
#include <fmt/format.h>

#include "weir/aggregate/state_io.h"
#include "weir/model/key_codec.h"
#include "weir/operators/window_metric.h"

namespace weir::operators {

Result<std::vector<std::string>> WindowMetric::Reaggregate(const std::vector<store::StoredState>& rows,
                                                           const runtime::ReaggregateRequest& req,
                                                           std::vector<store::StoredState>* merged) const {
  const std::string& id = plan_.schema.id;
  if (plan_.window.kind != spec::WindowKind::kTumbling)
    return Fail("metric '{}' has {} windows; 'window' and 'group_by' re-aggregate tumbling windows only", id,
                plan_.window.kind == spec::WindowKind::kNone ? "no" : "overlapping or per-group");
  const Duration size = plan_.window.size;
  const Duration target = req.window ? req.window : size;
  if (target < size || target % size != 0)
    return Fail("window {} cannot be built from metric '{}' windows of {}: it must be a multiple of {}",
                FormatDuration(target), id, FormatDuration(size), FormatDuration(size));
  if (plan_.schema.top_n)
    return Fail("metric '{}' keeps only its top rows (order_by/limit or having); they cannot be re-aggregated", id);
  const auto& names = plan_.schema.key_names;
  std::vector<size_t> picked;  // indexes of kept keys
  for (const auto& g : req.group_by) {
    auto it = std::find(names.begin(), names.end(), g);
    if (it == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      return Fail("'{}' is not a group key of metric '{}' (group keys: {})", g, id, known.empty() ? "none" : known);
    }
    picked.push_back(static_cast<size_t>(it - names.begin()));
  }
  const uint32_t K = key_count_, S = select_count_, A = agg_count_;

  // (target window, kept keys) -> merged state
  struct Acc {
    Timestamp start;
    std::string keys;
    std::unique_ptr<char[]> state;
  };
  std::vector<Acc> accs;
  absl::flat_hash_map<std::string, size_t> index;
  std::vector<char> scratch(plan_.state_size);
  Arena arena;
  std::string key;
  auto destroy = [&](char* st) {
    for (const auto& a : plan_.aggregates)
      if (a.fn->has_destructor()) a.fn->Destroy(st + a.offset);
  };
  auto init = [&](char* st) {
    *reinterpret_cast<int64_t*>(st) = 0;
    for (const auto& a : plan_.aggregates) a.fn->Init(st + a.offset);
  };
  Status status = Ok();
  std::vector<Value> kv;
  std::string kept;
  for (const auto& r : rows) {
    std::string_view tuple = r.keys;
    kv.clear();
    for (uint32_t k = 0; k < K; ++k) kv.push_back(DecodeKey(tuple, &arena));
    kept.clear();
    for (size_t p : picked) EncodeKey(kv[p], kept);
    Timestamp start = AlignDown(r.window_start, target);
    key.assign(reinterpret_cast<const char*>(&start), 8);
    key += kept;
    auto [it, inserted] = index.try_emplace(key, accs.size());
    if (inserted) {
      accs.push_back({start, kept, std::make_unique<char[]>(plan_.state_size)});
      init(accs.back().state.get());
    }
    char* acc = accs[it->second].state.get();
    init(scratch.data());
    std::string_view in = r.state;
    int64_t count = 0;
    Status st = aggregate::GetI64(in, &count);
    for (const auto& a : plan_.aggregates)
      if (st) st = a.fn->Deserialize(scratch.data() + a.offset, in);
    if (!st) {
      destroy(scratch.data());
      status = Fail("a stored row of metric '{}' has no usable partial state ({}); was it written by an older "
                    "version of weir?",
                    id, st.error().message);
      break;
    }
    *reinterpret_cast<int64_t*>(acc) = aggregate::AddCount(*reinterpret_cast<int64_t*>(acc), count);
    for (const auto& a : plan_.aggregates) a.fn->Merge(acc + a.offset, scratch.data() + a.offset);
    destroy(scratch.data());
  }

  std::vector<std::string> out;
  std::vector<Value> vals(K + S + A);
  if (status) {
    std::sort(accs.begin(), accs.end(), [](const Acc& a, const Acc& b) {
      return a.start != b.start ? a.start < b.start : a.keys < b.keys;
    });
    for (const Acc& acc : accs) {
      if (*reinterpret_cast<const int64_t*>(acc.state.get()) <= 0) continue;
      std::fill(vals.begin(), vals.end(), Value::Null());
      std::string_view t = acc.keys;
      for (size_t p : picked) vals[p] = DecodeKey(t, &arena);
      for (uint32_t a = 0; a < A; ++a)
        vals[K + S + a] = plan_.aggregates[a].fn->Finalize(acc.state.get() + plan_.aggregates[a].offset, arena);
      for (uint32_t s = 0; s < S; ++s) vals[K + s] = plan_.selects[s]->Eval(vals.data(), arena);
      std::string row = "{\"metric\":";
      AppendJsonString(row, id);
      row += ",\"window_start\":";
      AppendJson(row, Value::Time(acc.start));
      row += ",\"window_end\":";
      AppendJson(row, Value::Time(acc.start + target));
      for (size_t p : picked) {
        row += ',';
        AppendJsonString(row, names[p]);
        row += ':';
        AppendJson(row, vals[p]);
      }
      for (uint32_t s = 0; s < S; ++s) {
        row += ',';
        AppendJsonString(row, plan_.schema.value_names[s]);
        row += ':';
        AppendJson(row, vals[K + s]);
      }
      row += '}';
      out.push_back(std::move(row));
      if (merged) {
        store::StoredState ms{acc.start, acc.keys, {}};
        aggregate::PutI64(ms.state, *reinterpret_cast<const int64_t*>(acc.state.get()));
        for (const auto& a : plan_.aggregates) a.fn->Serialize(acc.state.get() + a.offset, ms.state);
        merged->push_back(std::move(ms));
      }
    }
  }
  for (Acc& acc : accs) destroy(acc.state.get());
  if (!status) return std::unexpected(status.error());
  return out;
}

}  // namespace weir::operators
