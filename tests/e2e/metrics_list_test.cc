// GET /api/v1/metrics lists every metric of the running pipeline, in file order, with its group
// keys and select columns, its window and where to query it.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <filesystem>
#include <fstream>

#include "support/process.h"
#include "weir/server/http_client.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kPipeline = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: metrics-list }
spec:
  sources:
    - { type: http, id: ingest }
  metrics:
    - id: revenue_per_minute
      event_time: timestamp
      window: { tumbling: 1m }
      group_by: { currency: properties.currency, country: properties.country }
      select:
        count: count()
        total: sum(properties.amount)
        average: total / count
    - id: top_products
      event_time: timestamp
      window: { sliding: 5m, every: 1m }
      group_by: [ properties.product_id ]
      select: { views: count() }
      order_by: views desc
      limit: 3
    - id: all_time
      select: { events: count() }
)";

// What the list must say about each metric, from kPipeline.
struct Expected {
  std::string id;
  std::vector<std::string> group_by;
  std::vector<std::string> select;
  bool windowed;
  int64_t window_ms;
  bool top_n;
};
const std::vector<Expected> kExpected = {
    {"revenue_per_minute", {"currency", "country"}, {"count", "total", "average"}, true, 60'000, false},
    {"top_products", {"product_id"}, {"views"}, true, 5 * 60'000, true},
    {"all_time", {}, {"events"}, false, 0, false},
};

std::vector<std::string> Strings(simdjson::dom::element e) {
  std::vector<std::string> out;
  simdjson::dom::array a;
  if (e.get_array().get(a)) return {"<not an array>"};
  for (auto item : a) {
    std::string_view s;
    out.emplace_back(item.get_string().get(s) ? "<not a string>" : s);
  }
  return out;
}

TEST(MetricsList, NamesEveryMetricWithItsKeysAndColumns) {
  fs::path dir = fs::path(::testing::TempDir()) / ("weir_metrics_list_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "pipeline.yaml") << kPipeline;
  auto proc =
      weir::testing::Process::Spawn({WEIR_BINARY, "run", (dir / "pipeline.yaml").string(), "--listen", "127.0.0.1:0",
                                     "--port-file", (dir / "port").string(), "--data-dir", (dir / "data").string()},
                                    {}, (dir / "stderr.log").string());
  ASSERT_TRUE(proc.started());
  for (int i = 0; i < 500 && !fs::exists(dir / "port"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(fs::exists(dir / "port")) << weir::testing::ReadFile((dir / "stderr.log").string());
  auto port = static_cast<uint16_t>(std::stoi(weir::testing::ReadFile((dir / "port").string())));
  auto client = weir::server::HttpClient::Connect("127.0.0.1", port);
  ASSERT_TRUE(client) << client.error().message;

  auto r = (*client)->Request("GET", "/api/v1/metrics");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->status, 200);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  ASSERT_FALSE(parser.parse(r->body).get(doc)) << r->body;
  simdjson::dom::array metrics;
  ASSERT_FALSE(doc["metrics"].get_array().get(metrics)) << r->body;
  ASSERT_EQ(metrics.size(), kExpected.size()) << r->body;
  size_t i = 0;
  for (auto m : metrics) {
    const Expected& want = kExpected[i++];
    std::string_view id, href;
    bool windowed = false, top_n = false;
    int64_t window_ms = -1;
    ASSERT_FALSE(m["id"].get_string().get(id)) << r->body;
    EXPECT_EQ(id, want.id);
    EXPECT_EQ(Strings(m["group_by"]), want.group_by) << want.id;
    EXPECT_EQ(Strings(m["select"]), want.select) << want.id;
    EXPECT_FALSE(m["windowed"].get_bool().get(windowed));
    EXPECT_EQ(windowed, want.windowed) << want.id;
    EXPECT_FALSE(m["window_ms"].get_int64().get(window_ms));
    EXPECT_EQ(window_ms, want.window_ms) << want.id;
    EXPECT_FALSE(m["top_n"].get_bool().get(top_n));
    EXPECT_EQ(top_n, want.top_n) << want.id;
    EXPECT_FALSE(m["href"].get_string().get(href));
    EXPECT_EQ(href, "/api/v1/metrics/" + want.id);
    // The link works: the metric answers (no rows yet).
    auto q = (*client)->Request("GET", std::string(href));
    ASSERT_TRUE(q) << q.error().message;
    EXPECT_EQ(q->status, 200) << q->body;
  }

  client->reset();
  proc.Signal(SIGTERM);
  EXPECT_EQ(proc.Wait(std::chrono::seconds(20)), 0) << weir::testing::ReadFile((dir / "stderr.log").string());
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
