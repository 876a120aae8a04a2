#include "weir/operators/processors.h"
#include "weir/operators/window_metric.h"

namespace weir::operators {

void RegisterOperators(runtime::Registry& registry) {
  registry.AddProcessor("filter", "keeps records for which `where` is true", MakeFilter);
  registry.AddProcessor("set", "computes fields from expressions", MakeSet);
  registry.SetMetricFactory(MakeWindowMetric);
}

}  // namespace weir::operators
