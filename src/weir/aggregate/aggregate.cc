#include "weir/aggregate/aggregate.h"

#include "weir/aggregate/basic.h"
#include "weir/aggregate/sketches.h"

namespace weir::aggregate {

const std::vector<AggregateInfo>& AllAggregates() {
  static const std::vector<AggregateInfo> kAll = {
      {"count", 0, 0, {}, "number of records"},
      {"count_if", 1, 1, {}, "number of records for which the condition is true"},
      {"sum", 1, 1, {}, "sum of the non-null values"},
      {"sum_if", 2, 2, {}, "sum of the values of records for which the condition is true"},
      {"avg", 1, 1, {}, "mean of the non-null values"},
      {"min", 1, 1, {}, "smallest value"},
      {"max", 1, 1, {}, "largest value"},
      {"first", 1, 1, {}, "value with the earliest event time"},
      {"last", 1, 1, {}, "value with the latest event time"},
      {"count_distinct", 1, 1, {}, "exact number of distinct non-null values"},
      {"approx_distinct", 1, 1, {}, "approximate number of distinct non-null values (HyperLogLog, ~0.8% error)"},
      {"percentile", 2, 2, {1}, "q-quantile of the numeric values, 0 <= q <= 1, within 1% relative error (DDSketch)"},
      {"median", 1, 1, {}, "percentile(x, 0.5)"},
      {"top_k", 2, 2, {1}, "the k most frequent non-null values with their counts, as a JSON array"},
  };
  return kAll;
}

const AggregateInfo* FindAggregate(std::string_view name) {
  for (const auto& a : AllAggregates())
    if (a.name == name) return &a;
  return nullptr;
}

Result<AggregatePtr> MakeAggregate(std::string_view name, int args, const AggregateOptions& options) {
  const AggregateInfo* info = FindAggregate(name);
  if (!info) return Fail("unknown aggregate function '{}'", name);
  if (args < info->min_args || args > info->max_args) {
    if (info->min_args == info->max_args)
      return Fail("{}() takes {} argument{}, got {}", name, info->min_args, info->min_args == 1 ? "" : "s", args);
    return Fail("{}() takes {} to {} arguments, got {}", name, info->min_args, info->max_args, args);
  }
  if (name == "count") return MakeCount(false);
  if (name == "count_if") return MakeCount(true);
  if (name == "sum") return MakeSum();
  if (name == "sum_if") return MakeSumIf();
  if (name == "avg") return MakeAvg();
  if (name == "min") return MakeExtreme(false, options.insert_only);
  if (name == "max") return MakeExtreme(true, options.insert_only);
  if (name == "first") return MakeEdge(false);
  if (name == "last") return MakeEdge(true);
  if (name == "count_distinct") return MakeCountDistinct();
  if (name == "approx_distinct") return MakeApproxDistinct();
  if (name == "median") return MakePercentile(name, Value::Double(0.5));
  // Constant arguments arrive evaluated in options.constants; a missing one reads as null.
  auto constant = [&](size_t k) { return k < options.constants.size() ? options.constants[k] : Value::Null(); };
  if (name == "percentile") return MakePercentile(name, constant(1));
  if (name == "top_k") return MakeTopK(constant(1));
  return Fail("unknown aggregate function '{}'", name);
}

}  // namespace weir::aggregate
