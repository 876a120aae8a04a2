// A small blocking HTTP/1.1 client on one keep-alive connection, for tests and command-line
// tools (`weir query`, health checks). Not for high throughput.
//
//   WEIR_ASSIGN_OR_RETURN(auto client, HttpClient::Connect("127.0.0.1", 8080));
//   WEIR_ASSIGN_OR_RETURN(Response r, client->Request("GET", "/api/v1/status"));
//   // Server-Sent Events:
//   WEIR_ASSIGN_OR_RETURN(Response head, client->StartStream("GET", "/api/v1/live"));
//   WEIR_ASSIGN_OR_RETURN(std::optional<std::string> event, client->ReadEvent(std::chrono::seconds(1)));
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "weir/base/result.h"
#include "weir/server/http_server.h"

namespace weir::server {

/// Blocking HTTP/1.1 client over one connection, reused across requests. Not thread-safe.
class HttpClient {
 public:
  /// Connects to host:port (a literal address or a name), waiting at most `timeout`. The same
  /// timeout applies to each later request.
  static Result<std::unique_ptr<HttpClient>> Connect(std::string_view host, uint16_t port,
                                                     std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends a request and reads the whole response; Response::headers holds every received
  /// header and content_type the Content-Type. Reconnects first if the server closed the
  /// connection after the previous response (or a stream was open).
  Result<Response> Request(std::string_view method, std::string_view target, std::string_view body = {},
                           const HeaderList& headers = {});

  /// Sends a request and reads only the status line and headers. The body is then read piece
  /// by piece with ReadUntil/ReadEvent, as it arrives (chunked or until the server closes).
  Result<Response> StartStream(std::string_view method, std::string_view target, const HeaderList& headers = {});
  /// The next piece of the streamed body that ends with `delimiter` (included). nullopt once
  /// the body has ended; an incomplete last piece is dropped. Fails if `timeout` passes first;
  /// the stream stays usable after such a timeout.
  Result<std::optional<std::string>> ReadUntil(std::string_view delimiter, std::chrono::milliseconds timeout);
  /// One Server-Sent Event block: ReadUntil("\n\n").
  Result<std::optional<std::string>> ReadEvent(std::chrono::milliseconds timeout);

  /// Sends bytes exactly as given (tests of framing, pipelining, malformed input).
  Status SendRaw(std::string_view bytes);
  /// Reads one response, e.g. after SendRaw. With `head_request` no body is expected. A 1xx
  /// interim response is returned as it is.
  Result<Response> ReadResponse(bool head_request = false);
  /// True if the server closes the connection within `timeout`; data received meanwhile is
  /// discarded.
  bool WaitForClose(std::chrono::milliseconds timeout);
  /// Half-closes: tells the server that no more requests follow, while answers can still be
  /// read (what `nc` and some tools do after sending).
  Status ShutdownSend();
  /// Closes the connection (the next Request reconnects).
  void Close();
  /// This side's address, e.g. "127.0.0.1:53422"; what the server sees as Request::remote.
  std::string local_address() const;

 private:
  struct Impl;
  explicit HttpClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::server
