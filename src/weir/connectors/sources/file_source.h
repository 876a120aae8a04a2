// `file` source: replays an NDJSON file (plain or gzip), then ends.
//
//   - type: file
//     id: replay
//     config: { path: events.ndjson.gz, chunk_bytes: 1MiB, changes: false, progress: auto }
//
// Reading runs on its own thread and blocks when the pipeline is full. A malformed line is
// counted, logged with its line number (the first few), and skipped. On a terminal, progress
// (bytes, events, rate) is shown on stderr unless `progress: false`.
#pragma once

#include <memory>

#include "weir/runtime/registry.h"

namespace weir::connectors {
std::unique_ptr<runtime::Source> MakeFileSource(const spec::SourceSpec& spec, runtime::PlanContext& ctx);
}  // namespace weir::connectors
