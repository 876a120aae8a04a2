// A small blocking WebSocket client on one connection, for tests and command-line tools.
//
//   WEIR_ASSIGN_OR_RETURN(auto ws, WebSocketClient::Connect("127.0.0.1", 8080, "/api/v1/ws"));
//   WEIR_RETURN_IF_ERROR(ws->Send(R"({"subscribe":["revenue_per_minute"]})"));
//   WEIR_ASSIGN_OR_RETURN(std::optional<std::string> message, ws->Read(std::chrono::seconds(1)));
//   // nullopt: the server closed the connection; ws->close_code() says how.
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

/// Blocking WebSocket client (text messages). Not thread-safe. A read stays open between calls,
/// so a Read that times out loses nothing and pings are answered while the caller waits.
class WebSocketClient {
 public:
  /// Connects to host:port and performs the opening handshake for `target`. A refused upgrade
  /// fails with "WebSocket upgrade refused: <status> <body>"; when `refusal` is given it also
  /// receives the server's answer. `timeout` applies to the connection and the handshake.
  static Result<std::unique_ptr<WebSocketClient>> Connect(std::string_view host, uint16_t port,
                                                          std::string_view target,
                                                          std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                                          const HeaderList& headers = {},
                                                          Response* refusal = nullptr);
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  /// Sends one text message.
  Status Send(std::string_view text, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// The next message from the server; nullopt once the connection has ended (close_code()
  /// then holds the server's close code, or 1006 if it ended without a closing handshake).
  /// Fails if `timeout` passes first; the connection stays usable.
  Result<std::optional<std::string>> Read(std::chrono::milliseconds timeout);
  /// Performs the closing handshake.
  Status Close(uint16_t code = 1000, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  /// Writes bytes straight to the socket, bypassing framing (tests of protocol errors).
  Status SendRaw(std::string_view bytes);
  /// The close code received (0 while open).
  uint16_t close_code() const;

 private:
  struct Impl;
  explicit WebSocketClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weir::server
