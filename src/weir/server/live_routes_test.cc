// The live transports over a real server, fed by hand-made result batches: SSE events, ids,
// resume by Last-Event-ID, snapshots, heartbeats, errors; WebSocket messages; slow clients.
#include "weir/server/live_routes.h"

#include <chrono>
#include <thread>

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "weir/server/http_client.h"
#include "weir/server/websocket_client.h"

namespace weir::server {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr Timestamp kW1 = 1771237800000;  // 2026-02-16T10:30:00Z

MetricSchema Schema(std::string id, uint32_t index) {
  MetricSchema s;
  s.id = std::move(id);
  s.index = index;
  s.key_names = {"country"};
  s.value_names = {"views"};
  return s;
}

// Emits one row per call with consecutive seq numbers, as a metric would.
struct Emitter {
  LiveHub& hub;
  const MetricSchema& schema;
  uint64_t seq = 0;
  void Emit(std::string_view country, int64_t views) {
    ResultBatch b;
    b.schema = &schema;
    b.cells = {Value::String(b.arena.Copy(country)), Value::Int(views)};
    ResultRow row;
    row.window_start = kW1;
    row.window_end = kW1 + 60000;
    row.seq = ++seq;
    row.final = false;
    row.keys = b.cells.data();
    row.values = b.cells.data() + 1;
    b.rows.push_back(row);
    hub.OnResults(b);
  }
};

struct SseEvent {
  std::string id, event, data;
  bool comment = false;
};

SseEvent ParseEvent(std::string_view block) {
  SseEvent e;
  while (!block.empty()) {
    size_t nl = block.find('\n');
    std::string_view line = block.substr(0, nl);
    block = nl == std::string_view::npos ? std::string_view() : block.substr(nl + 1);
    if (line.starts_with(":")) e.comment = true;
    if (line.starts_with("id: ")) e.id = line.substr(4);
    if (line.starts_with("event: ")) e.event = line.substr(7);
    if (line.starts_with("data: ")) e.data += line.substr(6);
  }
  return e;
}

class LiveRoutes : public ::testing::Test {
 protected:
  void Start(LiveOptions options = {}) {
    hub_ = std::make_unique<LiveHub>(std::vector<const MetricSchema*>{&views_, &clicks_}, options);
    auto server = HttpServer::Make({.host = "127.0.0.1", .port = 0});
    ASSERT_TRUE(server);
    server_ = std::move(*server);
    ASSERT_TRUE(RegisterLiveRoutes(*server_, *hub_));
    ASSERT_TRUE(server_->Start());
    views_em_ = std::make_unique<Emitter>(Emitter{*hub_, views_});
    clicks_em_ = std::make_unique<Emitter>(Emitter{*hub_, clicks_});
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  // Opens an SSE stream; events skip comments and the retry line unless asked for.
  std::unique_ptr<HttpClient> OpenSse(std::string_view target, const HeaderList& headers = {}, Response* head = nullptr) {
    auto c = HttpClient::Connect("127.0.0.1", server_->port());
    EXPECT_TRUE(c);
    if (!c) return nullptr;
    auto r = (*c)->StartStream("GET", target, headers);
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return nullptr;
    if (head) *head = *r;
    EXPECT_EQ(r->status, 200) << r->status;
    EXPECT_EQ(r->content_type, "text/event-stream");
    return std::move(*c);
  }
  SseEvent Next(HttpClient& c, bool skip_comments = true) {
    for (int i = 0; i < 1000; ++i) {
      auto block = c.ReadEvent(5s);
      EXPECT_TRUE(block) << block.error().message;
      if (!block || !block->has_value()) return {};
      SseEvent e = ParseEvent(**block);
      if (e.event.empty() && (skip_comments || !e.comment)) continue;  // retry:, heartbeats
      return e;
    }
    return {};
  }
  Response Get(std::string_view target, const HeaderList& headers = {}) {
    auto c = HttpClient::Connect("127.0.0.1", server_->port());
    EXPECT_TRUE(c);
    auto r = (*c)->Request("GET", target, {}, headers);
    EXPECT_TRUE(r);
    return r ? *r : Response{};
  }
  bool Eventually(const std::function<bool()>& cond) {
    for (int i = 0; i < 2500 && !cond(); ++i) std::this_thread::sleep_for(2ms);
    return cond();
  }

  MetricSchema views_ = Schema("views", 0);
  MetricSchema clicks_ = Schema("clicks", 1);
  std::unique_ptr<LiveHub> hub_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<Emitter> views_em_, clicks_em_;
};

TEST_F(LiveRoutes, SseSnapshotUpdatesAndResume) {
  Start();
  views_em_->Emit("DE", 1);
  Response head;
  auto c = OpenSse("/api/v1/stream?metrics=views,clicks", {}, &head);
  ASSERT_TRUE(c);
  EXPECT_EQ(head.header("Cache-Control"), "no-cache");
  auto first = c->ReadEvent(5s);
  ASSERT_TRUE(first && first->has_value());
  EXPECT_EQ(**first, "retry: 2000\n\n");

  SseEvent e = Next(*c);
  EXPECT_EQ(e.event, "snapshot");
  EXPECT_EQ(e.id, "views=1");
  EXPECT_THAT(e.data, StartsWith(R"({"type":"snapshot","metric":"views","seq":1,"reset":false,"rows":[{"metric":"views",)"));
  e = Next(*c);
  EXPECT_EQ(e.event, "snapshot");
  EXPECT_EQ(e.id, "views=1");  // clicks has emitted nothing: no position yet
  EXPECT_EQ(e.data, R"({"type":"snapshot","metric":"clicks","seq":null,"reset":false,"rows":[]})");

  views_em_->Emit("DE", 2);
  clicks_em_->Emit("FR", 1);
  e = Next(*c);
  EXPECT_EQ(e.event, "update");
  EXPECT_EQ(e.id, "views=2");
  EXPECT_THAT(e.data, StartsWith(R"({"type":"update","metric":"views","seq":2,"row":{)"));
  e = Next(*c);
  EXPECT_EQ(e.id, "views=2;clicks=1");
  EXPECT_EQ(hub_->subscribers(), 1u);

  // Away: the subscription leaves at once.
  c.reset();
  EXPECT_TRUE(Eventually([&] { return hub_->subscribers() == 0; }));
  views_em_->Emit("DE", 3);
  clicks_em_->Emit("FR", 2);
  views_em_->Emit("FR", 1);

  // Back with the last id: exactly what was missed, in order.
  c = OpenSse("/api/v1/stream?metrics=views,clicks", {{"Last-Event-ID", "views=2;clicks=1"}});
  ASSERT_TRUE(c);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    e = Next(*c);
    EXPECT_EQ(e.event, "update");
    ids.push_back(e.id);
  }
  EXPECT_THAT(ids, ElementsAre("views=3;clicks=1", "views=3;clicks=2", "views=4;clicks=2"));
  views_em_->Emit("DE", 4);
  e = Next(*c);
  EXPECT_EQ(e.id, "views=5;clicks=2");  // nothing repeated before it

  // The position may come in the query (clients that cannot set headers); the header wins.
  auto q = OpenSse("/api/v1/stream?metrics=views&last_event_id=views%3D4");
  ASSERT_TRUE(q);
  e = Next(*q);
  EXPECT_EQ(e.id, "views=5");
  auto both = OpenSse("/api/v1/stream?metrics=views&last_event_id=views%3D1", {{"Last-Event-ID", "4"}});
  ASSERT_TRUE(both);
  e = Next(*both);
  EXPECT_EQ(e.id, "views=5");
}

TEST_F(LiveRoutes, SseResetSnapshotFiltersAndHeartbeats) {
  Start({.ring_rows = 3, .heartbeat = 20ms});
  for (int i = 1; i <= 6; ++i) views_em_->Emit(i % 2 ? "DE" : "FR", i);
  // Rows 2..3 are gone: a snapshot that says so.
  auto c = OpenSse("/api/v1/stream?metrics=views", {{"Last-Event-ID", "views=1"}});
  ASSERT_TRUE(c);
  SseEvent e = Next(*c);
  EXPECT_EQ(e.event, "snapshot");
  EXPECT_EQ(e.id, "views=6");
  EXPECT_THAT(e.data, HasSubstr(R"("seq":6,"reset":true)"));
  EXPECT_THAT(e.data, HasSubstr(R"("country":"DE","views":5)"));
  EXPECT_THAT(e.data, HasSubstr(R"("country":"FR","views":6)"));
  // Heartbeats keep a quiet stream alive.
  SseEvent beat = Next(*c, false);
  EXPECT_TRUE(beat.comment);

  auto de = OpenSse("/api/v1/stream?metrics=views&country=DE", {{"Last-Event-ID", "views=6"}});
  ASSERT_TRUE(de);
  views_em_->Emit("FR", 7);
  views_em_->Emit("DE", 7);
  e = Next(*de);
  EXPECT_EQ(e.id, "views=8");
  EXPECT_THAT(e.data, HasSubstr(R"("country":"DE")"));
  EXPECT_EQ(hub_->subscribers(), 2u);
  std::string stats = Get("/api/v1/live").body;
  EXPECT_THAT(stats, HasSubstr(R"({"subscribers":2,)"));
  EXPECT_THAT(stats, HasSubstr(R"("views":{"ring_rows":3,)"));
}

TEST_F(LiveRoutes, SseErrorsNameTheProblem) {
  Start();
  Response r = Get("/api/v1/stream?metrics=views,nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("unknown metric 'nope'; metrics: views, clicks"));
  r = Get("/api/v1/stream?metrics=views&currency=USD");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("unknown parameter 'currency'; expected metrics, last_event_id, country"));
  r = Get("/api/v1/stream?metrics=views", {{"Last-Event-ID", "views:3"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("Last-Event-ID: position 'views:3'"));
  r = Get("/api/v1/stream", {{"Last-Event-ID", "3"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("a bare position (3) needs exactly one metric"));
  r = Get("/api/v1/stream?metrics=,");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(hub_->subscribers(), 0u);
}

std::string ReadWs(WebSocketClient& ws) {
  for (int i = 0; i < 100; ++i) {
    auto m = ws.Read(5s);
    EXPECT_TRUE(m) << m.error().message;
    if (!m || !m->has_value()) return "<closed>";
    if ((*m)->find(R"("type":"heartbeat")") != std::string::npos) continue;
    return **m;
  }
  return "<only heartbeats>";
}

TEST_F(LiveRoutes, WebSocketSubscribeResumeAndErrors) {
  Start({.heartbeat = 30ms});
  views_em_->Emit("DE", 1);
  auto ws = WebSocketClient::Connect("127.0.0.1", server_->port(), "/api/v1/stream/metrics", 5s);
  ASSERT_TRUE(ws) << ws.error().message;
  WebSocketClient& w = **ws;

  // Bad messages are answered, and the connection stays.
  ASSERT_TRUE(w.Send("not json"));
  EXPECT_THAT(ReadWs(w), HasSubstr(R"({"type":"error","message":"message is not JSON)"));
  ASSERT_TRUE(w.Send(R"(["views"])"));
  EXPECT_THAT(ReadWs(w), HasSubstr("message must be a JSON object"));
  ASSERT_TRUE(w.Send(R"({"subscribe":["views","nope"]})"));
  EXPECT_THAT(ReadWs(w), HasSubstr("unknown metric 'nope' in 'subscribe'; metrics: views, clicks"));
  ASSERT_TRUE(w.Send(R"({"subscribe":["views"],"colour":1})"));
  EXPECT_THAT(ReadWs(w), HasSubstr("unknown field 'colour'"));
  ASSERT_TRUE(w.Send(R"({"subscribe":["views"],"filter":{"currency":"USD"}})"));
  EXPECT_THAT(ReadWs(w), HasSubstr("'filter.currency' is not a group key"));
  ASSERT_TRUE(w.Send(R"({"resume":5})"));
  EXPECT_THAT(ReadWs(w), HasSubstr("'resume' with a bare seq needs exactly one metric"));
  ASSERT_TRUE(w.Send(R"({"resume":{"views":-1}})"));
  EXPECT_THAT(ReadWs(w), HasSubstr("'resume.views' must be a non-negative integer seq"));
  EXPECT_EQ(hub_->ring_stats()[0].subscribers, 0u);  // nothing applied from a bad message

  // Seed 004's message.
  ASSERT_TRUE(w.Send(R"({"subscribe": ["views", "clicks"]})"));
  EXPECT_EQ(ReadWs(w), R"({"type":"subscribed","metrics":["views","clicks"]})");
  std::string snap = ReadWs(w);
  EXPECT_THAT(snap, StartsWith(R"({"type":"snapshot","metric":"views","seq":1,"reset":false,"rows":[{)"));
  EXPECT_EQ(ReadWs(w), R"({"type":"snapshot","metric":"clicks","seq":null,"reset":false,"rows":[]})");
  views_em_->Emit("DE", 2);
  EXPECT_THAT(ReadWs(w), StartsWith(R"({"type":"update","metric":"views","seq":2,"row":{)"));
  ASSERT_TRUE(w.Send(R"({"unsubscribe":"clicks"})"));
  EXPECT_EQ(ReadWs(w), R"({"type":"subscribed","metrics":["views"]})");
  clicks_em_->Emit("FR", 1);
  views_em_->Emit("DE", 3);
  EXPECT_THAT(ReadWs(w), HasSubstr(R"("metric":"views","seq":3)"));
  ASSERT_TRUE(w.Close());

  // A new connection resumes where the last one stopped; bare seq for the one metric.
  views_em_->Emit("DE", 4);
  views_em_->Emit("FR", 1);
  auto again = WebSocketClient::Connect("127.0.0.1", server_->port(), "/api/v1/ws", 5s);
  ASSERT_TRUE(again);
  ASSERT_TRUE((*again)->Send(R"({"subscribe":["views"],"resume":3,"filter":{"country":"DE"}})"));
  EXPECT_EQ(ReadWs(**again), R"({"type":"subscribed","metrics":["views"]})");
  EXPECT_THAT(ReadWs(**again), HasSubstr(R"("seq":4,)"));  // 5 is FR
  views_em_->Emit("DE", 5);
  EXPECT_THAT(ReadWs(**again), HasSubstr(R"("seq":6,)"));
  // Heartbeats arrive on a quiet connection.
  auto beat = (*again)->Read(5s);
  ASSERT_TRUE(beat && beat->has_value());
  EXPECT_THAT(**beat, HasSubstr(R"({"type":"heartbeat","time":")"));
  (*again)->Close();
  EXPECT_TRUE(Eventually([&] { return hub_->subscribers() == 0; }));

  // Metrics, filters and a position in the query, as for SSE; bad ones refuse the upgrade.
  auto q = WebSocketClient::Connect("127.0.0.1", server_->port(), "/api/v1/ws?metrics=views&last_event_id=views%3D5", 5s);
  ASSERT_TRUE(q);
  EXPECT_EQ(ReadWs(**q), R"({"type":"subscribed","metrics":["views"]})");
  EXPECT_THAT(ReadWs(**q), HasSubstr(R"("seq":6,)"));
  Response refusal;
  auto bad = WebSocketClient::Connect("127.0.0.1", server_->port(), "/api/v1/ws?metrics=nope", 5s, {}, &refusal);
  ASSERT_FALSE(bad);
  EXPECT_EQ(refusal.status, 404);
  EXPECT_THAT(refusal.body, HasSubstr("unknown metric 'nope'"));
}

TEST_F(LiveRoutes, SlowSseClientStartsOverFromASnapshotWithoutGapsOrRepeats) {
  // Big rows, a small ring and a low backlog mark: a client that does not read falls behind
  // the ring while the server holds only a bounded backlog for it.
  Start({.ring_rows = 8, .low_water_bytes = 64 << 10});
  auto slow = OpenSse("/api/v1/stream?metrics=views", {{"Last-Event-ID", "views=0"}});
  ASSERT_TRUE(slow);
  std::string big(100000, 'x');
  const int kRows = 300;  // 30 MB of rows: far more than the socket buffers hold
  for (int i = 1; i <= kRows; ++i) views_em_->Emit(big + std::to_string(i % 10), i);

  uint64_t expect_next = 1;
  int snapshots = 0, updates = 0;
  while (expect_next <= static_cast<uint64_t>(kRows)) {
    SseEvent e = Next(*slow);
    ASSERT_FALSE(e.event.empty()) << "stream ended at " << expect_next;
    size_t at = e.data.find("\"seq\":") + 6;
    uint64_t seq = std::stoull(e.data.substr(at));
    if (e.event == "snapshot") {
      EXPECT_THAT(e.data, HasSubstr(R"("reset":true)"));
      EXPECT_GE(seq, expect_next);  // it skips ahead, never back
      ++snapshots;
    } else {
      ASSERT_EQ(seq, expect_next) << "a gap or a repeat";
      ++updates;
    }
    EXPECT_EQ(e.id, fmt::format("views={}", seq));
    expect_next = seq + 1;
  }
  EXPECT_GE(snapshots, 1);
  EXPECT_LT(updates, kRows);
}

}  // namespace
}  // namespace weir::server
