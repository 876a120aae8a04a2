// Route table: exact paths in a hash map (ingest and most API calls hit this), `{param}`
// patterns by linear scan (a handful), then static mounts.
#include "weir/server/router.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "weir/server/exchange.h"
#include "weir/server/url.h"

namespace weir::server::detail {
namespace {

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return IsValidHeader(s, "");  // a method is a token, like a header name
}

bool IsParamName(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// Calls fn(segment) for each '/'-separated piece after the leading '/': "/a/b" gives "a","b";
// "/" gives ""; "/a/" gives "a","". Stops early and returns false if fn returns false.
template <class Fn>
bool ForEachSegment(std::string_view path, Fn&& fn) {
  if (!path.starts_with('/')) return false;
  path.remove_prefix(1);
  for (;;) {
    size_t slash = path.find('/');
    if (!fn(path.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

bool HasMethod(std::string_view allow, std::string_view method) {
  while (!allow.empty()) {
    size_t comma = allow.find(", ");
    if (allow.substr(0, comma) == method) return true;
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 2);
  }
  return false;
}

}  // namespace

void MergeAllow(std::string& into, std::string_view allow) {
  while (!allow.empty()) {
    size_t comma = allow.find(", ");
    std::string_view method = allow.substr(0, comma);
    if (!HasMethod(into, method)) {
      if (!into.empty()) into += ", ";
      into += method;
    }
    if (comma == std::string_view::npos) break;
    allow.remove_prefix(comma + 2);
  }
}

const Router::MethodHandler* Router::Endpoint::Find(std::string_view method) const {
  for (const MethodHandler& m : methods) {
    if (m.method == method) return &m;
  }
  if (method == "HEAD") return Find("GET");  // the connection drops the body
  return nullptr;
}

Status Router::Endpoint::AddMethod(std::string_view method, Handler handler, std::vector<std::string> param_names,
                                   std::string_view pattern, std::shared_ptr<const WebSocketRoute> websocket) {
  for (const MethodHandler& m : methods) {
    if (m.method == method) return Fail("route {} {} is registered twice", method, pattern);
  }
  methods.push_back({std::string(method), std::move(handler), std::move(param_names), std::move(websocket)});
  // Allow lists every method, with HEAD wherever GET is served.
  allow.clear();
  for (const MethodHandler& m : methods) MergeAllow(allow, m.method);
  if (Find("GET") != nullptr) MergeAllow(allow, "HEAD");
  return Ok();
}

Status Router::Add(std::string_view method, std::string_view pattern, Handler handler) {
  return AddEntry(method, pattern, std::move(handler), nullptr);
}

Status Router::AddWebSocket(std::string_view pattern, WebSocketRoute route) {
  if (!route.handler) return Fail("WebSocket route {} has no handler", pattern);
  // Requests without an upgrade reach this handler instead.
  Handler refuse = [](Request& request, Responder done) {
    Response r = Response::Error(
        426, fmt::format("{} is a WebSocket endpoint; connect with a WebSocket client (Upgrade: websocket)",
                         request.path));
    r.headers.emplace_back("Upgrade", "websocket");
    r.headers.emplace_back("Sec-WebSocket-Version", "13");
    done(std::move(r));
  };
  return AddEntry("GET", pattern, std::move(refuse), std::make_shared<const WebSocketRoute>(std::move(route)));
}

Status Router::AddEntry(std::string_view method, std::string_view pattern, Handler handler,
                        std::shared_ptr<const WebSocketRoute> websocket) {
  if (!IsToken(method)) return Fail("invalid HTTP method '{}' for route {}", method, pattern);
  if (!handler) return Fail("route {} {} has no handler", method, pattern);
  if (!pattern.starts_with('/')) return Fail("route pattern '{}' must start with '/'", pattern);

  std::vector<Segment> segments;
  std::string shape;
  std::string error;
  ForEachSegment(pattern, [&](std::string_view seg) {
    shape += '/';
    if (seg.starts_with('{') && seg.ends_with('}') && seg.size() >= 2) {
      std::string_view name = seg.substr(1, seg.size() - 2);
      if (!IsParamName(name)) {
        error = fmt::format("invalid parameter name '{}' in route pattern '{}'", name, pattern);
        return false;
      }
      for (const Segment& s : segments) {
        if (s.param && s.text == name) {
          error = fmt::format("parameter '{}' appears twice in route pattern '{}'", name, pattern);
          return false;
        }
      }
      segments.push_back({std::string(name), true});
      shape += "{}";
      return true;
    }
    if (seg.find_first_of("{}") != std::string_view::npos) {
      error = fmt::format("route pattern '{}': a parameter must be a whole segment, like /{{id}}/", pattern);
      return false;
    }
    segments.push_back({std::string(seg), false});
    shape += seg;
    return true;
  });
  if (!error.empty()) return Fail(std::move(error));

  std::vector<std::string> names;
  for (const Segment& s : segments) {
    if (s.param) names.push_back(s.text);
  }
  if (names.empty()) {
    return exact_[std::string(pattern)].AddMethod(method, std::move(handler), {}, pattern, std::move(websocket));
  }

  for (Pattern& p : patterns_) {
    if (p.shape == shape) {
      return p.endpoint.AddMethod(method, std::move(handler), std::move(names), pattern, std::move(websocket));
    }
  }
  Pattern& p = patterns_.emplace_back();
  p.segments = std::move(segments);
  p.shape = std::move(shape);
  return p.endpoint.AddMethod(method, std::move(handler), std::move(names), pattern, std::move(websocket));
}

Status Router::AddStatic(std::string_view url_prefix, std::string_view directory) {
  if (!url_prefix.starts_with('/')) return Fail("static URL prefix '{}' must start with '/'", url_prefix);
  std::string prefix(url_prefix);
  while (prefix.size() > 1 && prefix.ends_with('/')) prefix.pop_back();
  for (const StaticMount& m : mounts_) {
    if (m.prefix == prefix) return Fail("static URL prefix '{}' is registered twice", prefix);
  }
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::canonical(std::filesystem::path(directory), ec);
  if (ec) return Fail("static directory '{}': {}", directory, ec.message());
  if (!std::filesystem::is_directory(dir, ec)) return Fail("static directory '{}' is not a directory", directory);
  std::string dir_string = dir.string();
  while (dir_string.size() > 1 && dir_string.ends_with('/')) dir_string.pop_back();
  mounts_.push_back({std::move(prefix), std::move(dir_string)});
  std::stable_sort(mounts_.begin(), mounts_.end(),
                   [](const StaticMount& a, const StaticMount& b) { return a.prefix.size() > b.prefix.size(); });
  return Ok();
}

bool Router::MatchSegments(const std::vector<Segment>& segments, std::string_view raw_path, HeaderList& params) {
  size_t i = 0;
  std::string decoded;
  bool ok = ForEachSegment(raw_path, [&](std::string_view seg) {
    if (i >= segments.size()) return false;
    const Segment& want = segments[i++];
    if (want.param) {
      if (seg.empty()) return false;  // "/metrics//late" does not bind an empty id
      auto& [name, value] = params.emplace_back();
      name = want.text;  // renamed by Match if the chosen method spelled it differently
      PercentDecodeTo(seg, false, value);
      return true;
    }
    if (seg.find('%') == std::string_view::npos) return seg == want.text;
    decoded.clear();
    PercentDecodeTo(seg, false, decoded);
    return decoded == want.text;
  });
  return ok && i == segments.size();
}

void Router::Match(Request& request, std::string_view raw_path, RouteMatch& out) const {
  out.kind = RouteMatch::Kind::kNotFound;
  out.websocket = nullptr;
  out.allow.clear();
  request.path_params.clear();
  bool path_known = false;

  if (auto it = exact_.find(request.path); it != exact_.end()) {
    if (const MethodHandler* h = it->second.Find(request.method)) {
      out.kind = RouteMatch::Kind::kHandler;
      out.handler = &h->handler;
      out.websocket = h->websocket.get();
      return;
    }
    path_known = true;
    MergeAllow(out.allow, it->second.allow);
  }
  for (const Pattern& p : patterns_) {
    if (!MatchSegments(p.segments, raw_path, request.path_params)) {
      request.path_params.clear();
      continue;
    }
    if (const MethodHandler* h = p.endpoint.Find(request.method)) {
      for (size_t i = 0; i < h->param_names.size() && i < request.path_params.size(); ++i) {
        request.path_params[i].first = h->param_names[i];
      }
      out.kind = RouteMatch::Kind::kHandler;
      out.handler = &h->handler;
      out.websocket = h->websocket.get();
      return;
    }
    request.path_params.clear();
    path_known = true;
    MergeAllow(out.allow, p.endpoint.allow);
  }
  if (path_known) {
    out.kind = RouteMatch::Kind::kMethodNotAllowed;
    return;
  }
  std::string_view path = request.path;
  for (const StaticMount& m : mounts_) {
    bool under = m.prefix == "/" ||
                 (path.starts_with(m.prefix) && (path.size() == m.prefix.size() || path[m.prefix.size()] == '/'));
    if (!under) continue;
    if (request.method != "GET" && request.method != "HEAD") {
      out.kind = RouteMatch::Kind::kMethodNotAllowed;
      out.allow = "GET, HEAD";
      return;
    }
    out.kind = RouteMatch::Kind::kStatic;
    out.mount = &m;
    out.static_path = m.prefix == "/" ? path : path.substr(m.prefix.size());
    return;
  }
}

}  // namespace weir::server::detail
