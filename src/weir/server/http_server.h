// Weir's HTTP/1.1 server: routing, async responses, static files and streamed responses (SSE).
//
// The only place that includes Boost.Beast/Asio is this module's .cc files; this header is cheap
// to include and exposes plain structs.
//
//   WEIR_ASSIGN_OR_RETURN(auto server, HttpServer::Make({.host = "0.0.0.0", .port = 8080}));
//   server->Route("GET", "/api/v1/metrics/{id}", [](Request& req) {
//     return Response::Json(200, fmt::format(R"({{"id":"{}"}})", *req.path_param("id")));
//   });
//   server->Route("POST", "/api/v1/events", [&](Request& req, Responder done) {
//     wal.Append(std::move(req.body), [done = std::move(done)]() mutable {  // later, any thread
//       done(Response::Json(202, R"({"accepted":true})"));
//     });
//   });
//   server->RouteWebSocket("/api/v1/ws", [](Request&, const std::shared_ptr<WebSocket>& ws) {
//     ws->OnMessage([w = std::weak_ptr<WebSocket>(ws)](std::string_view m) {
//       if (auto s = w.lock()) s->Send(std::string(m));   // echo
//     });
//     return std::optional<Response>();                     // accept
//   });
//   WEIR_RETURN_IF_ERROR(server->ServeStatic("/", "web/"));
//   WEIR_RETURN_IF_ERROR(server->Start());
//   ...
//   server->Stop(std::chrono::seconds(5));
//
// Threading: each IO thread runs its own event loop and owns the connections it accepted.
// Handlers run on the IO thread of their connection, so they must not block: anything slow
// (disk, a queue that may be full, another service) goes elsewhere and completes the Responder
// later from any thread. See README.md in this directory.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/base/result.h"

namespace weir::server {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// One HTTP request as a handler sees it. The server reuses one Request per connection: it stays
/// valid and unchanged until the request's Responder has been called (or destroyed); a handler
/// that answers later must not touch it after answering. Handlers may move fields out (body).
struct Request {
  std::string method;      ///< as sent, e.g. "GET" (methods are case-sensitive)
  std::string target;      ///< raw request-target, e.g. "/api/v1/metrics/a%2Fb?x=1"
  std::string path;        ///< percent-decoded path without the query, e.g. "/api/v1/metrics/a/b"
  HeaderList query;        ///< percent-decoded query parameters ('+' is a space), in order
  HeaderList path_params;  ///< values of `{name}` segments of the matched route, decoded
  std::string body;        ///< the whole body (chunked bodies are reassembled)
  std::string remote;      ///< peer address, "127.0.0.1:53422"
  int version = 11;        ///< 10 for HTTP/1.0, 11 for HTTP/1.1

  /// Value of the first header called `name` (case-insensitive); empty if there is none.
  std::string_view header(std::string_view name) const;
  bool has_header(std::string_view name) const;
  /// Value of the first query parameter called `name` (case-sensitive).
  std::optional<std::string_view> param(std::string_view name) const;
  /// Value of the route's `{name}` segment.
  std::optional<std::string_view> path_param(std::string_view name) const;

  size_t header_count() const { return header_spans_.size(); }
  /// Name and value of the i-th header, in the order received.
  std::pair<std::string_view, std::string_view> header_at(size_t i) const;
  /// Adds a header (the server fills them; tests of handlers use this to build requests).
  void AddHeader(std::string_view name, std::string_view value);
  /// Clears every field, keeping allocated capacity for the next request.
  void Clear();

 private:
  // Headers live in one buffer so that a connection parses request after request without
  // allocating: each span is offsets into header_data_.
  struct HeaderSpan {
    uint32_t name_offset, name_size, value_offset, value_size;
  };
  std::string header_data_;
  std::vector<HeaderSpan> header_spans_;
};

/// An HTTP response. Content-Length, Connection and Date are added by the server.
struct Response {
  int status = 200;
  std::string content_type = "application/json";  ///< empty: no Content-Type header
  std::string body;
  HeaderList headers;  ///< extra headers; names and values must not contain CR or LF

  /// `body` is JSON text already.
  static Response Json(int status, std::string body);
  /// {"error":{"status":N,"message":"..."}} with `message` JSON-escaped.
  static Response Error(int status, std::string_view message);
  /// text/plain; charset=utf-8
  static Response Text(int status, std::string body);

  /// Value of the first header called `name` among `headers` (case-insensitive); empty if none.
  /// Responses read by HttpClient carry every received header here.
  std::string_view header(std::string_view name) const;
};

/// How a streamed response starts and how much it may buffer for a slow client.
struct StreamOptions {
  int status = 200;
  std::string content_type = "text/event-stream";
  HeaderList headers;
  /// Bytes accepted by Write but not yet sent to the client. Above this the client is too slow:
  /// the stream is aborted (a client of a live feed reconnects and resumes), Write returns false.
  size_t max_queued_bytes = 4 << 20;
};

/// What streamed responses and WebSocket connections share: an outgoing channel that one IO
/// thread serves. Every method is thread-safe and never blocks on the network. The scheduling
/// calls (Post, Every, WhenDrained) let a producer do its work on the channel's own IO thread
/// and pace itself to the client instead of filling the queue.
class Channel {
 public:
  virtual ~Channel() = default;
  /// True once no more output is accepted (closed by either side, overflow, server stopped).
  virtual bool closed() const = 0;
  /// Bytes accepted but not yet sent.
  virtual size_t queued_bytes() const = 0;
  /// Calls `callback` once when the channel has ended for any reason, on the IO thread (or
  /// right away on the caller's thread if it has already ended). It must not block. A later
  /// call replaces an earlier callback that has not run yet.
  virtual void OnClose(std::function<void()> callback) = 0;
  /// Runs `fn` on the channel's IO thread, after the work posted before it. Returns false,
  /// dropping `fn`, if the channel has ended; `fn` is dropped unrun if the channel ends first.
  virtual bool Post(std::function<void()> fn) = 0;
  /// Calls `fn` on the IO thread every `interval` until the channel ends (heartbeats). A later
  /// call replaces the earlier schedule.
  virtual void Every(std::chrono::milliseconds interval, std::function<void()> fn) = 0;
  /// Calls `fn` once, on the IO thread, as soon as at most `low_water` bytes are queued (soon,
  /// if that is already so). A later call replaces a callback that has not run yet.
  virtual void WhenDrained(size_t low_water, std::function<void()> fn) = 0;
};

/// A response body sent piece by piece, open until either side ends it (Server-Sent Events).
/// Writes are queued and sent by the connection's IO thread.
class Stream : public Channel {
 public:
  /// Queues `chunk` (e.g. "data: {...}\n\n"). Returns false, dropping the chunk, if the stream
  /// is closed, the client is gone, or the queue would exceed max_queued_bytes (which aborts
  /// the stream). An empty chunk is accepted and sends nothing.
  virtual bool Write(std::string chunk) = 0;
  /// Ends the stream after the queued chunks are sent; the connection is then closed.
  virtual void Close() = 0;
};

/// Options of a WebSocket route (HttpServer::RouteWebSocket).
struct WebSocketOptions {
  /// A larger incoming message fails the connection (close code 1009).
  size_t max_message_bytes = 1 << 20;
  /// Messages accepted by Send but not yet sent. Above this the client is too slow: the
  /// connection is dropped and Send returns false.
  size_t max_queued_bytes = 16 << 20;
  /// After this long without hearing from the client the server sends a ping; a client silent
  /// for twice as long is disconnected.
  std::chrono::milliseconds ping_interval{15000};
};

/// One accepted WebSocket connection (RFC 6455), text messages both ways. Thread-safe; Send
/// queues and never blocks. Callbacks run on the connection's IO thread and must not block.
class WebSocket : public Channel {
 public:
  /// Queues a text message. Returns false, dropping it, if the connection is closing or closed
  /// or the queue would exceed max_queued_bytes (which drops the connection).
  virtual bool Send(std::string text) = 0;
  /// Starts the closing handshake once the queued messages are sent.
  virtual void Close(uint16_t code = 1000, std::string_view reason = {}) = 0;
  /// Receives each message from the client, in order (text and binary alike). Set it in the
  /// route's handler, before the handshake completes, so that no message is missed.
  virtual void OnMessage(std::function<void(std::string_view message)> callback) = 0;
  /// The peer address, "127.0.0.1:53422".
  virtual const std::string& remote() const = 0;
};

namespace detail {
class Exchange;  // the receiving end of a Responder: a server connection or a test callback
}  // namespace detail

/// Answers one request, exactly once, from any thread. Move-only. Calling it a second time does
/// nothing; destroying it without calling it answers 500 (so a lost Responder never hangs a
/// client). After the server has stopped, calling it does nothing. To pass it through an API
/// that wants copyable callbacks (std::function), hold it in a std::shared_ptr<Responder>.
class Responder {
 public:
  Responder() = default;
  Responder(std::shared_ptr<detail::Exchange> exchange, uint64_t sequence)
      : exchange_(std::move(exchange)), sequence_(sequence) {}
  Responder(Responder&& other) noexcept = default;
  Responder& operator=(Responder&& other) noexcept;
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;
  ~Responder();

  /// Sends `response`.
  void operator()(Response response);
  /// Answers with a streamed body instead: sends the status and headers (no Content-Length;
  /// chunked for HTTP/1.1 clients) and returns the stream to write to. For a HEAD request the
  /// returned stream is already closed. Returns nullptr if this Responder was already used.
  std::shared_ptr<Stream> StartStream(StreamOptions options = {});
  /// True until the Responder has been used or moved from.
  explicit operator bool() const { return exchange_ != nullptr; }

  /// A Responder that hands the response to `callback`, for testing handlers without a server.
  /// A streamed answer reaches the callback as one Response, with every chunk written
  /// concatenated in its body, when the stream is closed; dropping it unused delivers a 500.
  static Responder ForCallback(std::function<void(Response)> callback);

 private:
  std::shared_ptr<detail::Exchange> exchange_;
  uint64_t sequence_ = 0;
};

/// Answers through the Responder, now or later, from any thread.
using Handler = std::function<void(Request&, Responder)>;
/// Answers on the IO thread before returning; for cheap, non-blocking work.
using SyncHandler = std::function<Response(Request&)>;
/// Decides on a WebSocket upgrade request, on the IO thread: returns nullopt to accept (after
/// setting the socket's callbacks; the handshake completes after the handler returns) or a
/// Response to refuse with. A refused socket never calls its callbacks; an accepted one calls
/// OnClose exactly once, whatever happens to the handshake.
using WebSocketHandler = std::function<std::optional<Response>(Request&, const std::shared_ptr<WebSocket>&)>;

/// Options for HttpServer::Make.
struct ServerOptions {
  std::string host = "127.0.0.1";      ///< address to bind; "0.0.0.0" or "::" for every interface
  uint16_t port = 8080;                ///< 0 picks a free port (see HttpServer::port())
  int threads = 1;                     ///< IO threads, each with its own event loop
  size_t max_body_bytes = 16 << 20;    ///< larger bodies are answered 413
  size_t max_header_bytes = 16 << 10;  ///< request line + headers; larger are answered 431
  /// A connection that is waiting for a request, or for the client to take a response, this
  /// long is closed. Not applied while a handler works on a request, nor to a quiet stream
  /// (only to one whose client stopped taking data).
  std::chrono::milliseconds idle_timeout{60000};
};

/// Counters since Start, for /metrics and tests. Read with relaxed ordering (approximate).
struct ServerStats {
  uint64_t requests = 0;  ///< requests parsed and routed
  uint64_t connections_accepted = 0;
  uint64_t connections_open = 0;
  uint64_t bad_requests = 0;      ///< malformed or over a limit (400, 413, 431)
  uint64_t handler_failures = 0;  ///< handler threw or dropped its Responder (500)
};

/// HTTP/1.1 server with keep-alive, pipelining and chunked request bodies.
///
/// Register routes and static directories, then Start(). Routes are fixed once started, so
/// matching takes no lock. Route patterns are absolute paths whose segments are literals or
/// `{name}` parameters, e.g. "/api/v1/metrics/{id}/late". Matching order: an exact path first,
/// then patterns in registration order, then static directories (longest prefix first).
/// A path that matches with another method is answered 405 with Allow; HEAD runs the GET
/// handler and drops the body; anything else is answered 404. Error answers are JSON
/// (Response::Error). A handler that throws is answered 500 and logged.
class HttpServer {
 public:
  using Options = ServerOptions;

  /// Checks the options; does not bind yet.
  static Result<std::unique_ptr<HttpServer>> Make(Options options);
  /// Stops the server (see Stop).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Adds a route. Fails after Start, on a malformed pattern, or if the same method and path
  /// shape is registered twice.
  Status Route(std::string_view method, std::string_view pattern, Handler handler);
  Status Route(std::string_view method, std::string_view pattern, SyncHandler handler);
  /// Adds a WebSocket endpoint at `pattern` (matched like a GET route). A GET without an
  /// `Upgrade: websocket` header is answered 426; a malformed handshake 400. Connections count
  /// in ServerStats::connections_open; Stop(grace) closes them with code 1001.
  Status RouteWebSocket(std::string_view pattern, WebSocketHandler handler, WebSocketOptions options = {});
  /// Serves files under `directory` for GET/HEAD requests whose path starts with `url_prefix`
  /// (a whole segment: "/ui" serves "/ui/app.js", not "/uiapp.js"). A directory serves its
  /// index.html; a directory without a trailing slash is redirected (301) to one. Paths with a
  /// ".." segment are refused (400). Responses carry an ETag and answer If-None-Match with
  /// 304. Files are read on the IO thread: this is for small assets such as the dashboard.
  Status ServeStatic(std::string_view url_prefix, std::string_view directory);

  /// Binds, listens and starts the IO threads. Fails, without throwing, with e.g.
  /// "cannot listen on 127.0.0.1:8080: address already in use".
  Status Start();
  /// The bound port (the one picked when Options::port was 0); 0 before Start.
  uint16_t port() const;
  ServerStats stats() const;

  /// Stops accepting at once. With a grace period, first lets requests already being read or
  /// handled finish (each answer then closes its connection), closes idle connections, and
  /// ends open streams cleanly, waiting up to `grace` for connections to finish. Then closes
  /// every remaining connection, runs the on-close callbacks of open streams, and joins the IO
  /// threads. When Stop returns no handler is running or will be called again; Responders and
  /// Streams held elsewhere stay safe to use and do nothing (Write returns false). Idempotent.
  /// Must not be called from a handler (it joins the IO threads).
  void Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(0));

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::server
