// Factories of the built-in processors and of the metric operator, and their registration.
#pragma once

#include <memory>

#include "weir/runtime/registry.h"

namespace weir::operators {

std::unique_ptr<runtime::Processor> MakeFilter(const spec::ProcessorSpec& spec, runtime::PlanContext& ctx);
std::unique_ptr<runtime::Processor> MakeSet(const spec::ProcessorSpec& spec, runtime::PlanContext& ctx);

/// Registers `filter`, `set` and the window metric.
void RegisterOperators(runtime::Registry& registry);

}  // namespace weir::operators
