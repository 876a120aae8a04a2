// End to end through the weir binary: results pushed live over SSE and WebSocket while events
// are posted; clients that disconnect and resume get exactly the rows they missed, and a client
// whose position is older than the live ring (--live-ring-rows) gets a snapshot instead.
// (Latency from ingest to an SSE update is measured by scripts/bench-serving, not here.)
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "support/live.h"
#include "support/process.h"
#include "weir/server/http_client.h"
#include "weir/server/websocket_client.h"

namespace fs = std::filesystem;
using weir::server::HttpClient;
using weir::server::Response;
using weir::server::WebSocketClient;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPipeline = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: live }
spec:
  sources:
    - { type: http, id: ingest }
  metrics:
    - id: views
      where: event_type = 'page_view'
      event_time: timestamp
      watermark: 5s
      window: { tumbling: 1m }
      group_by: { country: properties.country }
      select: { views: count() }
      emit: { early: EARLY }
)";

std::string View(std::string_view country) {
  return fmt::format(
      R"({{"event_type":"page_view","timestamp":"2026-02-16T10:30:05Z","properties":{{"country":"{}"}}}})", country);
}

struct SseEvent {
  std::string id, event, data;
};

// The seq of an update or snapshot message ("seq":N; 0 for null).
uint64_t SeqOf(std::string_view data) {
  size_t at = data.find("\"seq\":");
  if (at == std::string_view::npos) return 0;
  return std::strtoull(std::string(data.substr(at + 6, 20)).c_str(), nullptr, 10);
}

class LivePush : public ::testing::Test {
 protected:
  void StartWeir(std::string_view early, int ring_rows) {
    dir_ = fs::path(::testing::TempDir()) / ("weir_live_" + std::to_string(getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string yaml = kPipeline;
    yaml.replace(yaml.find("EARLY"), 5, early);
    std::ofstream(dir_ / "pipeline.yaml") << yaml;
    proc_ = weir::testing::Process::Spawn({WEIR_BINARY, "run", (dir_ / "pipeline.yaml").string(), "--listen",
                                           "127.0.0.1:0", "--port-file", (dir_ / "port").string(), "--data-dir",
                                           (dir_ / "data").string(), "--live-ring-rows", std::to_string(ring_rows)},
                                          {}, (dir_ / "stderr.log").string());
    ASSERT_TRUE(proc_.started());
    for (int i = 0; i < 500 && !fs::exists(dir_ / "port"); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(fs::exists(dir_ / "port")) << weir::testing::ReadFile((dir_ / "stderr.log").string());
    port_ = static_cast<uint16_t>(std::stoi(weir::testing::ReadFile((dir_ / "port").string())));
    auto c = HttpClient::Connect("127.0.0.1", port_);
    ASSERT_TRUE(c) << c.error().message;
    client_ = std::move(*c);
  }
  void TearDown() override {
    client_.reset();
    proc_.Signal(SIGTERM);
    EXPECT_EQ(proc_.Wait(20s), 0) << weir::testing::ReadFile((dir_ / "stderr.log").string());
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void Post(std::string_view country) {
    auto r = client_->Request("POST", "/api/v1/events", View(country), {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->status, 202) << r->body;
    ++counts_[std::string(country)];
  }
  // The hub's newest seq of `views`, from /api/v1/live.
  uint64_t LastSeq() {
    auto r = client_->Request("GET", "/api/v1/live");
    if (!r) return 0;
    size_t at = r->body.find("\"last_seq\":");
    return at == std::string::npos ? 0 : std::strtoull(r->body.c_str() + at + 11, nullptr, 10);
  }
  // Posts one event and waits until its update has been emitted (early emission is periodic).
  void PostAndWait(std::string_view country) {
    uint64_t before = LastSeq();
    Post(country);
    for (int i = 0; i < 500 && LastSeq() == before; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(LastSeq(), before + 1);
  }

  std::unique_ptr<HttpClient> OpenSse(std::string_view target, const weir::server::HeaderList& headers = {}) {
    auto c = HttpClient::Connect("127.0.0.1", port_);
    EXPECT_TRUE(c);
    if (!c) return nullptr;
    auto r = (*c)->StartStream("GET", target, headers);
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return nullptr;
    EXPECT_EQ(r->status, 200);
    return std::move(*c);
  }
  // The next update or snapshot (retry lines and heartbeat comments are skipped).
  SseEvent Next(HttpClient& c) {
    for (int i = 0; i < 100; ++i) {
      auto block = c.ReadEvent(10s);
      EXPECT_TRUE(block) << block.error().message;
      if (!block || !block->has_value()) return {};
      SseEvent e;
      std::string_view b = **block;
      while (!b.empty()) {
        size_t nl = b.find('\n');
        std::string_view line = b.substr(0, nl);
        b = nl == std::string_view::npos ? std::string_view() : b.substr(nl + 1);
        if (line.starts_with("id: ")) e.id = line.substr(4);
        if (line.starts_with("event: ")) e.event = line.substr(7);
        if (line.starts_with("data: ")) e.data += line.substr(6);
      }
      if (!e.event.empty()) return e;
    }
    return {};
  }
  std::string ReadWs(WebSocketClient& ws) { return weir::testing::ReadSkippingHeartbeats(ws); }
  std::string Count(std::string_view country) {
    return fmt::format(R"("country":"{}","views":{})", country, counts_[std::string(country)]);
  }

  fs::path dir_;
  weir::testing::Process proc_;
  uint16_t port_ = 0;
  std::unique_ptr<HttpClient> client_;
  std::map<std::string, int> counts_;
};

TEST_F(LivePush, SseAndWebSocketResumeWithoutGapsOrRepeats) {
  StartWeir("200ms", 6);

  // A WebSocket client on seed 004's path, and an SSE client; both start from a snapshot.
  auto ws = WebSocketClient::Connect("127.0.0.1", port_, "/api/v1/stream/metrics");
  ASSERT_TRUE(ws) << ws.error().message;
  ASSERT_TRUE((*ws)->Send(R"({"subscribe": ["views"]})"));
  EXPECT_EQ(ReadWs(**ws), R"({"type":"subscribed","metrics":["views"]})");
  EXPECT_EQ(ReadWs(**ws), R"({"type":"snapshot","metric":"views","seq":null,"reset":false,"rows":[]})");
  auto sse = OpenSse("/api/v1/stream?metrics=views");
  ASSERT_TRUE(sse);
  SseEvent e = Next(*sse);
  EXPECT_EQ(e.event, "snapshot");
  EXPECT_EQ(e.data, R"({"type":"snapshot","metric":"views","seq":null,"reset":false,"rows":[]})");

  // Updates with increasing seq on both.
  uint64_t last = 0;
  for (std::string_view country : {"DE", "FR"}) {
    PostAndWait(country);
    std::string m = ReadWs(**ws);
    EXPECT_NE(m.find(R"({"type":"update","metric":"views","seq":)"), std::string::npos) << m;
    EXPECT_NE(m.find(Count(country)), std::string::npos) << m;
    e = Next(*sse);
    EXPECT_EQ(e.event, "update");
    uint64_t seq = SeqOf(e.data);
    EXPECT_EQ(seq, SeqOf(m));
    EXPECT_EQ(seq, last + 1);
    EXPECT_EQ(e.id, fmt::format("views={}", seq));
    last = seq;
  }

  // SSE away; three rows happen; back with Last-Event-ID: exactly those three.
  std::string sse_id = e.id;
  sse.reset();
  for (std::string_view country : {"DE", "DE", "FR"}) {
    PostAndWait(country);
    EXPECT_EQ(SeqOf(ReadWs(**ws)), ++last);
  }
  sse = OpenSse("/api/v1/stream?metrics=views", {{"Last-Event-ID", sse_id}});
  ASSERT_TRUE(sse);
  for (uint64_t want = last - 2; want <= last; ++want) {
    e = Next(*sse);
    EXPECT_EQ(e.event, "update");
    EXPECT_EQ(SeqOf(e.data), want);
    EXPECT_EQ(e.id, fmt::format("views={}", want));
  }
  PostAndWait("US");
  ++last;
  e = Next(*sse);
  EXPECT_EQ(SeqOf(e.data), last);  // the next event is the new row: nothing repeated
  EXPECT_NE(e.data.find(Count("US")), std::string::npos) << e.data;
  EXPECT_EQ(SeqOf(ReadWs(**ws)), last);
  sse.reset();

  // WebSocket away; two rows; back on /api/v1/ws with a resume message.
  uint64_t ws_last = last;
  ASSERT_TRUE((*ws)->Close());
  PostAndWait("DE");
  PostAndWait("FR");
  last += 2;
  ws = WebSocketClient::Connect("127.0.0.1", port_, "/api/v1/ws");
  ASSERT_TRUE(ws) << ws.error().message;
  ASSERT_TRUE((*ws)->Send(fmt::format(R"({{"subscribe":["views"],"resume":{{"views":{}}}}})", ws_last)));
  EXPECT_EQ(ReadWs(**ws), R"({"type":"subscribed","metrics":["views"]})");
  EXPECT_EQ(SeqOf(ReadWs(**ws)), ws_last + 1);
  EXPECT_EQ(SeqOf(ReadWs(**ws)), ws_last + 2);
  PostAndWait("DE");
  ++last;
  std::string m = ReadWs(**ws);
  EXPECT_EQ(SeqOf(m), last);
  EXPECT_NE(m.find(Count("DE")), std::string::npos) << m;

  // The ring holds 6 rows: resuming from the first row is too old. A reset snapshot with the
  // current counts (from the store), then live updates again.
  sse = OpenSse("/api/v1/stream?metrics=views&last_event_id=views%3D1");
  ASSERT_TRUE(sse);
  e = Next(*sse);
  EXPECT_EQ(e.event, "snapshot");
  EXPECT_EQ(e.id, fmt::format("views={}", last));
  EXPECT_NE(e.data.find(fmt::format(R"("seq":{},"reset":true)", last)), std::string::npos) << e.data;
  for (const auto& [country, n] : counts_) EXPECT_NE(e.data.find(Count(country)), std::string::npos) << e.data;
  PostAndWait("FR");
  ++last;
  e = Next(*sse);
  EXPECT_EQ(e.event, "update");
  EXPECT_EQ(SeqOf(e.data), last);
  EXPECT_NE(e.data.find(Count("FR")), std::string::npos);

  // A new client without a position: the current state first.
  auto fresh = OpenSse("/api/v1/stream?metrics=views&country=DE");
  ASSERT_TRUE(fresh);
  e = Next(*fresh);
  EXPECT_EQ(e.event, "snapshot");
  EXPECT_NE(e.data.find(R"("reset":false)"), std::string::npos);
  EXPECT_NE(e.data.find(Count("DE")), std::string::npos) << e.data;
  EXPECT_EQ(e.data.find("FR"), std::string::npos) << e.data;

  auto stats = client_->Request("GET", "/api/v1/live");
  ASSERT_TRUE(stats);
  EXPECT_NE(stats->body.find(R"("ring_rows":6,)"), std::string::npos) << stats->body;
  EXPECT_NE(stats->body.find(R"("resets":1,)"), std::string::npos) << stats->body;
}

}  // namespace
