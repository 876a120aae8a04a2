// Internal to the server module (includes Beast): the server side of one WebSocket connection.
//
// A Connection that receives an accepted upgrade request writes the answers to requests before
// it, then hands its socket to a WebSocketSession, which the same Worker owns from then on:
//
//   auto session = std::make_shared<WebSocketSession>(worker, route.options, remote);
//   route.handler(request, session);                       // the application sets callbacks
//   worker->AdoptWebSocket(session, std::move(socket), std::move(beast_request));
//
// Threads: like a Connection, the session's state lives on its worker's thread; the WebSocket
// methods the application calls (Send, Close, Post, ...) lock a small queue and post to that
// thread. Beast allows one read and one write in flight at a time: the session keeps one read
// open for the connection's life and writes queued messages one after another. Pings, pongs and
// the closing handshake are Beast's.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "weir/server/connection.h"
#include "weir/server/http_server.h"

namespace weir::server::detail {

namespace websocket = boost::beast::websocket;

/// The WebSocket a route's handler receives; see the file comment.
class WebSocketSession final : public WebSocket, public std::enable_shared_from_this<WebSocketSession> {
 public:
  WebSocketSession(std::shared_ptr<Worker> worker, WebSocketOptions options, std::string remote);
  ~WebSocketSession() override;

  // WebSocket / Channel: any thread.
  bool Send(std::string text) override;
  void Close(uint16_t code, std::string_view reason) override;
  void OnMessage(std::function<void(std::string_view)> callback) override;
  const std::string& remote() const override { return remote_; }
  bool closed() const override;
  size_t queued_bytes() const override;
  void OnClose(std::function<void()> callback) override;
  bool Post(std::function<void()> fn) override;
  void Every(std::chrono::milliseconds interval, std::function<void()> fn) override;
  void WhenDrained(size_t low_water, std::function<void()> fn) override;

  // Worker thread.
  /// Takes the socket and answers the upgrade request (101, or Beast's refusal).
  void Begin(tcp::socket socket, http::request<http::empty_body> request);
  /// Server stopping gracefully: close with 1001 after what is queued.
  void Drain();
  /// Drops the connection now; OnClose runs.
  void Abort();
  /// The handler refused the upgrade: forget the callbacks without running them.
  void Discard();

  size_t list_index = 0;  ///< position in the worker's list

 private:
  enum class State { kNew, kHandshaking, kOpen, kClosing, kClosed };

  void OnAccepted(beast::error_code ec);
  void ReadNext();
  void OnRead(beast::error_code ec);
  void Pump();
  void OnWritten(beast::error_code ec);
  void ArmTimer();
  void SetTimer(std::chrono::milliseconds interval, std::function<void()> fn);
  void Finish();
  bool finished() const;
  bool PostPumpLocked();

  // Declared first so it is destroyed last: the socket and timer belong to its io_context.
  std::shared_ptr<Worker> worker_;
  const WebSocketOptions options_;
  const std::string remote_;

  // Worker thread.
  std::optional<websocket::stream<tcp::socket>> ws_;
  http::request<http::empty_body> request_;
  beast::flat_buffer read_buffer_;
  State state_ = State::kNew;
  bool writing_ = false;
  bool close_sent_ = false;
  std::string writing_message_;
  std::optional<asio::steady_timer> timer_;
  std::function<void()> every_;
  std::chrono::milliseconds interval_{0};
  uint64_t timer_generation_ = 0;

  // Shared, under mu_.
  mutable std::mutex mu_;
  std::deque<std::string> queue_;
  size_t queued_bytes_ = 0;  // queued plus being written
  bool pump_scheduled_ = false;
  bool close_requested_ = false;
  uint16_t close_code_ = 1000;
  std::string close_reason_;
  bool abort_requested_ = false;
  bool finished_ = false;
  // Copied (cheaply) by the IO thread for each message, so that the callback runs unlocked.
  std::shared_ptr<const std::function<void(std::string_view)>> on_message_;
  std::function<void()> on_close_;
  std::function<void()> on_drained_;
  size_t drain_low_water_ = 0;
};

}  // namespace weir::server::detail
