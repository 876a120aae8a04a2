// End to end through the weir binary: events posted over HTTP in every form, results read back
// through the query API with exact numbers; bad input answered with the right status and a
// message that names the problem.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/process.h"
#include "weir/server/http_client.h"

namespace fs = std::filesystem;
using weir::server::HttpClient;
using weir::server::Response;

namespace {

constexpr const char* kPipeline = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: e2e }
spec:
  sources:
    - { type: http, id: ingest }
  metrics:
    - id: revenue_per_minute
      where: event_type = 'purchase_completed'
      event_time: timestamp
      watermark: 2s
      window: { tumbling: 1m }
      group_by: { currency: properties.currency }
      select:
        count: count()
        total_revenue: sum(properties.amount)
        avg_order_value: avg(properties.amount)
    - id: views_per_minute
      where: event_type = 'page_view'
      event_time: timestamp
      watermark: 2s
      window: { tumbling: 1m }
      group_by: { country: properties.country }
      select: { views: count() }
  sinks:
    - { type: file, id: archive, from: events, config: { path: events-out.ndjson } }
)";

std::string Purchase(std::string_view ts, std::string_view cur, std::string_view amount) {
  return fmt::format(R"({{"event_type":"purchase_completed","timestamp":"{}","properties":{{"currency":"{}","amount":{}}}}})",
                     ts, cur, amount);
}
std::string View(std::string_view ts, std::string_view country) {
  return fmt::format(R"({{"event_type":"page_view","timestamp":"{}","properties":{{"country":"{}"}}}})", ts, country);
}

class HttpIngest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("weir_e2e_" + std::to_string(getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "pipeline.yaml") << kPipeline;
    proc_ = weir::testing::Process::Spawn({WEIR_BINARY, "run", (dir_ / "pipeline.yaml").string(), "--listen",
                                           "127.0.0.1:0", "--port-file", (dir_ / "port").string(), "--data-dir",
                                           (dir_ / "data").string()},
                                          {}, (dir_ / "stderr.log").string());
    ASSERT_TRUE(proc_.started());
    for (int i = 0; i < 500 && !fs::exists(dir_ / "port"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_TRUE(fs::exists(dir_ / "port")) << weir::testing::ReadFile((dir_ / "stderr.log").string());
    port_ = static_cast<uint16_t>(std::stoi(weir::testing::ReadFile((dir_ / "port").string())));
    auto c = HttpClient::Connect("127.0.0.1", port_);
    ASSERT_TRUE(c) << c.error().message;
    client_ = std::move(*c);
  }
  void TearDown() override {
    client_.reset();
    proc_.Signal(SIGTERM);
    EXPECT_EQ(proc_.Wait(std::chrono::seconds(20)), 0) << weir::testing::ReadFile((dir_ / "stderr.log").string());
    if (!HasFailure()) fs::remove_all(dir_);
  }

  Response Post(std::string_view body, std::string content_type = "application/json") {
    auto r = client_->Request("POST", "/api/v1/events", body, {{"Content-Type", content_type}});
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : Response{};
  }
  Response Get(std::string_view target) {
    auto r = client_->Request("GET", target);
    EXPECT_TRUE(r) << r.error().message;
    return r ? *r : Response{};
  }
  /// Polls a query until it returns `rows` rows (or 10 s pass).
  Response WaitForRows(std::string_view target, int rows) {
    std::string want = fmt::format("\"count\":{},", rows);
    Response r;
    for (int i = 0; i < 200; ++i) {
      r = Get(target);
      if (r.status == 200 && r.body.find(want) != std::string::npos) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return r;
  }

  fs::path dir_;
  weir::testing::Process proc_;
  uint16_t port_ = 0;
  std::unique_ptr<HttpClient> client_;
};

TEST_F(HttpIngest, AllThreeFormsAreCountedExactly) {
  // One event.
  Response r = Post(Purchase("2026-02-16T10:30:05Z", "USD", "10.50"));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"accepted":1,"rejected":0})");
  // A batch.
  r = Post(fmt::format(R"({{"events":[{},{},{}]}})", Purchase("2026-02-16T10:30:10Z", "USD", "20"),
                       Purchase("2026-02-16T10:30:20Z", "EUR", "7.25"), View("2026-02-16T10:30:21Z", "DE")));
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"accepted":3,"rejected":0})");
  // NDJSON, out of order within the 2 s bound, plus one broken line.
  r = Post(fmt::format("{}\n{}\n{{oops\n{}\n", View("2026-02-16T10:30:59Z", "DE"), View("2026-02-16T10:30:58Z", "FR"),
                       Purchase("2026-02-16T10:30:57.500Z", "USD", "1.5")),
           "application/x-ndjson");
  EXPECT_EQ(r.status, 202);
  EXPECT_NE(r.body.find(R"("accepted":3,"rejected":1,"errors":[{"index":2,"reason":"malformed JSON)"), std::string::npos)
      << r.body;
  // Move the watermark past 10:31:00 (10:31:03 - 2 s).
  r = Post(View("2026-02-16T10:31:03Z", "US"));
  EXPECT_EQ(r.status, 202);

  Response q = WaitForRows("/api/v1/metrics/revenue_per_minute", 2);
  ASSERT_EQ(q.status, 200);
  EXPECT_EQ(q.body,
            R"({"metric":"revenue_per_minute","count":2,"truncated":false,"rows":[)"
            R"({"metric":"revenue_per_minute","window_start":"2026-02-16T10:30:00.000Z","window_end":"2026-02-16T10:31:00.000Z","currency":"EUR","count":1,"total_revenue":7.25,"avg_order_value":7.25,"revision":1,"final":true},)"
            R"({"metric":"revenue_per_minute","window_start":"2026-02-16T10:30:00.000Z","window_end":"2026-02-16T10:31:00.000Z","currency":"USD","count":3,"total_revenue":32,"avg_order_value":10.666666666666666,"revision":1,"final":true}]})");

  // Re-aggregated: to an hour (the same numbers here), to all currencies together, in the
  // query shape of seed 004, and as CSV.
  q = Get("/api/v1/metrics/revenue_per_minute?window=1h&order_by=total_revenue%20desc");
  EXPECT_EQ(q.body,
            R"({"metric":"revenue_per_minute","count":2,"truncated":false,"rows":[)"
            R"({"metric":"revenue_per_minute","window_start":"2026-02-16T10:00:00.000Z","window_end":"2026-02-16T11:00:00.000Z","currency":"USD","count":3,"total_revenue":32,"avg_order_value":10.666666666666666},)"
            R"({"metric":"revenue_per_minute","window_start":"2026-02-16T10:00:00.000Z","window_end":"2026-02-16T11:00:00.000Z","currency":"EUR","count":1,"total_revenue":7.25,"avg_order_value":7.25}]})");
  q = Get("/api/v1/metrics/revenue_per_minute?window=1h&group_by=");
  EXPECT_NE(q.body.find(R"("window_end":"2026-02-16T11:00:00.000Z","count":4,"total_revenue":39.25,"avg_order_value":9.8125})"),
            std::string::npos)
      << q.body;
  q = Get("/api/v1/metrics?metric=revenue_per_minute&group_by=currency&start_time=2026-02-16T00:00:00Z&end_time=2026-02-16T23:59:59Z&window=1h");
  EXPECT_NE(q.body.find(R"("count":2,)"), std::string::npos) << q.body;
  q = Get("/api/v1/metrics/revenue_per_minute?format=csv&currency=EUR");
  EXPECT_EQ(q.body,
            "window_start,window_end,currency,count,total_revenue,avg_order_value,revision,final\n"
            "2026-02-16T10:30:00.000Z,2026-02-16T10:31:00.000Z,EUR,1,7.25,7.25,1,true\n");
  // Every group key merged away: CSV has no key column.
  q = Get("/api/v1/metrics/revenue_per_minute?window=1h&group_by=&format=csv");
  EXPECT_EQ(q.body,
            "window_start,window_end,count,total_revenue,avg_order_value\n"
            "2026-02-16T10:00:00.000Z,2026-02-16T11:00:00.000Z,4,39.25,9.8125\n");
  q = Get("/api/v1/metrics/revenue_per_minute?window=90s");
  EXPECT_EQ(q.status, 400);
  EXPECT_NE(q.body.find("parameter 'window': "), std::string::npos) << q.body;
  EXPECT_NE(q.body.find("must be a multiple of 1m"), std::string::npos) << q.body;
  q = Get("/api/v1/metrics/revenue_per_minute?group_by=country");
  EXPECT_EQ(q.status, 400);
  EXPECT_NE(q.body.find("parameter 'group_by': 'country' is not a group key"), std::string::npos) << q.body;
  q = Get("/api/v1/metrics/revenue_per_minute?order_by=nosuchfield");
  EXPECT_EQ(q.status, 400);
  EXPECT_NE(q.body.find("parameter 'order_by': unknown column 'nosuchfield'; columns: window_start, window_end, "
                        "currency, count, total_revenue, avg_order_value, revision, final"),
            std::string::npos)
      << q.body;
  q = Get("/api/v1/metrics/revenue_per_minute?window=1h&group_by=&order_by=currency%20desc");  // merged away
  EXPECT_EQ(q.status, 400);
  EXPECT_NE(q.body.find("parameter 'order_by': unknown column 'currency'; columns: window_start, window_end, count, "
                        "total_revenue, avg_order_value\""),
            std::string::npos)
      << q.body;

  q = WaitForRows("/api/v1/metrics/views_per_minute?country=DE", 1);
  ASSERT_EQ(q.status, 200);
  EXPECT_NE(q.body.find(R"("country":"DE","views":2,)"), std::string::npos) << q.body;
  q = Get("/api/v1/metrics/views_per_minute?start=2026-02-16T10:31:00Z");
  EXPECT_NE(q.body.find(R"("count":0,)"), std::string::npos) << q.body;  // 10:31 has not closed

  Response status;
  for (int i = 0; i < 100; ++i) {  // the status snapshot follows processing closely
    status = Get("/api/v1/status");
    if (status.body.find(R"("accepted":8,"rejected":1)") != std::string::npos &&
        status.body.find(R"("written":8,)") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(status.body.find(R"("accepted":8,"rejected":1)"), std::string::npos) << status.body;
  // The events sink wrote (and counted) each accepted event once.
  EXPECT_NE(status.body.find(R"("id":"archive","type":"file","written":8,)"), std::string::npos) << status.body;
  EXPECT_NE(status.body.find(R"("watermark":"2026-02-16T10:31:01.000Z")"), std::string::npos) << status.body;
  Response health = Get("/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_NE(health.body.find(R"("status":"healthy")"), std::string::npos);
  EXPECT_NE(health.body.find(R"("source:ingest":{"status":"healthy"})"), std::string::npos) << health.body;
  EXPECT_NE(health.body.find(R"("totalEvents":8)"), std::string::npos) << health.body;

  Response metrics = Get("/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(R"(weir_source_events_total{source="ingest",type="http"} 8)"), std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find(R"(weir_source_rejected_total{source="ingest",type="http"} 1)"), std::string::npos);
  EXPECT_NE(metrics.body.find(R"(weir_result_rows_total{metric="revenue_per_minute"} 2)"), std::string::npos);
  EXPECT_NE(metrics.body.find("weir_processing_latency_seconds_count"), std::string::npos);
  EXPECT_NE(metrics.body.find("# TYPE weir_watermark_lag_seconds gauge"), std::string::npos);
}

TEST_F(HttpIngest, BadInputGetsClearErrors) {
  Response r = Post(R"({"event_type": "x", )");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("malformed JSON"), std::string::npos) << r.body;

  r = Post("", "application/json");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("request body is empty"), std::string::npos) << r.body;

  r = Post(R"({"a":1})", "text/xml");
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(r.body.find("unsupported content type 'text/xml'"), std::string::npos) << r.body;

  r = Post(R"([1, 2])");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find(R"("index":1,"reason":"event is not a JSON object")"), std::string::npos) << r.body;

  std::string huge(17 << 20, ' ');
  huge.front() = '{';
  huge.back() = '}';
  r = Post(huge);
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(r.body.find("limit"), std::string::npos) << r.body;

  r = Get("/api/v1/metrics/revenue_per_minute?start=yesterday");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("parameter 'start'"), std::string::npos) << r.body;
  r = Get("/api/v1/metrics/revenue_per_minute?colour=red");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("unknown parameter 'colour'"), std::string::npos) << r.body;
  r = Get("/api/v1/metrics/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("unknown metric 'nope'"), std::string::npos) << r.body;

  // Nothing accepted before the bad requests is lost, and the server still answers.
  r = Post(Purchase("2026-02-16T10:30:05Z", "USD", "1"));
  EXPECT_EQ(r.status, 202);
}

}  // namespace
