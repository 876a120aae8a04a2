// Blocking WebSocket client: Beast's asynchronous operations run on a private io_context for as
// long as a call needs, so timeouts never cancel the read that stays open between calls.
#include "weir/server/websocket_client.h"

#include <deque>
#include <functional>

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

namespace weir::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

}  // namespace

struct WebSocketClient::Impl {
  asio::io_context io{1};
  websocket::stream<tcp::socket> ws{io};
  beast::flat_buffer read_buffer;
  std::deque<std::string> messages;
  bool reading = false;
  bool ended = false;
  bool closing = false;
  uint16_t close_code = 0;
  std::string where;  // "127.0.0.1:8080/api/v1/ws", for messages

  // Runs handlers until `done()` or the deadline; returns false on timeout.
  bool RunUntil(const std::function<bool()>& done, Clock::time_point deadline) {
    while (!done()) {
      auto now = Clock::now();
      if (now >= deadline) return false;
      if (io.stopped()) io.restart();
      io.run_one_for(deadline - now);
    }
    return true;
  }

  void StartRead() {
    if (reading || ended) return;
    reading = true;
    ws.async_read(read_buffer, [this](beast::error_code ec, size_t) {
      reading = false;
      if (ec) {
        ended = true;
        if (closing) return;  // Close() sets the code
        close_code = ec == websocket::error::closed ? static_cast<uint16_t>(ws.reason().code) : 1006;
        if (close_code == 0) close_code = 1005;  // a close frame without a code
        return;
      }
      messages.push_back(beast::buffers_to_string(read_buffer.data()));
      read_buffer.consume(read_buffer.size());
      StartRead();
    });
  }
};

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebSocketClient::~WebSocketClient() {
  beast::error_code ec;
  beast::get_lowest_layer(impl_->ws).close(ec);
}

Result<std::unique_ptr<WebSocketClient>> WebSocketClient::Connect(std::string_view host, uint16_t port,
                                                                  std::string_view target,
                                                                  std::chrono::milliseconds timeout,
                                                                  const HeaderList& headers, Response* refusal) {
  auto impl = std::make_unique<Impl>();
  impl->where = fmt::format("{}:{}{}", host, port, target);
  auto deadline = Clock::now() + timeout;

  beast::error_code ec;
  tcp::resolver resolver(impl->io);
  auto endpoints = resolver.resolve(std::string(host), std::to_string(port), ec);
  if (ec) return Fail("cannot resolve {}: {}", host, ec.message());
  bool connected = false;
  beast::error_code connect_ec;
  asio::async_connect(beast::get_lowest_layer(impl->ws), endpoints,
                      [&](beast::error_code e, const tcp::endpoint&) {
                        connect_ec = e;
                        connected = true;
                      });
  if (!impl->RunUntil([&] { return connected; }, deadline)) {
    return Fail("cannot connect to {}:{}: timed out after {} ms", host, port, timeout.count());
  }
  if (connect_ec) return Fail("cannot connect to {}:{}: {}", host, port, connect_ec.message());
  beast::get_lowest_layer(impl->ws).set_option(tcp::no_delay(true), ec);

  if (!headers.empty()) {
    impl->ws.set_option(websocket::stream_base::decorator([headers](websocket::request_type& request) {
      for (const auto& [name, value] : headers) request.set(name, value);
    }));
  }
  websocket::response_type response;
  bool shaken = false;
  beast::error_code handshake_ec;
  impl->ws.async_handshake(response, fmt::format("{}:{}", host, port), std::string(target),
                           [&](beast::error_code e) {
                             handshake_ec = e;
                             shaken = true;
                           });
  if (!impl->RunUntil([&] { return shaken; }, deadline)) {
    beast::get_lowest_layer(impl->ws).close(ec);
    impl->RunUntil([&] { return shaken; }, Clock::now() + std::chrono::seconds(1));
    return Fail("WebSocket handshake with {} timed out after {} ms", impl->where, timeout.count());
  }
  if (handshake_ec) {
    if (handshake_ec == websocket::error::upgrade_declined) {
      if (refusal) {
        refusal->status = static_cast<int>(response.result_int());
        refusal->content_type = std::string(response[beast::http::field::content_type]);
        refusal->body = response.body();
        refusal->headers.clear();
        for (const auto& field : response) {
          refusal->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
        }
      }
      return Fail("WebSocket upgrade refused: {} {}", response.result_int(), response.body());
    }
    return Fail("WebSocket handshake with {} failed: {}", impl->where, handshake_ec.message());
  }
  impl->ws.text(true);
  return std::unique_ptr<WebSocketClient>(new WebSocketClient(std::move(impl)));
}

Status WebSocketClient::Send(std::string_view text, std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.ended) return Fail("WebSocket {} is closed (code {})", s.where, s.close_code);
  bool done = false;
  beast::error_code write_ec;
  s.ws.async_write(asio::buffer(text.data(), text.size()), [&](beast::error_code e, size_t) {
    write_ec = e;
    done = true;
  });
  if (!s.RunUntil([&] { return done; }, Clock::now() + timeout)) {
    beast::error_code ec;
    beast::get_lowest_layer(s.ws).close(ec);  // the write cannot be abandoned half-way
    s.RunUntil([&] { return done; }, Clock::now() + std::chrono::seconds(1));
    s.ended = true;
    return Fail("sending to {} timed out after {} ms", s.where, timeout.count());
  }
  if (write_ec) return Fail("sending to {}: {}", s.where, write_ec.message());
  return Ok();
}

Result<std::optional<std::string>> WebSocketClient::Read(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  s.StartRead();
  if (!s.RunUntil([&] { return !s.messages.empty() || s.ended; }, Clock::now() + timeout)) {
    return Fail("no message from {} within {} ms", s.where, timeout.count());
  }
  if (s.messages.empty()) return std::optional<std::string>();
  std::string message = std::move(s.messages.front());
  s.messages.pop_front();
  return std::optional<std::string>(std::move(message));
}

Status WebSocketClient::Close(uint16_t code, std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.ended) return Ok();
  bool done = false;
  beast::error_code close_ec;
  s.closing = true;
  s.ws.async_close(websocket::close_reason(static_cast<websocket::close_code>(code)), [&](beast::error_code e) {
    close_ec = e;
    done = true;
  });
  bool finished = s.RunUntil([&] { return done && !s.reading; }, Clock::now() + timeout);
  s.ended = true;
  // The server's answering close frame carries its code; ours stands if it sent none.
  s.close_code = static_cast<uint16_t>(s.ws.reason().code);
  if (s.close_code == 0) s.close_code = code;
  if (!finished) return Fail("closing {} timed out after {} ms", s.where, timeout.count());
  if (close_ec) return Fail("closing {}: {}", s.where, close_ec.message());
  return Ok();
}

Status WebSocketClient::SendRaw(std::string_view bytes) {
  beast::error_code ec;
  asio::write(beast::get_lowest_layer(impl_->ws), asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec) return Fail("sending to {}: {}", impl_->where, ec.message());
  return Ok();
}

uint16_t WebSocketClient::close_code() const { return impl_->close_code; }

}  // namespace weir::server
