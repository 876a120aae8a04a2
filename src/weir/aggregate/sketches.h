// Constructors of the sketch and ranking aggregates, used by the registry in aggregate.cc:
//   approx_distinct(x)  HyperLogLog (approx_distinct.cc)
//   percentile(x, q)    DDSketch, also median(x) = percentile(x, 0.5) (percentile.cc)
//   top_k(x, k)         exact counts, the k most frequent values as JSON (top_k.cc)
//
// The constructors validate the constant arguments and return user-facing errors:
//
//   auto p = MakePercentile("percentile", Value::Double(0.99));   // Result<AggregatePtr>
//   auto bad = MakeTopK(Value::Int(0));  // "top_k(x, k): k must be an integer between 1 and 10000, got 0"
#pragma once

#include <cstdint>
#include <string_view>

#include "weir/aggregate/aggregate.h"

namespace weir::aggregate {

/// HyperLogLog precision of approx_distinct: 2^14 registers, standard error 1.04/sqrt(2^14) ≈ 0.81%.
inline constexpr int kHllPrecision = 14;
/// Relative accuracy of percentile/median: the result is within 1% of a value at the requested rank.
inline constexpr double kPercentileRelativeAccuracy = 0.01;
/// Buckets per sign in a percentile state; beyond that the lowest values share one bucket.
inline constexpr int32_t kPercentileMaxBuckets = 2048;
/// Largest k accepted by top_k.
inline constexpr int64_t kTopKMax = 10000;

AggregatePtr MakeApproxDistinct();
/// `name` is "percentile" or "median" (what name() reports); q must be a number in [0, 1].
Result<AggregatePtr> MakePercentile(std::string_view name, const Value& q);
/// k must be an integer in [1, kTopKMax].
Result<AggregatePtr> MakeTopK(const Value& k);

}  // namespace weir::aggregate
