// HttpServer: options, route registration, the listening socket, and start/stop of the IO
// threads. Connections and workers are in connection.cc.
#include "weir/server/http_server.h"

#include <future>
#include <thread>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "weir/base/log.h"
#include "weir/server/connection.h"

namespace weir::server {

using detail::asio::ip::tcp;
namespace asio = detail::asio;

struct HttpServer::Impl {
  ServerOptions options;
  detail::Router router;  // moved into core at Start
  std::shared_ptr<const detail::ServerCore> core;
  std::vector<std::shared_ptr<detail::Worker>> workers;
  std::optional<tcp::acceptor> acceptor;  // on workers[0]
  std::optional<asio::steady_timer> accept_retry;
  size_t next_worker = 0;
  uint16_t port = 0;
  bool started = false;
  bool stopped = false;

  std::string HostPort(uint16_t p) const {
    return options.host.find(':') != std::string::npos ? fmt::format("[{}]:{}", options.host, p)
                                                       : fmt::format("{}:{}", options.host, p);
  }

  // Runs on workers[0]'s thread.
  void Accept() {
    detail::Worker& target = *workers[next_worker];
    next_worker = (next_worker + 1) % workers.size();
    acceptor->async_accept(target.io(), [this, &target](detail::beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
        // Out of file descriptors and the like: back off instead of spinning.
        WEIR_LOG_WARN("http server on {}: accept failed: {}", HostPort(port), ec.message());
        accept_retry->expires_after(std::chrono::milliseconds(50));
        accept_retry->async_wait([this](detail::beast::error_code wait_ec) {
          if (!wait_ec && acceptor->is_open()) Accept();
        });
        return;
      }
      if (&target == workers[0].get()) {
        target.Adopt(std::move(socket));
      } else {
        // When the server is stopping the post is refused and the socket closes with the lambda.
        target.Post([&target, s = std::move(socket)]() mutable { target.Adopt(std::move(s)); });
      }
      Accept();
    });
  }
};

namespace {

std::string LowerFirst(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] + 32);
  return s;
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { Stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::Make(Options options) {
  if (options.host.empty()) return Fail("http server: host is empty");
  if (options.threads < 1 || options.threads > 256) {
    return Fail("http server: threads must be between 1 and 256, not {}", options.threads);
  }
  if (options.max_body_bytes == 0) return Fail("http server: max_body_bytes must be positive");
  if (options.max_header_bytes < 256 || options.max_header_bytes > (64u << 20)) {
    return Fail("http server: max_header_bytes must be between 256 and 64 MiB, not {}", options.max_header_bytes);
  }
  if (options.idle_timeout <= std::chrono::milliseconds(0)) return Fail("http server: idle_timeout must be positive");
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

Status HttpServer::Route(std::string_view method, std::string_view pattern, Handler handler) {
  if (impl_->started) return Fail("route {} {}: routes must be added before Start()", method, pattern);
  return impl_->router.Add(method, pattern, std::move(handler));
}

Status HttpServer::Route(std::string_view method, std::string_view pattern, SyncHandler handler) {
  if (!handler) return Fail("route {} {} has no handler", method, pattern);
  return Route(method, pattern,
               Handler([h = std::move(handler)](Request& request, Responder done) { done(h(request)); }));
}

Status HttpServer::RouteWebSocket(std::string_view pattern, WebSocketHandler handler, WebSocketOptions options) {
  if (impl_->started) return Fail("WebSocket route {}: routes must be added before Start()", pattern);
  if (options.max_message_bytes == 0) return Fail("WebSocket route {}: max_message_bytes must be positive", pattern);
  if (options.ping_interval <= std::chrono::milliseconds(0)) {
    return Fail("WebSocket route {}: ping_interval must be positive", pattern);
  }
  return impl_->router.AddWebSocket(pattern, {std::move(handler), std::move(options)});
}

Status HttpServer::ServeStatic(std::string_view url_prefix, std::string_view directory) {
  if (impl_->started) return Fail("static {}: directories must be added before Start()", url_prefix);
  return impl_->router.AddStatic(url_prefix, directory);
}

Status HttpServer::Start() {
  Impl& s = *impl_;
  if (s.started) return Fail("http server on {} is already started", s.HostPort(s.port));
  if (s.stopped) return Fail("http server on {} was stopped and cannot be restarted", s.HostPort(s.port));

  auto core = std::make_shared<detail::ServerCore>();
  core->options = s.options;
  core->router = std::move(s.router);
  s.core = core;
  for (int i = 0; i < s.options.threads; ++i) {
    s.workers.push_back(std::make_shared<detail::Worker>(s.core, static_cast<size_t>(i)));
  }
  asio::io_context& io0 = s.workers[0]->io();

  const uint16_t want = s.options.port;
  auto fail = [&](std::string_view what) {
    // The acceptor and timer belong to a worker's io_context: destroy them first.
    s.acceptor.reset();
    s.accept_retry.reset();
    s.workers.clear();
    s.router = std::move(core->router);  // so that Start can be tried again
    s.core.reset();
    return Fail("cannot listen on {}: {}", s.HostPort(want), what);
  };

  detail::beast::error_code ec;
  tcp::endpoint endpoint;
  asio::ip::address address = asio::ip::make_address(s.options.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, want);
  } else {
    tcp::resolver resolver(io0);
    auto results = resolver.resolve(s.options.host, std::to_string(want), tcp::resolver::passive, ec);
    if (ec || results.empty()) {
      return fail(fmt::format("cannot resolve host: {}", ec ? LowerFirst(ec.message()) : "no addresses"));
    }
    endpoint = results.begin()->endpoint();
  }

  s.acceptor.emplace(io0);
  s.accept_retry.emplace(io0);
  s.acceptor->open(endpoint.protocol(), ec);
  // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT; on
  // Linux it does not allow two listeners on one port.
  if (!ec) s.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(LowerFirst(ec.message()));
  s.port = s.acceptor->local_endpoint(ec).port();
  if (ec) return fail(LowerFirst(ec.message()));

  s.started = true;
  s.Accept();
  for (auto& w : s.workers) w->Start();
  WEIR_LOG_INFO("http server listening on {} with {} IO thread(s)", s.HostPort(s.port), s.workers.size());
  return Ok();
}

uint16_t HttpServer::port() const { return impl_->port; }

ServerStats HttpServer::stats() const {
  ServerStats st;
  for (const auto& w : impl_->workers) {
    st.requests += w->requests.load(std::memory_order_relaxed);
    st.connections_accepted += w->accepted.load(std::memory_order_relaxed);
    st.connections_open += w->open.load(std::memory_order_relaxed);
    st.bad_requests += w->bad_requests.load(std::memory_order_relaxed);
    st.handler_failures += w->handler_failures.load(std::memory_order_relaxed);
  }
  return st;
}

void HttpServer::Stop(std::chrono::milliseconds grace) {
  Impl& s = *impl_;
  if (!s.started || s.stopped) {
    s.stopped = true;
    return;
  }
  s.stopped = true;
  detail::Worker& first = *s.workers[0];

  // 1. Stop accepting, and wait for it, so no connection arrives after the workers close.
  std::promise<void> acceptor_closed;
  asio::post(first.io(), [&] {
    detail::beast::error_code ec;
    s.acceptor->close(ec);
    s.accept_retry->cancel();
    acceptor_closed.set_value();
  });
  acceptor_closed.get_future().wait();

  // 2. Optionally let requests in progress finish.
  if (grace > std::chrono::milliseconds(0)) {
    for (auto& w : s.workers) asio::post(w->io(), [w] { w->BeginDrain(); });
    auto deadline = std::chrono::steady_clock::now() + grace;
    while (std::chrono::steady_clock::now() < deadline && stats().connections_open > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  // 3. Close everything and join.
  for (auto& w : s.workers) w->MarkStopped();
  for (auto& w : s.workers) w->Join();
  s.acceptor.reset();
  s.accept_retry.reset();
  WEIR_LOG_INFO("http server on {} stopped", s.HostPort(s.port));
}

}  // namespace weir::server
