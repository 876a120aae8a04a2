// Weir's HTTP API over a running pipeline: ingest, queries, status and health.
//
//   WEIR_ASSIGN_OR_RETURN(auto server, HttpServer::Make({.host = "127.0.0.1", .port = 8080}));
//   RegisterApi(*server, pipeline);
//   server->Start();
//
// Routes:
//   POST <source path>                  events for each `http` source (default /api/v1/events)
//   GET  /health                        {"status","timestamp","services","metrics"}; 503 if failing
//   GET  /metrics                       Prometheus text format
//   GET  /api/v1/status                 sources, metrics (watermarks, why windows wait), sinks
//   GET  /api/v1/metrics                the pipeline's metrics (or ?metric=<id>&… as a query)
//   GET  /api/v1/metrics/{id}           ?start=&end=&limit=&order=asc|desc&<group key>=<value>
//   GET  /api/v1/metrics/{id}/late      late records: ?start=&end=&limit=
#pragma once

#include <functional>

#include "weir/runtime/pipeline.h"
#include "weir/server/http_server.h"

namespace weir::server {

/// Threads that run queries, so that a long read never holds up an IO thread (and with it
/// /health and ingest on the same connections' thread).
class ApiWorkers {
 public:
  explicit ApiWorkers(int threads);
  ~ApiWorkers();
  /// Runs `task` on a worker. After Stop, does nothing (the task is dropped).
  void Run(std::function<void()> task);
  /// Drops queued tasks (their Responders answer 500 or nothing) and waits for running ones.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Registers every API route for `pipeline` on `server`. The pipeline must outlive the server.
/// With `workers`, queries run on them (stop them after the server, before the pipeline);
/// without, on the IO threads.
Status RegisterApi(HttpServer& server, runtime::Pipeline& pipeline,
                   std::function<uint64_t()> live_subscribers = nullptr, ApiWorkers* workers = nullptr);

/// Parses a time parameter: ISO-8601, epoch seconds or milliseconds, "now", or relative to now
/// such as "-1h" or "-15m".
Result<Timestamp> ParseTimeParam(std::string_view text, Timestamp now);

}  // namespace weir::server
