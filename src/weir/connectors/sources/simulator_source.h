// `simulator` source: realistic generated events (see src/weir/simulate), for demos and tests.
//
//   - type: simulator
//     id: sim
//     config:
//       scenario: ecommerce   # or campaigns
//       rate: 2000            # events per second of wall clock; 0 = as fast as possible
//       count: 0              # stop after this many events (then the source ends); 0 = forever
//       seed: 42
//       realtime: true        # event time follows the wall clock (default when rate > 0)
//       start_time: 2026-02-16T10:30:00Z   # first event time when not realtime
//       max_disorder: 3s
//       params: { users: 100000, products: 10000 }
#pragma once

#include <memory>

#include "weir/runtime/registry.h"

namespace weir::connectors {
std::unique_ptr<runtime::Source> MakeSimulatorSource(const spec::SourceSpec& spec, runtime::PlanContext& ctx);
}  // namespace weir::connectors
