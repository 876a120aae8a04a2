#include "weir/connectors/connectors.h"

#include "weir/connectors/sinks/file_sink.h"
#include "weir/connectors/sources/file_source.h"
#include "weir/connectors/sources/http_source.h"
#include "weir/connectors/sources/simulator_source.h"

namespace weir::connectors {

void RegisterConnectors(runtime::Registry& registry) {
  registry.AddSource("http", "events pushed over HTTP (JSON, batches, NDJSON)", MakeHttpSource);
  registry.AddSource("file", "replays an NDJSON file (plain or gzip)", MakeFileSource);
  registry.AddSource("simulator", "generated e-commerce or campaign events", MakeSimulatorSource);
  registry.AddSink("file", "writes NDJSON to a file", MakeFileSink);
  registry.AddSink("stdout", "writes NDJSON to standard output", MakeStdoutSink);
}

}  // namespace weir::connectors
