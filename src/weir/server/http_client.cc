// Blocking client: each operation starts one asynchronous Asio operation plus a timer on a
// private io_context and runs it to completion, so a timeout cancels the operation without
// closing the socket (a stream read can time out and continue).
#include "weir/server/http_client.h"

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>

#include "weir/server/exchange.h"

namespace weir::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

constexpr size_t kReadSize = 16 * 1024;

/// Parses a response into a Response's status and headers and appends its body to `body`.
class ResponseParser final : public http::basic_parser<false> {
 public:
  ResponseParser(Response& head, std::string& body) : head_(head), body_(body) {
    eager(true);
    body_limit(boost::none);
    header_limit(1 << 20);
  }

 private:
  void on_request_impl(http::verb, beast::string_view, beast::string_view, int, beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, beast::error_code&) override { head_.status = code; }
  void on_field_impl(http::field field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    head_.headers.emplace_back(std::string(name.data(), name.size()), std::string(value.data(), value.size()));
    if (field == http::field::content_type) head_.content_type.assign(value.data(), value.size());
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(boost::optional<std::uint64_t> const& length, beast::error_code&) override {
    if (length && *length < (64u << 20)) body_.reserve(body_.size() + static_cast<size_t>(*length));
  }
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Response& head_;
  std::string& body_;
};

}  // namespace

struct HttpClient::Impl {
  asio::io_context io{1};
  tcp::socket socket{io};
  asio::steady_timer timer{io};
  beast::flat_buffer buffer;
  std::string host;
  uint16_t port = 0;
  milliseconds timeout;
  bool connected = false;
  bool reconnect = false;  // the server announced it closes after the last response

  // Streaming.
  bool streaming = false;
  bool stream_done = false;
  Response stream_head;
  std::unique_ptr<ResponseParser> stream_parser;
  std::string pending;

  struct IoResult {
    beast::error_code ec;
    size_t n = 0;
    bool timed_out = false;
  };

  // Runs the operation started by `start(handler)` for at most `limit`.
  template <class Start>
  IoResult Run(Start&& start, milliseconds limit) {
    IoResult r;
    bool done = false;
    start([&](beast::error_code ec, size_t n) {
      r.ec = ec;
      r.n = n;
      done = true;
      timer.cancel();
    });
    timer.expires_after(limit);
    timer.async_wait([&](beast::error_code ec) {
      if (!ec && !done) {
        r.timed_out = true;
        beast::error_code ignored;
        socket.cancel(ignored);
      }
    });
    io.restart();
    io.run();
    return r;
  }

  std::string HostPort() const {
    return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
  }

  Status ConnectNow() {
    Disconnect();
    beast::error_code ec;
    std::vector<tcp::endpoint> endpoints;
    asio::ip::address address = asio::ip::make_address(host, ec);
    if (!ec) {
      endpoints.emplace_back(address, port);
    } else {
      tcp::resolver resolver(io);
      auto results = resolver.resolve(host, std::to_string(port), ec);
      if (ec) return Fail("cannot resolve {}: {}", host, ec.message());
      for (const auto& e : results) endpoints.push_back(e.endpoint());
    }
    std::string last_error = "no addresses";
    for (const tcp::endpoint& endpoint : endpoints) {
      socket = tcp::socket(io);
      IoResult r = Run(
          [&](auto handler) {
            socket.async_connect(endpoint, [handler](beast::error_code e) mutable { handler(e, 0); });
          },
          timeout);
      if (r.timed_out) {
        last_error = fmt::format("timed out after {} ms", timeout.count());
      } else if (r.ec) {
        last_error = r.ec.message();
      } else {
        socket.set_option(tcp::no_delay(true), ec);
        connected = true;
        reconnect = false;
        return Ok();
      }
      socket.close(ec);
    }
    return Fail("cannot connect to {}: {}", HostPort(), last_error);
  }

  void Disconnect() {
    beast::error_code ec;
    if (socket.is_open()) {
      socket.shutdown(tcp::socket::shutdown_both, ec);
      socket.close(ec);
    }
    connected = false;
    buffer.clear();
    streaming = false;
    stream_done = false;
    stream_parser.reset();
    pending.clear();
  }

  Status WriteAll(std::string_view bytes) {
    IoResult r = Run(
        [&](auto handler) { asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), handler); }, timeout);
    if (r.timed_out || r.ec) {
      std::string why = r.timed_out ? fmt::format("timed out after {} ms", timeout.count()) : r.ec.message();
      Disconnect();
      return Fail("cannot send to {}: {}", HostPort(), why);
    }
    return Ok();
  }

  // Feeds buffered bytes to the parser. Returns any error but need_more.
  beast::error_code Feed(http::basic_parser<false>& parser) {
    beast::error_code ec;
    while (buffer.size() > 0 && !parser.is_done()) {
      size_t n = parser.put(asio::const_buffer(buffer.data()), ec);
      buffer.consume(n);
      if (ec == http::error::need_more) return {};
      if (ec) return ec;
      if (n == 0) break;
    }
    return {};
  }

  // Reads until the parser has the whole message (or just the header).
  Status ReadMessage(ResponseParser& parser, bool header_only) {
    auto complete = [&] { return parser.is_done() || (header_only && parser.is_header_done()); };
    for (;;) {
      if (beast::error_code ec = Feed(parser)) {
        Disconnect();
        return Fail("malformed HTTP response from {}: {}", HostPort(), ec.message());
      }
      if (complete()) return Ok();
      IoResult r = Run([&](auto handler) { socket.async_read_some(buffer.prepare(kReadSize), handler); }, timeout);
      if (r.timed_out) {
        Disconnect();
        return Fail("no response from {} within {} ms", HostPort(), timeout.count());
      }
      if (r.ec == asio::error::eof && parser.got_some()) {
        beast::error_code ec;
        parser.put_eof(ec);  // a body that ends with the connection
        if (!ec && complete()) {
          connected = false;
          return Ok();
        }
      }
      if (r.ec) {
        bool eof = r.ec == asio::error::eof;
        std::string why = eof ? "connection closed by the server" : r.ec.message();
        Disconnect();
        return Fail("reading from {}: {}", HostPort(), why);
      }
      buffer.commit(r.n);
    }
  }

  Status SendRequest(std::string_view method, std::string_view target, std::string_view body,
                     const HeaderList& headers) {
    if (streaming || reconnect) Disconnect();
    if (!connected) WEIR_RETURN_IF_ERROR(ConnectNow());
    std::string request;
    request.reserve(128 + target.size() + body.size());
    auto out = std::back_inserter(request);
    fmt::format_to(out, "{} {} HTTP/1.1\r\nHost: {}\r\n", method, target, HostPort());
    for (const auto& [name, value] : headers) fmt::format_to(out, "{}: {}\r\n", name, value);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      fmt::format_to(out, "Content-Length: {}\r\n", body.size());
    }
    request += "\r\n";
    request += body;
    return WriteAll(request);
  }
};

HttpClient::HttpClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpClient::~HttpClient() { impl_->Disconnect(); }

Result<std::unique_ptr<HttpClient>> HttpClient::Connect(std::string_view host, uint16_t port,
                                                        std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->host = std::string(host);
  impl->port = port;
  impl->timeout = timeout;
  WEIR_RETURN_IF_ERROR(impl->ConnectNow());
  return std::unique_ptr<HttpClient>(new HttpClient(std::move(impl)));
}

Result<Response> HttpClient::Request(std::string_view method, std::string_view target, std::string_view body,
                                     const HeaderList& headers) {
  Impl& s = *impl_;
  WEIR_RETURN_IF_ERROR(s.SendRequest(method, target, body, headers));
  Response response;
  ResponseParser parser(response, response.body);
  if (method == "HEAD") parser.skip(true);
  WEIR_RETURN_IF_ERROR(s.ReadMessage(parser, false));
  if (!parser.keep_alive()) s.Disconnect();
  return response;
}

Result<Response> HttpClient::StartStream(std::string_view method, std::string_view target, const HeaderList& headers) {
  Impl& s = *impl_;
  WEIR_RETURN_IF_ERROR(s.SendRequest(method, target, {}, headers));
  s.stream_head = Response();
  s.pending.clear();
  s.stream_parser = std::make_unique<ResponseParser>(s.stream_head, s.pending);
  if (method == "HEAD") s.stream_parser->skip(true);
  WEIR_RETURN_IF_ERROR(s.ReadMessage(*s.stream_parser, true));
  s.streaming = true;
  s.stream_done = s.stream_parser->is_done();
  Response head = s.stream_head;
  return head;
}

Result<std::optional<std::string>> HttpClient::ReadUntil(std::string_view delimiter,
                                                         std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (!s.streaming) return Fail("no stream is open (call StartStream first)");
  if (delimiter.empty()) return Fail("ReadUntil needs a non-empty delimiter");
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (size_t pos = s.pending.find(delimiter); pos != std::string::npos) {
      std::string piece = s.pending.substr(0, pos + delimiter.size());
      s.pending.erase(0, pos + delimiter.size());
      return std::optional<std::string>(std::move(piece));
    }
    if (s.stream_done) return std::optional<std::string>();
    if (s.buffer.size() > 0) {
      size_t before = s.buffer.size();
      if (beast::error_code ec = s.Feed(*s.stream_parser)) {
        s.stream_done = true;
        return Fail("malformed streamed body from {}: {}", s.HostPort(), ec.message());
      }
      if (s.stream_parser->is_done()) s.stream_done = true;
      // Without progress the parser needs more bytes (half a chunk header, say): read them.
      if (s.stream_done || s.buffer.size() != before) continue;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= milliseconds(0)) return Fail("no data from {} within {} ms", s.HostPort(), timeout.count());
    Impl::IoResult r =
        s.Run([&](auto handler) { s.socket.async_read_some(s.buffer.prepare(kReadSize), handler); }, left);
    if (r.timed_out) return Fail("no data from {} within {} ms", s.HostPort(), timeout.count());
    if (r.ec) {
      beast::error_code ec;
      if (r.ec == asio::error::eof && s.stream_parser->got_some()) s.stream_parser->put_eof(ec);
      s.stream_done = true;
      beast::error_code ignored;
      s.socket.close(ignored);
      s.connected = false;
      continue;
    }
    s.buffer.commit(r.n);
  }
}

Result<std::optional<std::string>> HttpClient::ReadEvent(std::chrono::milliseconds timeout) {
  return ReadUntil("\n\n", timeout);
}

Status HttpClient::SendRaw(std::string_view bytes) {
  Impl& s = *impl_;
  if (!s.connected) WEIR_RETURN_IF_ERROR(s.ConnectNow());
  return s.WriteAll(bytes);
}

Result<Response> HttpClient::ReadResponse(bool head_request) {
  Impl& s = *impl_;
  if (!s.connected) return Fail("not connected to {}", s.HostPort());
  Response response;
  ResponseParser parser(response, response.body);
  if (head_request) parser.skip(true);
  WEIR_RETURN_IF_ERROR(s.ReadMessage(parser, false));
  // Left open so the caller can watch the server close it; the next Request reconnects.
  if (!parser.keep_alive()) s.reconnect = true;
  return response;
}

bool HttpClient::WaitForClose(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (!s.socket.is_open()) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  s.buffer.clear();
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= milliseconds(0)) return false;
    Impl::IoResult r =
        s.Run([&](auto handler) { s.socket.async_read_some(s.buffer.prepare(kReadSize), handler); }, left);
    if (r.timed_out) return false;
    if (r.ec) {
      s.Disconnect();
      return true;
    }
    s.buffer.clear();
  }
}

Status HttpClient::ShutdownSend() {
  beast::error_code ec;
  impl_->socket.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return Fail("cannot shut down sending to {}: {}", impl_->HostPort(), ec.message());
  return Ok();
}

void HttpClient::Close() { impl_->Disconnect(); }

std::string HttpClient::local_address() const {
  beast::error_code ec;
  tcp::endpoint e = impl_->socket.local_endpoint(ec);
  if (ec) return {};
  return e.address().is_v6() ? fmt::format("[{}]:{}", e.address().to_string(), e.port())
                             : fmt::format("{}:{}", e.address().to_string(), e.port());
}

}  // namespace weir::server
