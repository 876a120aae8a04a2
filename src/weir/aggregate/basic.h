// Constructors of the basic aggregates (used by the registry in aggregate.cc).
#pragma once

#include "weir/aggregate/aggregate.h"

namespace weir::aggregate {
AggregatePtr MakeCount(bool conditional);
AggregatePtr MakeSum();
AggregatePtr MakeSumIf();
AggregatePtr MakeAvg();
AggregatePtr MakeExtreme(bool is_max, bool insert_only);
AggregatePtr MakeEdge(bool last);
AggregatePtr MakeCountDistinct();
}  // namespace weir::aggregate
