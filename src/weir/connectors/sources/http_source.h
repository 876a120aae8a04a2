// `http` source: events pushed to Weir's HTTP server.
//
//   - type: http
//     id: ingest
//     config: { path: /api/v1/events, max_event_bytes: 1MiB, changes: false }
//
// POST accepts one JSON object, {"events":[…]}, a JSON array, or NDJSON
// (Content-Type: application/x-ndjson). The reply is 202 {"accepted":n,"rejected":m,"errors":[…]}
// with the index and reason of each rejected event; 400 when nothing in the body is usable;
// 415 for other content types; 503 with Retry-After when the pipeline is full.
#pragma once

#include <memory>

#include "weir/runtime/registry.h"

namespace weir::connectors {
std::unique_ptr<runtime::Source> MakeHttpSource(const spec::SourceSpec& spec, runtime::PlanContext& ctx);
}  // namespace weir::connectors
