#include "weir/server/http_server.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "weir/server/http_client.h"

namespace weir::server {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::unique_ptr<HttpServer> StartServer(const std::function<void(HttpServer&)>& setup, ServerOptions options = {}) {
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = HttpServer::Make(options);
  EXPECT_TRUE(server) << server.error().message;
  if (!server) return nullptr;
  setup(**server);
  auto started = (*server)->Start();
  EXPECT_TRUE(started) << started.error().message;
  EXPECT_NE((*server)->port(), 0);
  return std::move(*server);
}

std::unique_ptr<HttpClient> Connect(const HttpServer& server, std::chrono::milliseconds timeout = 5s) {
  auto client = HttpClient::Connect("127.0.0.1", server.port(), timeout);
  EXPECT_TRUE(client) << client.error().message;
  return client ? std::move(*client) : nullptr;
}

// Polls `cond` for up to `limit`.
bool Eventually(const std::function<bool()>& cond, std::chrono::milliseconds limit = 2s) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return cond();
}

// Joins helper threads a test started, even when an assertion returns early.
struct ThreadGroup {
  std::vector<std::thread> threads;
  ~ThreadGroup() {
    for (auto& t : threads) t.join();
  }
};

void AddApiRoutes(HttpServer& s) {
  ASSERT_TRUE(s.Route("GET", "/hello", [](Request&) { return Response::Text(200, "hello world"); }));
  ASSERT_TRUE(s.Route("GET", "/api/v1/metrics/{id}", [](Request& r) {
    std::string body = "id=" + std::string(*r.path_param("id"));
    for (const auto& [k, v] : r.query) body += "|" + k + "=" + v;
    return Response::Text(200, body);
  }));
  ASSERT_TRUE(s.Route("GET", "/api/v1/metrics/{id}/late",
                      [](Request& r) { return Response::Text(200, "late:" + std::string(*r.path_param("id"))); }));
  ASSERT_TRUE(s.Route("POST", "/echo", [](Request& r) {
    Response resp = Response::Text(200, std::move(r.body));
    resp.headers.emplace_back("X-Got-Type", std::string(r.header("content-type")));
    resp.headers.emplace_back("X-Path", r.path);
    return resp;
  }));
}

TEST(HttpServer, RoutesParamsAndErrors) {
  auto server = StartServer(AddApiRoutes);
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);

  auto r = client->Request("GET", "/hello");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(r->content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(r->header("content-length"), "11");
  EXPECT_FALSE(r->header("Date").empty());

  r = client->Request("GET", "/api/v1/metrics/rev%2Fnue?group_by=currency&where=a%20%3D%201&x=p+q");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->body, "id=rev/nue|group_by=currency|where=a = 1|x=p q");

  r = client->Request("GET", "/api/v1/metrics/rev/late");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "late:rev");

  r = client->Request("POST", "/echo", "{\"a\":1}", {{"Content-Type", "application/json"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "{\"a\":1}");
  EXPECT_EQ(r->header("X-Got-Type"), "application/json");

  r = client->Request("GET", "/nope");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->content_type, "application/json");
  EXPECT_EQ(r->body, R"({"error":{"status":404,"message":"no route for GET /nope"}})");

  r = client->Request("DELETE", "/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("Allow"), "GET, HEAD");
  EXPECT_THAT(r->body, HasSubstr("\"status\":405"));

  r = client->Request("HEAD", "/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Length"), "11");
  EXPECT_EQ(r->body, "");

  // The connection survived every answer above, errors included.
  r = client->Request("GET", "/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(server->stats().connections_accepted, 1u);
}

TEST(HttpServer, KeepAliveServesManyRequestsOnOneConnection) {
  auto server = StartServer([](HttpServer& s) {
    ASSERT_TRUE(s.Route("POST", "/api/v1/events", [](Request& r) {
      return Response::Json(202, "{\"from\":\"" + r.remote + "\",\"bytes\":" + std::to_string(r.body.size()) + "}");
    }));
  });
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  std::string expect = "{\"from\":\"" + client->local_address() + "\",\"bytes\":";
  constexpr int kRequests = 2000;
  for (int i = 0; i < kRequests; ++i) {
    std::string body(static_cast<size_t>(i % 97), 'x');
    auto r = client->Request("POST", "/api/v1/events", body);
    ASSERT_TRUE(r) << i << ": " << r.error().message;
    ASSERT_EQ(r->status, 202);
    ASSERT_EQ(r->body, expect + std::to_string(body.size()) + "}");
  }
  ServerStats st = server->stats();
  EXPECT_EQ(st.connections_accepted, 1u);
  EXPECT_EQ(st.requests, static_cast<uint64_t>(kRequests));
}

TEST(HttpServer, PipelinedRequestsAreAnsweredInOrder) {
  auto server = StartServer(AddApiRoutes);
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  std::string batch =
      "GET /api/v1/metrics/one HTTP/1.1\r\nHost: x\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabcde"
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nfoo\r\n3\r\nbar\r\n0\r\n\r\n"
      "GET /api/v1/metrics/three/late HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(client->SendRaw(batch));
  std::vector<std::string> bodies;
  for (int i = 0; i < 4; ++i) {
    auto r = client->ReadResponse();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    bodies.push_back(r->body);
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"id=one", "abcde", "foobar", "late:three"}));

  // A client that half-closes right after sending still gets every answer, even one too big
  // to be written before the server reads the end of the input.
  auto oneshot = Connect(*server);
  ASSERT_TRUE(oneshot);
  std::string big(12 << 20, 'q');
  ASSERT_TRUE(
      oneshot->SendRaw("GET /api/v1/metrics/a HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: " +
                       std::to_string(big.size()) + "\r\n\r\n" + big));
  ASSERT_TRUE(oneshot->ShutdownSend());
  auto first = oneshot->ReadResponse();
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->body, "id=a");
  auto second = oneshot->ReadResponse();
  ASSERT_TRUE(second) << second.error().message;
  EXPECT_EQ(second->body.size(), big.size());
  EXPECT_TRUE(second->body == big);
  EXPECT_TRUE(oneshot->WaitForClose(2s));
}

TEST(HttpServer, PipelinedBurstWithLargeAndLateAnswers) {
  ThreadGroup helpers;
  std::mutex mu;
  auto server = StartServer([&](HttpServer& s) {
    ASSERT_TRUE(s.Route("GET", "/big/{n}", [](Request& r) {
      size_t size = std::stoul(std::string(*r.param("size")));
      std::string n(*r.path_param("n"));
      return Response::Text(200, n + ":" + std::string(size - n.size() - 1, 'z'));
    }));
    ASSERT_TRUE(s.Route("GET", "/later/{n}", [&](Request& r, Responder done) {
      std::lock_guard lock(mu);
      helpers.threads.emplace_back([n = std::string(*r.path_param("n")), d = std::move(done)]() mutable {
        std::this_thread::sleep_for(5ms);
        d(Response::Text(200, n + ":later"));
      });
    }));
  });
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  // Far more answer bytes than the server buffers before it pauses parsing, some bodies large
  // enough to be written without copying, and answers that come late from other threads.
  constexpr int kRequests = 300;
  auto size_of = [](int i) { return i % 37 == 0 ? 100000 : 8000; };
  std::string batch;
  for (int i = 0; i < kRequests; ++i) {
    if (i % 50 == 25) {
      batch += fmt::format("GET /later/{} HTTP/1.1\r\nHost: x\r\n\r\n", i);
    } else {
      batch += fmt::format("GET /big/{}?size={} HTTP/1.1\r\nHost: x\r\n\r\n", i, size_of(i));
    }
  }
  ASSERT_TRUE(client->SendRaw(batch));
  for (int i = 0; i < kRequests; ++i) {
    auto r = client->ReadResponse();
    ASSERT_TRUE(r) << i << ": " << r.error().message;
    ASSERT_EQ(r->status, 200);
    if (i % 50 == 25) {
      ASSERT_EQ(r->body, std::to_string(i) + ":later");
    } else {
      ASSERT_EQ(r->body.size(), static_cast<size_t>(size_of(i))) << i;
      ASSERT_TRUE(r->body.starts_with(std::to_string(i) + ":")) << i;
    }
  }
  EXPECT_EQ(server->stats().requests, static_cast<uint64_t>(kRequests));
}

TEST(HttpServer, ConnectionCloseAndHttp10) {
  auto server = StartServer(AddApiRoutes);
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendRaw("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  auto r = client->ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(client->WaitForClose(2s));

  // HTTP/1.0 closes unless asked to keep the connection.
  ASSERT_TRUE(client->SendRaw("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  r = client->ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Connection"), "keep-alive");
  ASSERT_TRUE(client->SendRaw("GET /hello HTTP/1.0\r\n\r\n"));
  r = client->ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello world");
  EXPECT_TRUE(client->WaitForClose(2s));
}

TEST(HttpServer, MalformedRequestsGet400AndClose) {
  auto server = StartServer(AddApiRoutes);
  ASSERT_TRUE(server);
  for (std::string bad : {std::string("GET /hello HTTP/9.9\r\n\r\n"), std::string("\x01\x02 garbage\r\n\r\n"),
                          std::string("GET /hello HTTP/1.1\r\nBad Header Name: x\r\n\r\n"),
                          std::string("POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n")}) {
    auto client = Connect(*server);
    ASSERT_TRUE(client);
    ASSERT_TRUE(client->SendRaw(bad));
    auto r = client->ReadResponse();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 400) << bad;
    EXPECT_THAT(r->body, StartsWith(R"({"error":{"status":400,"message":"malformed HTTP request: )"));
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(client->WaitForClose(2s));
  }
  EXPECT_EQ(server->stats().bad_requests, 4u);

  // A target that is not a path is well framed: answered 400, connection kept.
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendRaw("GET relative HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = client->ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  r = client->Request("GET", "/hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, BodyAndHeaderLimits) {
  ServerOptions options;
  options.max_body_bytes = 1024;
  options.max_header_bytes = 1024;
  auto server = StartServer(AddApiRoutes, options);
  ASSERT_TRUE(server);
  {
    // Refused from Content-Length alone, before the body arrives.
    auto client = Connect(*server);
    ASSERT_TRUE(client);
    ASSERT_TRUE(
        client->SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(100, 'a')));
    auto r = client->ReadResponse();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(
        r->body,
        R"js({"error":{"status":413,"message":"request body exceeds the limit of 1024 bytes (max_body_bytes)"}})js");
    EXPECT_TRUE(client->WaitForClose(2s));
  }
  {
    // Chunked bodies are counted as they arrive.
    auto client = Connect(*server);
    ASSERT_TRUE(client);
    std::string chunk(600, 'b');
    ASSERT_TRUE(client->SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n" + chunk +
                                "\r\n258\r\n" + chunk + "\r\n0\r\n\r\n"));
    auto r = client->ReadResponse();
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 413);
  }
  {
    auto client = Connect(*server);
    ASSERT_TRUE(client);
    auto r = client->Request("GET", "/hello", {}, {{"X-Big", std::string(2000, 'h')}});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 431);
    EXPECT_THAT(r->body, HasSubstr("1024 bytes"));
  }
  {
    // Exactly at the limit is fine.
    auto client = Connect(*server);
    ASSERT_TRUE(client);
    auto r = client->Request("POST", "/echo", std::string(1024, 'c'));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body.size(), 1024u);
  }
}

TEST(HttpServer, ExpectContinue) {
  auto server = StartServer(AddApiRoutes);
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->SendRaw("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  auto interim = client->ReadResponse();
  ASSERT_TRUE(interim) << interim.error().message;
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client->SendRaw("data"));
  auto r = client->ReadResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "data");
}

TEST(HttpServer, AsyncResponderCompletesFromAnotherThread) {
  ThreadGroup helpers;
  std::mutex mu;
  std::atomic<bool> slow_answered{false};
  auto server = StartServer([&](HttpServer& s) {
    ASSERT_TRUE(s.Route("POST", "/slow", [&](Request& req, Responder done) {
      std::lock_guard lock(mu);
      helpers.threads.emplace_back([&slow_answered, body = std::move(req.body), done = std::move(done)]() mutable {
        std::this_thread::sleep_for(150ms);
        slow_answered = true;
        done(Response::Json(202, "{\"committed\":\"" + body + "\"}"));
      });
    }));
    ASSERT_TRUE(s.Route("GET", "/fast", [](Request&) { return Response::Text(200, "fast"); }));
  });  // one IO thread: the slow request must not hold it
  ASSERT_TRUE(server);

  auto slow_client = Connect(*server);
  ASSERT_TRUE(slow_client);
  auto slow = std::async(std::launch::async, [&] { return slow_client->Request("POST", "/slow", "wal-entry"); });
  std::this_thread::sleep_for(20ms);  // let the slow request reach its handler
  auto fast_client = Connect(*server);
  ASSERT_TRUE(fast_client);
  for (int i = 0; i < 20; ++i) {
    auto r = fast_client->Request("GET", "/fast");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "fast");
  }
  EXPECT_FALSE(slow_answered.load());
  auto r = slow.get();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->body, "{\"committed\":\"wal-entry\"}");
  // The slow connection goes on being usable.
  r = slow_client->Request("GET", "/fast");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, HandlerFailuresAnswer500) {
  ThreadGroup helpers;
  auto server = StartServer([&](HttpServer& s) {
    ASSERT_TRUE(s.Route("GET", "/throw", [](Request&) -> Response { throw std::runtime_error("boom \"quoted\""); }));
    ASSERT_TRUE(s.Route("GET", "/drop", [](Request&, Responder) {}));
    ASSERT_TRUE(s.Route("GET", "/drop-later", [&](Request&, Responder done) {
      helpers.threads.emplace_back([d = std::move(done)]() mutable {
        std::this_thread::sleep_for(10ms);
        Responder gone = std::move(d);  // destroyed without answering
      });
    }));
    ASSERT_TRUE(s.Route("GET", "/twice", [](Request&, Responder done) {
      done(Response::Text(200, "first"));
      done(Response::Text(200, "second"));  // ignored: the Responder is used up
    }));
    ASSERT_TRUE(s.Route("GET", "/answer-then-throw", [](Request&, Responder done) {
      done(Response::Text(200, "answered"));
      throw std::logic_error("after answering");
    }));
  });
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);

  auto r = client->Request("GET", "/throw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"error":{"status":500,"message":"internal error: boom \"quoted\""}})");
  r = client->Request("GET", "/drop");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_THAT(r->body, HasSubstr("without responding"));
  r = client->Request("GET", "/drop-later");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  r = client->Request("GET", "/twice");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "first");
  r = client->Request("GET", "/answer-then-throw");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "answered");
  // Exactly one answer per request: a stray second answer would show up here.
  r = client->Request("GET", "/twice");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "first");
  EXPECT_EQ(server->stats().handler_failures, 3u);
  EXPECT_EQ(server->stats().connections_accepted, 1u);
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("weir_server_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  void Write(const std::string& rel, const std::string& content) const {
    std::filesystem::create_directories((path_ / rel).parent_path());
    std::ofstream(path_ / rel, std::ios::binary) << content;
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};

TEST(HttpServer, StaticFiles) {
  TempDir dir;
  dir.Write("web/index.html", "<h1>weir</h1>");
  dir.Write("web/app.js", "console.log(1)");
  dir.Write("web/sub/index.html", "sub index");
  dir.Write("web/sub/style.css", "body{}");
  dir.Write("secret.txt", "do not serve");
  auto server = StartServer([&](HttpServer& s) {
    ASSERT_TRUE(s.Route("GET", "/ui/api", [](Request&) { return Response::Text(200, "route wins"); }));
    ASSERT_TRUE(s.ServeStatic("/ui", (dir.path() / "web").string()));
  });
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);

  auto r = client->Request("GET", "/ui/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<h1>weir</h1>");
  EXPECT_EQ(r->content_type, "text/html; charset=utf-8");

  r = client->Request("GET", "/ui/app.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "console.log(1)");
  EXPECT_EQ(r->content_type, "text/javascript; charset=utf-8");
  std::string etag(r->header("ETag"));
  ASSERT_FALSE(etag.empty());

  r = client->Request("GET", "/ui/app.js", {}, {{"If-None-Match", etag}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 304);
  EXPECT_EQ(r->body, "");

  r = client->Request("GET", "/ui/sub/style.css");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->content_type, "text/css; charset=utf-8");

  r = client->Request("GET", "/ui/sub?x=1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(r->header("Location"), "/ui/sub/?x=1");
  r = client->Request("GET", "/ui");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 301);
  EXPECT_EQ(r->header("Location"), "/ui/");

  r = client->Request("GET", "/ui/api");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "route wins");

  for (const char* target : {"/ui/../secret.txt", "/ui/%2e%2e/secret.txt", "/ui/sub/..%2F..%2Fsecret.txt"}) {
    r = client->Request("GET", target);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 400) << target;
    EXPECT_THAT(r->body, Not(HasSubstr("do not serve")));
  }

  r = client->Request("GET", "/ui/missing.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = client->Request("GET", "/uiapp.js");  // the prefix is a whole segment
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = client->Request("POST", "/ui/app.js", "x");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("Allow"), "GET, HEAD");
  r = client->Request("HEAD", "/ui/app.js");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Length"), "14");
  EXPECT_EQ(r->body, "");
}

// Holds the streams a /live route opened, and when each one closed.
struct LiveFeed {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::shared_ptr<Stream>> streams;
  int closed = 0;
  StreamOptions options;

  void Install(HttpServer& s) {
    ASSERT_TRUE(s.Route("GET", "/live", [this](Request&, Responder done) {
      std::shared_ptr<Stream> stream = done.StartStream(options);
      stream->OnClose([this] {
        std::lock_guard lock(mu);
        ++closed;
        cv.notify_all();
      });
      std::lock_guard lock(mu);
      streams.push_back(stream);
      cv.notify_all();
    }));
  }
  std::shared_ptr<Stream> WaitStream(size_t i) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, 2s, [&] { return streams.size() > i; });
    return streams.size() > i ? streams[i] : nullptr;
  }
  bool WaitClosed(int n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 2s, [&] { return closed >= n; });
  }
};

TEST(HttpServer, ServerSentEvents) {
  LiveFeed feed;
  auto server = StartServer([&](HttpServer& s) { feed.Install(s); });
  ASSERT_TRUE(server);

  auto client = Connect(*server);
  ASSERT_TRUE(client);
  auto head = client->StartStream("GET", "/live");
  ASSERT_TRUE(head) << head.error().message;
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->content_type, "text/event-stream");
  EXPECT_EQ(head->header("Cache-Control"), "no-cache");
  EXPECT_EQ(head->header("Transfer-Encoding"), "chunked");
  EXPECT_TRUE(head->header("Content-Length").empty());
  std::shared_ptr<Stream> stream = feed.WaitStream(0);
  ASSERT_TRUE(stream);

  // Nothing written yet: the read times out and the stream stays usable.
  auto none = client->ReadEvent(50ms);
  EXPECT_FALSE(none);

  // Writes from another thread, in a burst, arrive in order.
  std::thread writer([&] {
    for (int i = 0; i < 5; ++i)
      EXPECT_TRUE(stream->Write("id: " + std::to_string(i) + "\ndata: {\"n\":" + std::to_string(i) + "}\n\n"));
  });
  writer.join();
  for (int i = 0; i < 5; ++i) {
    auto event = client->ReadEvent(2s);
    ASSERT_TRUE(event) << event.error().message;
    ASSERT_TRUE(event->has_value());
    EXPECT_EQ(**event, "id: " + std::to_string(i) + "\ndata: {\"n\":" + std::to_string(i) + "}\n\n");
  }
  EXPECT_FALSE(stream->closed());

  // The server ends the stream: the client sees the end of the body.
  stream->Close();
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("data: late\n\n"));
  auto end = client->ReadEvent(2s);
  ASSERT_TRUE(end) << end.error().message;
  EXPECT_FALSE(end->has_value());
  EXPECT_TRUE(feed.WaitClosed(1));

  // The client goes away: the server notices without any write.
  auto client2 = Connect(*server);
  ASSERT_TRUE(client2);
  ASSERT_TRUE(client2->StartStream("GET", "/live"));
  std::shared_ptr<Stream> stream2 = feed.WaitStream(1);
  ASSERT_TRUE(stream2);
  EXPECT_TRUE(stream2->Write(": hello\n\n"));
  auto first = client2->ReadEvent(2s);
  ASSERT_TRUE(first && first->has_value());
  client2->Close();
  EXPECT_TRUE(feed.WaitClosed(2));
  EXPECT_TRUE(stream2->closed());
  EXPECT_FALSE(stream2->Write("data: nobody\n\n"));

  // OnClose on an ended stream runs at once.
  bool ran = false;
  stream2->OnClose([&] { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(HttpServer, SlowStreamClientIsCutOffWithoutBlockingOthers) {
  LiveFeed feed;
  feed.options.max_queued_bytes = 64 << 10;
  auto server = StartServer([&](HttpServer& s) {
    feed.Install(s);
    ASSERT_TRUE(s.Route("GET", "/ping", [](Request&) { return Response::Text(200, "pong"); }));
  });
  ASSERT_TRUE(server);
  auto reader = Connect(*server);  // starts a stream, then never reads
  ASSERT_TRUE(reader);
  ASSERT_TRUE(reader->StartStream("GET", "/live"));
  std::shared_ptr<Stream> stream = feed.WaitStream(0);
  ASSERT_TRUE(stream);

  std::string chunk = "data: " + std::string(4088, 'x') + "\n\n";  // 4 KiB
  size_t writes = 0;
  auto begin = std::chrono::steady_clock::now();
  // The socket buffers fill up, then the queue; Write must report it instead of blocking.
  while (writes < 100000 && stream->Write(chunk)) {
    ++writes;
    // Give the IO thread the chance to drain into the socket, however loaded the machine: wait
    // (a bounded time) for the queue to go under half the bound before writing on.
    for (int i = 0; i < 200 && stream->queued_bytes() > feed.options.max_queued_bytes / 2; ++i)
      std::this_thread::sleep_for(1ms);
  }
  EXPECT_LT(writes, 100000u) << "the slow client was never cut off";
  // More than the queue bound went out: the IO thread drained the queue into the socket
  // until the client's buffers were full, and only then cut it off.
  EXPECT_GT(writes * chunk.size(), 2 * feed.options.max_queued_bytes) << writes;
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 10s);
  EXPECT_TRUE(stream->closed());
  EXPECT_TRUE(feed.WaitClosed(1));

  auto other = Connect(*server);
  ASSERT_TRUE(other);
  auto r = other->Request("GET", "/ping");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "pong");
}

TEST(HttpServer, StreamPostEveryAndWhenDrainedRunOnTheIoThread) {
  LiveFeed feed;
  std::thread::id io_thread;
  auto server = StartServer([&](HttpServer& s) {
    ASSERT_TRUE(s.Route("GET", "/id", [&](Request&) {
      io_thread = std::this_thread::get_id();
      return Response::Text(200, "");
    }));
    feed.Install(s);
  });
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Request("GET", "/id"));
  ASSERT_TRUE(client->StartStream("GET", "/live"));
  std::shared_ptr<Stream> stream = feed.WaitStream(0);
  ASSERT_TRUE(stream);

  std::promise<std::thread::id> posted;
  EXPECT_TRUE(stream->Post([&] { posted.set_value(std::this_thread::get_id()); }));
  EXPECT_EQ(posted.get_future().get(), io_thread);

  std::weak_ptr<Stream> weak = stream;
  std::atomic<int> ticks{0};
  stream->Every(5ms, [weak, &ticks] {
    if (auto s = weak.lock()) s->Write(fmt::format(": tick {}\n\n", ++ticks));
  });
  auto e = client->ReadEvent(2s);
  ASSERT_TRUE(e && e->has_value());
  EXPECT_EQ(**e, ": tick 1\n\n");
  e = client->ReadEvent(2s);
  ASSERT_TRUE(e && e->has_value());
  EXPECT_EQ(**e, ": tick 2\n\n");
  stream->Every(1h, [] {});  // replaces the schedule

  // Queue a megabyte the client has not read yet; the callback waits until it has.
  for (int i = 0; i < 256; ++i) ASSERT_TRUE(stream->Write("data: " + std::string(4088, 'x') + "\n\n"));
  std::promise<size_t> drained;
  stream->WhenDrained(1000, [&] { drained.set_value(stream->queued_bytes()); });
  auto future = drained.get_future();
  for (int i = 0; i < 256; ++i) {
    // (a tick written before the schedule was replaced may come first)
    auto block = client->ReadEvent(2s);
    ASSERT_TRUE(block && block->has_value());
    if ((*block)->starts_with(": tick")) --i;
  }
  ASSERT_EQ(future.wait_for(2s), std::future_status::ready);
  EXPECT_LE(future.get(), 1000u);

  stream->Close();
  EXPECT_TRUE(feed.WaitClosed(1));
  EXPECT_FALSE(stream->Post([] { ADD_FAILURE() << "ran on a closed stream"; }));
}

TEST(HttpServer, HeadOnAStreamRouteSendsHeadersOnly) {
  LiveFeed feed;
  auto server = StartServer([&](HttpServer& s) { feed.Install(s); });
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  auto r = client->Request("HEAD", "/live");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->content_type, "text/event-stream");
  std::shared_ptr<Stream> stream = feed.WaitStream(0);
  ASSERT_TRUE(stream);
  EXPECT_TRUE(stream->closed());
  EXPECT_TRUE(feed.WaitClosed(1));
}

TEST(HttpServer, StopClosesOpenConnections) {
  LiveFeed feed;
  std::mutex mu;
  std::vector<Responder> parked;
  auto server = StartServer(
      [&](HttpServer& s) {
        feed.Install(s);
        AddApiRoutes(s);
        ASSERT_TRUE(s.Route("POST", "/park", [&](Request&, Responder done) {
          std::lock_guard lock(mu);
          parked.push_back(std::move(done));
        }));
      },
      ServerOptions{.threads = 2});
  ASSERT_TRUE(server);

  auto idle = Connect(*server);
  ASSERT_TRUE(idle);
  ASSERT_TRUE(idle->Request("GET", "/hello"));
  auto waiting = Connect(*server);
  ASSERT_TRUE(waiting);
  auto pending = std::async(std::launch::async, [&] { return waiting->Request("POST", "/park", "x"); });
  ASSERT_TRUE(Eventually([&] {
    std::lock_guard lock(mu);
    return parked.size() == 1;
  }));
  auto streaming = Connect(*server);
  ASSERT_TRUE(streaming);
  ASSERT_TRUE(streaming->StartStream("GET", "/live"));
  std::shared_ptr<Stream> stream = feed.WaitStream(0);
  ASSERT_TRUE(stream);
  EXPECT_EQ(server->stats().connections_open, 3u);

  auto begin = std::chrono::steady_clock::now();
  server->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
  EXPECT_EQ(server->stats().connections_open, 0u);

  EXPECT_TRUE(idle->WaitForClose(1s));
  auto answer = pending.get();
  EXPECT_FALSE(answer);  // the connection closed without an answer
  EXPECT_TRUE(feed.WaitClosed(1));
  EXPECT_TRUE(stream->closed());
  EXPECT_FALSE(stream->Write("data: after stop\n\n"));
  // Late answers are harmless.
  std::lock_guard lock(mu);
  parked[0](Response::Text(200, "too late"));
  EXPECT_FALSE(HttpClient::Connect("127.0.0.1", server->port(), 500ms));
  server->Stop();  // idempotent
}

TEST(HttpServer, GracefulStopLetsRequestsInProgressFinish) {
  ThreadGroup helpers;
  auto server = StartServer([&](HttpServer& s) {
    AddApiRoutes(s);
    ASSERT_TRUE(s.Route("POST", "/commit", [&](Request&, Responder done) {
      helpers.threads.emplace_back([d = std::move(done)]() mutable {
        std::this_thread::sleep_for(200ms);
        d(Response::Json(202, "{\"ok\":true}"));
      });
    }));
  });
  ASSERT_TRUE(server);
  auto idle = Connect(*server);
  ASSERT_TRUE(idle);
  ASSERT_TRUE(idle->Request("GET", "/hello"));
  auto busy = Connect(*server);
  ASSERT_TRUE(busy);
  auto pending = std::async(std::launch::async, [&] { return busy->Request("POST", "/commit", "x"); });
  std::this_thread::sleep_for(50ms);

  auto begin = std::chrono::steady_clock::now();
  server->Stop(5s);
  auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_LT(took, 3s);
  auto r = pending.get();
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 202);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(idle->WaitForClose(1s));
}

TEST(HttpServer, ReportsAddressInUse) {
  auto first = StartServer(AddApiRoutes);
  ASSERT_TRUE(first);
  auto second = HttpServer::Make({.host = "127.0.0.1", .port = first->port()});
  ASSERT_TRUE(second);
  auto started = (*second)->Start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().message,
            "cannot listen on 127.0.0.1:" + std::to_string(first->port()) + ": address already in use");
  // The first server is unaffected.
  auto client = Connect(*first);
  ASSERT_TRUE(client);
  EXPECT_TRUE(client->Request("GET", "/hello"));
}

TEST(HttpServer, RejectsBadOptionsAndLateRoutes) {
  EXPECT_FALSE(HttpServer::Make({.threads = 0}));
  EXPECT_FALSE(HttpServer::Make({.max_body_bytes = 0}));
  EXPECT_FALSE(HttpServer::Make({.idle_timeout = std::chrono::milliseconds(0)}));
  auto server = StartServer(AddApiRoutes);
  ASSERT_TRUE(server);
  auto late = server->Route("GET", "/late", [](Request&) { return Response::Text(200, ""); });
  ASSERT_FALSE(late);
  EXPECT_THAT(late.error().message, HasSubstr("before Start()"));
  EXPECT_FALSE(server->Start());
}

TEST(HttpServer, IdleConnectionsTimeOut) {
  ServerOptions options;
  options.idle_timeout = 150ms;
  auto server = StartServer(AddApiRoutes, options);
  ASSERT_TRUE(server);
  auto client = Connect(*server);
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->Request("GET", "/hello"));
  auto begin = std::chrono::steady_clock::now();
  EXPECT_TRUE(client->WaitForClose(3s));
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 100ms);
  EXPECT_TRUE(Eventually([&] { return server->stats().connections_open == 0; }));
}

TEST(HttpServer, ConcurrentClientsOnSeveralThreads) {
  std::atomic<int> handled{0};
  auto server = StartServer(
      [&](HttpServer& s) {
        ASSERT_TRUE(s.Route("POST", "/api/v1/events", [&](Request& r) {
          handled.fetch_add(1);
          return Response::Json(202, "{\"n\":" + std::string(r.body) + "}");
        }));
      },
      ServerOptions{.threads = 2});
  ASSERT_TRUE(server);
  constexpr int kClients = 4, kRequests = 300;
  std::atomic<int> ok{0};
  {
    ThreadGroup clients;
    for (int c = 0; c < kClients; ++c) {
      clients.threads.emplace_back([&, c] {
        auto client = HttpClient::Connect("127.0.0.1", server->port());
        if (!client) return;
        for (int i = 0; i < kRequests; ++i) {
          std::string n = std::to_string(c * kRequests + i);
          auto r = (*client)->Request("POST", "/api/v1/events", n);
          if (r && r->status == 202 && r->body == "{\"n\":" + n + "}") ok.fetch_add(1);
        }
      });
    }
  }
  EXPECT_EQ(ok.load(), kClients * kRequests);
  EXPECT_EQ(handled.load(), kClients * kRequests);
  EXPECT_EQ(server->stats().connections_accepted, static_cast<uint64_t>(kClients));
}

TEST(Response, ErrorIsValidJson) {
  Response r = Response::Error(400, "bad \"x\"\n\\ \x01 caf\xc3\xa9 \xff end");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body,
            "{\"error\":{\"status\":400,\"message\":\"bad \\\"x\\\"\\n\\\\ \\u0001 caf\xc3\xa9 \xef\xbf\xbd end\"}}");
  EXPECT_EQ(Response::Text(201, "t").content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(Response::Json(202, "{}").body, "{}");
}

TEST(Request, HeadersAndParams) {
  Request r;
  r.AddHeader("Content-Type", "application/json");
  r.AddHeader("X-Multi", "1");
  r.AddHeader("x-multi", "2");
  r.query = {{"a", "1"}, {"a", "2"}};
  r.path_params = {{"id", "m"}};
  EXPECT_EQ(r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("X-MULTI"), "1");
  EXPECT_EQ(r.header("missing"), "");
  EXPECT_TRUE(r.has_header("x-multi"));
  EXPECT_FALSE(r.has_header("missing"));
  EXPECT_EQ(r.header_count(), 3u);
  EXPECT_EQ(r.header_at(2).second, "2");
  EXPECT_EQ(r.param("a"), "1");
  EXPECT_EQ(r.param("b"), std::nullopt);
  EXPECT_EQ(r.path_param("id"), "m");
  r.Clear();
  EXPECT_EQ(r.header_count(), 0u);
  EXPECT_EQ(r.header("content-type"), "");
}

TEST(Responder, ForCallbackDeliversOnce) {
  std::vector<Response> got;
  {
    Responder done = Responder::ForCallback([&](Response r) { got.push_back(std::move(r)); });
    EXPECT_TRUE(static_cast<bool>(done));
    done(Response::Text(200, "a"));
    EXPECT_FALSE(static_cast<bool>(done));
    done(Response::Text(200, "b"));
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "a");

  {
    Responder dropped = Responder::ForCallback([&](Response r) { got.push_back(std::move(r)); });
  }
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].status, 500);

  Responder streamed = Responder::ForCallback([&](Response r) { got.push_back(std::move(r)); });
  std::shared_ptr<Stream> s = streamed.StartStream();
  ASSERT_TRUE(s);
  EXPECT_EQ(streamed.StartStream(), nullptr);
  bool closed = false;
  s->OnClose([&] { closed = true; });
  EXPECT_TRUE(s->Write("data: 1\n\n"));
  EXPECT_TRUE(s->Write("data: 2\n\n"));
  s->Close();
  EXPECT_TRUE(closed);
  EXPECT_FALSE(s->Write("data: 3\n\n"));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].content_type, "text/event-stream");
  EXPECT_EQ(got[2].body, "data: 1\n\ndata: 2\n\n");
}

}  // namespace
}  // namespace weir::server
