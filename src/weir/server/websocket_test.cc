// WebSocket upgrade through HttpServer::RouteWebSocket: handshake, messages both ways, refusals,
// close codes, protocol errors, limits, scheduling on the IO thread, and server stop.
#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "weir/server/http_client.h"
#include "weir/server/http_server.h"
#include "weir/server/websocket_client.h"

namespace weir::server {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::unique_ptr<HttpServer> StartServer(const std::function<void(HttpServer&)>& setup) {
  auto server = HttpServer::Make({.host = "127.0.0.1", .port = 0});
  EXPECT_TRUE(server) << server.error().message;
  if (!server) return nullptr;
  setup(**server);
  auto started = (*server)->Start();
  EXPECT_TRUE(started) << started.error().message;
  return std::move(*server);
}

std::unique_ptr<WebSocketClient> Open(const HttpServer& server, std::string_view target) {
  auto ws = WebSocketClient::Connect("127.0.0.1", server.port(), target, 5s);
  EXPECT_TRUE(ws) << ws.error().message;
  return ws ? std::move(*ws) : nullptr;
}

std::string ReadOne(WebSocketClient& ws, std::chrono::milliseconds timeout = 5s) {
  auto m = ws.Read(timeout);
  EXPECT_TRUE(m) << m.error().message;
  if (!m) return "<timeout>";
  return m->value_or("<closed>");
}

bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 5s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

// Counts what the server side saw.
struct Observed {
  std::mutex mu;
  std::vector<std::string> messages;
  std::atomic<int> closes{0};
  std::atomic<int> accepted{0};
};

// An echo endpoint: greets with the query, answers each message, closes on "bye".
void AddEcho(HttpServer& s, Observed& seen, WebSocketOptions options = {}) {
  ASSERT_TRUE(s.RouteWebSocket(
      "/ws/{room}",
      [&seen](Request& req, const std::shared_ptr<WebSocket>& ws) -> std::optional<Response> {
        if (*req.path_param("room") == "closed") return Response::Error(404, "no room 'closed'");
        seen.accepted++;
        std::weak_ptr<WebSocket> weak = ws;
        ws->OnMessage([&seen, weak](std::string_view m) {
          {
            std::lock_guard lock(seen.mu);
            seen.messages.emplace_back(m);
          }
          auto self = weak.lock();
          if (!self) return;
          if (m == "bye") {
            self->Close(4000, "as you wish");
          } else {
            self->Send(fmt::format("echo:{}", m));
          }
        });
        ws->OnClose([&seen] { seen.closes++; });
        ws->Send(fmt::format("hello {} x={}", *req.path_param("room"), req.param("x").value_or("")));
        return std::nullopt;
      },
      options));
}

TEST(WebSocket, MessagesBothWaysAndCloseCodes) {
  Observed seen;
  auto server = StartServer([&](HttpServer& s) { AddEcho(s, seen); });
  ASSERT_TRUE(server);
  auto ws = Open(*server, "/ws/lobby?x=1");
  ASSERT_TRUE(ws);
  EXPECT_EQ(ReadOne(*ws), "hello lobby x=1");
  ASSERT_TRUE(ws->Send("one"));
  ASSERT_TRUE(ws->Send("two"));
  EXPECT_EQ(ReadOne(*ws), "echo:one");
  EXPECT_EQ(ReadOne(*ws), "echo:two");
  EXPECT_EQ(server->stats().connections_open, 1u);

  // A read that times out loses nothing.
  auto nothing = ws->Read(50ms);
  EXPECT_FALSE(nothing);
  ASSERT_TRUE(ws->Send(std::string(100000, 'x')));
  EXPECT_EQ(ReadOne(*ws).size(), 5u + 100000u);

  // The server closes with its code and reason.
  ASSERT_TRUE(ws->Send("bye"));
  auto end = ws->Read(5s);
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(ws->close_code(), 4000);
  EXPECT_TRUE(Eventually([&] { return seen.closes == 1; }));
  EXPECT_TRUE(Eventually([&] { return server->stats().connections_open == 0; }));
  std::lock_guard lock(seen.mu);
  EXPECT_EQ(seen.messages.size(), 4u);
}

TEST(WebSocket, ClientCloseRunsOnCloseOnce) {
  Observed seen;
  auto server = StartServer([&](HttpServer& s) { AddEcho(s, seen); });
  ASSERT_TRUE(server);
  auto ws = Open(*server, "/ws/a");
  ASSERT_TRUE(ws);
  EXPECT_EQ(ReadOne(*ws), "hello a x=");
  ASSERT_TRUE(ws->Close(1000));
  EXPECT_EQ(ws->close_code(), 1000);
  EXPECT_TRUE(Eventually([&] { return seen.closes == 1; }));
  // A client that just disappears is noticed too.
  auto ws2 = Open(*server, "/ws/b");
  ASSERT_TRUE(ws2);
  EXPECT_EQ(ReadOne(*ws2), "hello b x=");
  ws2.reset();
  EXPECT_TRUE(Eventually([&] { return seen.closes == 2; }));
  EXPECT_TRUE(Eventually([&] { return server->stats().connections_open == 0; }));
  EXPECT_EQ(seen.accepted, 2);
}

TEST(WebSocket, RefusalsAndPlainRequests) {
  Observed seen;
  auto server = StartServer([&](HttpServer& s) {
    AddEcho(s, seen);
    ASSERT_TRUE(s.Route("GET", "/plain", [](Request&) { return Response::Text(200, "plain"); }));
  });
  ASSERT_TRUE(server);

  // The handler refuses: the client gets its answer, and no callback ever runs.
  Response refusal;
  auto ws = WebSocketClient::Connect("127.0.0.1", server->port(), "/ws/closed", 5s, {}, &refusal);
  ASSERT_FALSE(ws);
  EXPECT_THAT(ws.error().message, HasSubstr("404"));
  EXPECT_EQ(refusal.status, 404);
  EXPECT_THAT(refusal.body, HasSubstr("no room 'closed'"));
  EXPECT_EQ(seen.closes, 0);

  // No WebSocket route there.
  ws = WebSocketClient::Connect("127.0.0.1", server->port(), "/nowhere", 5s, {}, &refusal);
  ASSERT_FALSE(ws);
  EXPECT_EQ(refusal.status, 404);
  ws = WebSocketClient::Connect("127.0.0.1", server->port(), "/plain", 5s, {}, &refusal);
  ASSERT_FALSE(ws);
  EXPECT_EQ(refusal.status, 200);  // an ordinary route answers as usual

  auto client = HttpClient::Connect("127.0.0.1", server->port());
  ASSERT_TRUE(client);
  // A plain GET on a WebSocket path.
  auto r = (*client)->Request("GET", "/ws/lobby");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 426);
  EXPECT_EQ(r->header("Upgrade"), "websocket");
  EXPECT_THAT(r->body, HasSubstr("WebSocket endpoint"));
  r = (*client)->Request("POST", "/ws/lobby", "x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  // Broken handshakes.
  r = (*client)->Request("GET", "/ws/lobby", {}, {{"Upgrade", "websocket"}, {"Connection", "Upgrade"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("Sec-WebSocket-Key"));
  r = (*client)->Request("GET", "/ws/lobby", {},
                         {{"Upgrade", "websocket"},
                          {"Connection", "Upgrade"},
                          {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                          {"Sec-WebSocket-Version", "8"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 426);
  EXPECT_EQ(r->header("Sec-WebSocket-Version"), "13");
  EXPECT_EQ(seen.accepted, 0);
}

TEST(WebSocket, UpgradeAfterPipelinedRequests) {
  Observed seen;
  auto server = StartServer([&](HttpServer& s) {
    AddEcho(s, seen);
    ASSERT_TRUE(s.Route("GET", "/plain", [](Request&) { return Response::Text(200, "plain"); }));
  });
  ASSERT_TRUE(server);
  auto client = HttpClient::Connect("127.0.0.1", server->port());
  ASSERT_TRUE(client);
  // Two ordinary requests and the upgrade in one write: answers come in order, then the 101.
  ASSERT_TRUE((*client)->SendRaw(
      "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /ws/p HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
  for (int i = 0; i < 2; ++i) {
    auto r = (*client)->ReadResponse();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "plain");
  }
  auto r = (*client)->ReadResponse();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 101);
  // RFC 6455's example key and its accept value.
  EXPECT_EQ(r->header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_TRUE(Eventually([&] { return seen.accepted == 1; }));
}

TEST(WebSocket, ProtocolErrorsCloseTheConnection) {
  Observed seen;
  auto server = StartServer([&](HttpServer& s) {
    WebSocketOptions options;
    options.max_message_bytes = 1000;
    AddEcho(s, seen, options);
  });
  ASSERT_TRUE(server);

  auto ws = Open(*server, "/ws/big");
  ASSERT_TRUE(ws);
  EXPECT_EQ(ReadOne(*ws), "hello big x=");
  ASSERT_TRUE(ws->Send(std::string(2000, 'x')));
  auto end = ws->Read(5s);
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_FALSE(end->has_value());
  // "Message too big" (1009). Beast closes with the rest of the big message unread, which
  // resets the connection; the client may then see no close frame at all (1006).
  EXPECT_THAT(ws->close_code(), ::testing::AnyOf(1009, 1006));
  EXPECT_TRUE(Eventually([&] { return seen.closes == 1; }));

  // Client frames must be masked; an unmasked text frame is a protocol error.
  ws = Open(*server, "/ws/raw");
  ASSERT_TRUE(ws);
  EXPECT_EQ(ReadOne(*ws), "hello raw x=");
  ASSERT_TRUE(ws->SendRaw(std::string("\x81\x02hi", 4)));
  end = ws->Read(5s);
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(ws->close_code(), 1002);
  EXPECT_TRUE(Eventually([&] { return seen.closes == 2; }));
  std::lock_guard lock(seen.mu);
  EXPECT_TRUE(seen.messages.empty());
}

TEST(WebSocket, TooSlowClientIsDropped) {
  std::shared_ptr<WebSocket> server_side;
  std::atomic<int> closes{0};
  auto server = StartServer([&](HttpServer& s) {
    WebSocketOptions options;
    options.max_queued_bytes = 10000;
    ASSERT_TRUE(s.RouteWebSocket(
        "/ws",
        [&](Request&, const std::shared_ptr<WebSocket>& ws) -> std::optional<Response> {
          server_side = ws;
          ws->OnClose([&] { closes++; });
          return std::nullopt;
        },
        options));
  });
  ASSERT_TRUE(server);
  auto ws = Open(*server, "/ws");
  ASSERT_TRUE(ws);
  ASSERT_TRUE(Eventually([&] { return server_side != nullptr; }));
  EXPECT_TRUE(server_side->Send(std::string(6000, 'a')));
  // Over the limit at once, whatever the network took meanwhile: the client is dropped.
  EXPECT_FALSE(server_side->Send(std::string(20000, 'b')));
  EXPECT_TRUE(server_side->closed());
  EXPECT_FALSE(server_side->Send("c"));
  EXPECT_TRUE(Eventually([&] { return closes == 1; }));
  server_side.reset();
}

TEST(WebSocket, PostEveryAndWhenDrainRunOnTheIoThread) {
  std::mutex mu;
  std::thread::id io_thread;
  std::shared_ptr<WebSocket> server_side;
  auto server = StartServer([&](HttpServer& s) {
    ASSERT_TRUE(s.RouteWebSocket("/ws", [&](Request&, const std::shared_ptr<WebSocket>& ws) -> std::optional<Response> {
      std::lock_guard lock(mu);
      io_thread = std::this_thread::get_id();
      server_side = ws;
      return std::nullopt;
    }));
  });
  ASSERT_TRUE(server);
  auto ws = Open(*server, "/ws");
  ASSERT_TRUE(ws);
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return server_side != nullptr;
  }));
  std::shared_ptr<WebSocket> sock;
  {
    std::lock_guard lock(mu);
    sock = server_side;
  }
  std::promise<std::thread::id> posted;
  EXPECT_TRUE(sock->Post([&] { posted.set_value(std::this_thread::get_id()); }));
  EXPECT_EQ(posted.get_future().get(), io_thread);

  std::atomic<int> ticks{0};
  std::weak_ptr<WebSocket> weak = sock;
  sock->Every(10ms, [&ticks, weak] {
    if (auto s = weak.lock()) s->Send(fmt::format("tick {}", ++ticks));
  });
  EXPECT_EQ(ReadOne(*ws), "tick 1");
  EXPECT_EQ(ReadOne(*ws), "tick 2");
  sock->Every(1h, [] {});  // replaces the schedule
  int ticks_then = ticks;

  std::promise<size_t> drained;
  sock->WhenDrained(0, [&] { drained.set_value(sock->queued_bytes()); });
  EXPECT_EQ(drained.get_future().get(), 0u);

  ASSERT_TRUE(ws->Close());
  EXPECT_TRUE(Eventually([&] { return sock->closed(); }));
  EXPECT_FALSE(sock->Post([] { ADD_FAILURE() << "posted to a closed WebSocket"; }));
  EXPECT_LE(ticks - ticks_then, 1);  // at most one tick was already on its way
  {
    std::lock_guard lock(mu);
    server_side.reset();
  }
}

TEST(WebSocket, StopClosesWithGoingAwayAndRunsOnClose) {
  Observed seen;
  auto server = StartServer([&](HttpServer& s) { AddEcho(s, seen); });
  ASSERT_TRUE(server);
  auto graceful = Open(*server, "/ws/g");
  ASSERT_TRUE(graceful);
  EXPECT_EQ(ReadOne(*graceful), "hello g x=");

  // The client answers the close handshake only while it reads; read on another thread.
  std::promise<uint16_t> code;
  std::thread reader([&] {
    for (;;) {
      auto m = graceful->Read(10s);
      if (!m || !m->has_value()) break;
    }
    code.set_value(graceful->close_code());
  });
  server->Stop(5s);
  reader.join();
  EXPECT_EQ(code.get_future().get(), 1001);
  EXPECT_EQ(seen.closes, 1);
}

TEST(WebSocket, HardStopRunsOnClose) {
  Observed seen;
  auto server = StartServer([&](HttpServer& s) { AddEcho(s, seen); });
  ASSERT_TRUE(server);
  auto ws = Open(*server, "/ws/h");
  ASSERT_TRUE(ws);
  EXPECT_EQ(ReadOne(*ws), "hello h x=");
  server->Stop();
  EXPECT_EQ(seen.closes, 1);
  auto end = ws->Read(5s);
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_FALSE(end->has_value());
}

}  // namespace
}  // namespace weir::server
