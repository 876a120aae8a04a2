// `file` and `stdout` sinks: NDJSON lines of events, metric results or late records.
//
//   - type: file
//     id: out
//     from: metric:revenue_per_minute
//     config: { path: out/revenue.ndjson, append: false }
//   - type: stdout
//     from: late:revenue_per_minute
#pragma once

#include <memory>

#include "weir/runtime/registry.h"

namespace weir::connectors {
std::unique_ptr<runtime::Sink> MakeFileSink(const spec::SinkSpec& spec, runtime::PlanContext& ctx);
std::unique_ptr<runtime::Sink> MakeStdoutSink(const spec::SinkSpec& spec, runtime::PlanContext& ctx);
}  // namespace weir::connectors
