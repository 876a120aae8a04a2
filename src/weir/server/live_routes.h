// Live push over HTTP: Server-Sent Events and WebSocket transports of a LiveHub.
//
//   LiveHub hub(pipeline->metric_schemas(), {.ring_rows = 10000});
//   pipeline->AddResultListener(&hub);
//   WEIR_RETURN_IF_ERROR(RegisterLiveRoutes(*server, hub, *pipeline));
//
// Routes (the protocol is described in README.md, "Live push"):
//   GET /api/v1/stream          SSE: ?metrics=a,b&<group key>=<value>&last_event_id=a=120;b=88
//   WS  /api/v1/ws              WebSocket: {"subscribe":[…]}, {"unsubscribe":[…]}, {"resume":{…}}
//   WS  /api/v1/stream/metrics  the same (seed 004's path)
//   GET /api/v1/live            the hub's counters and ring sizes (LiveHub::StatsJson)
//
// Threads: each client is served on its connection's IO thread. The hub wakes a client by
// posting to that thread; the client then pulls rows from the hub while its backlog stays
// under LiveOptions::low_water_bytes, and waits for its connection to drain otherwise, so a
// slow client costs no memory beyond the hub's rings and never delays anyone else.
#pragma once

#include "weir/runtime/pipeline.h"
#include "weir/server/http_server.h"
#include "weir/server/live_hub.h"
#include "weir/store/result_store.h"

namespace weir::server {

/// Registers the live routes of `hub` on `server`. The hub must outlive the server (Stop it
/// first). Snapshots come from the hub's snapshot source (set it before clients connect).
Status RegisterLiveRoutes(HttpServer& server, LiveHub& hub);

/// The same, with the hub's snapshots read from `pipeline`'s result store.
Status RegisterLiveRoutes(HttpServer& server, LiveHub& hub, runtime::Pipeline& pipeline);

/// Snapshots from the result store: the rows of the metric's latest window (by window start,
/// among rows passing the filters); every row for a metric without windows. `store` must
/// outlive the source.
SnapshotSource StoreSnapshotSource(store::ResultStore& store);

}  // namespace weir::server
