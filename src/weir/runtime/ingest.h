// Push-style inputs served by Weir's HTTP server (the `http` source).
//
// The server module owns the sockets; a source that accepts pushed data implements
// IngestEndpoint and the server routes POSTs on path() to it. Ingest may complete `done` on any
// thread, later (for example once the batch is durable).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace weir::runtime {

struct IngestReply {
  int status = 202;
  std::string body;       ///< JSON
  int retry_after_s = 0;  ///< > 0: send Retry-After
};

struct IngestRequest {
  std::string body;
  std::string content_type;
  /// Idempotency-Key header: a request repeated with the same key (a retry after a timeout or
  /// a crash) is answered as the first one was and not counted again.
  std::string idempotency_key;
};

/// An HTTP path that accepts events.
class IngestEndpoint {
 public:
  virtual ~IngestEndpoint() = default;
  virtual const std::string& path() const = 0;
  /// Decodes, logs and enqueues the body; calls `done` exactly once (possibly on another thread).
  virtual void Ingest(IngestRequest&& request, std::function<void(IngestReply)> done) = 0;
};

}  // namespace weir::runtime
