// Registration of every source and sink this build of weir knows.
#pragma once

#include "weir/runtime/registry.h"

namespace weir::connectors {
void RegisterConnectors(runtime::Registry& registry);
}  // namespace weir::connectors
