// Internal to the server module: maps a request's method and path to a handler, a static
// directory, or a 404/405 answer. Built before the server starts, read-only afterwards (so
// IO threads match without locking).
//
//   Router r;
//   r.Add("GET", "/api/v1/metrics/{id}", handler);
//   RouteMatch m;
//   r.Match(request, raw_path, m);   // fills request.path_params
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/base/result.h"
#include "weir/server/http_server.h"

namespace weir::server::detail {

/// A directory served under a URL prefix.
struct StaticMount {
  std::string prefix;     ///< "/" or "/ui" (never a trailing slash except for "/")
  std::string directory;  ///< canonical absolute path, no trailing slash
};

/// A WebSocket endpoint: what decides on upgrades, and the connection's limits.
struct WebSocketRoute {
  WebSocketHandler handler;
  WebSocketOptions options;
};

/// What a request resolved to.
struct RouteMatch {
  enum class Kind { kNotFound, kHandler, kStatic, kMethodNotAllowed };
  Kind kind = Kind::kNotFound;
  const Handler* handler = nullptr;
  /// Set with kHandler when the route is a WebSocket endpoint; `handler` then answers requests
  /// that do not ask for an upgrade (426).
  const WebSocketRoute* websocket = nullptr;
  const StaticMount* mount = nullptr;
  std::string_view static_path;  ///< decoded path below the mount's prefix ("" or "/...")
  std::string allow;             ///< for kMethodNotAllowed: "GET, HEAD"
};

/// Routes by exact path, then `{param}` patterns in registration order, then static mounts.
class Router {
 public:
  Status Add(std::string_view method, std::string_view pattern, Handler handler);
  /// A WebSocket endpoint, matched as a GET route.
  Status AddWebSocket(std::string_view pattern, WebSocketRoute route);
  Status AddStatic(std::string_view url_prefix, std::string_view directory);

  /// Matches request.method and request.path (decoded) / raw_path (percent-encoded, used to
  /// split pattern segments so an encoded '/' stays inside a parameter). Replaces
  /// request.path_params with the matched pattern's parameters.
  void Match(Request& request, std::string_view raw_path, RouteMatch& out) const;

 private:
  struct MethodHandler {
    std::string method;
    Handler handler;
    // Parameter names as this route spelled them: routes of one shape may name them apart
    // ("GET /m/{id}", "DELETE /m/{metric}").
    std::vector<std::string> param_names;
    std::shared_ptr<const WebSocketRoute> websocket;  // set for WebSocket endpoints
  };
  struct Endpoint {
    std::vector<MethodHandler> methods;
    std::string allow;  // "GET, HEAD, POST"
    const MethodHandler* Find(std::string_view method) const;
    Status AddMethod(std::string_view method, Handler handler, std::vector<std::string> param_names,
                     std::string_view pattern, std::shared_ptr<const WebSocketRoute> websocket);
  };
  struct Segment {
    std::string text;  // literal text, or the parameter's name
    bool param = false;
  };
  struct Pattern {
    std::vector<Segment> segments;
    std::string shape;  // the pattern with parameter names erased, to detect duplicates
    Endpoint endpoint;
  };
  Status AddEntry(std::string_view method, std::string_view pattern, Handler handler,
                  std::shared_ptr<const WebSocketRoute> websocket);
  static bool MatchSegments(const std::vector<Segment>& segments, std::string_view raw_path, HeaderList& params);

  absl::flat_hash_map<std::string, Endpoint> exact_;
  std::vector<Pattern> patterns_;
  std::vector<StaticMount> mounts_;  // longest prefix first
};

/// Appends the methods of `allow` that `into` does not list yet (both "A, B" lists).
void MergeAllow(std::string& into, std::string_view allow);

}  // namespace weir::server::detail
