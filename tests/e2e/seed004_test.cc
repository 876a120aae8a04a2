// Seed 004's query API and WebSocket examples, sent as written to examples/ecommerce.yaml running
// on simulated events, with every number checked against a brute-force computation over the
// same events; and the sketches of re-aggregated queries (percentile, approx_distinct), merged
// from per-minute rows, checked against exact values within their documented error.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "e2e/examples_support.h"
#include "support/live.h"
#include "support/process.h"
#include "weir/base/time.h"
#include "weir/server/http_client.h"
#include "weir/server/websocket_client.h"

namespace fs = std::filesystem;
using weir::Timestamp;
using weir::server::HttpClient;
using weir::server::WebSocketClient;
using weir::testing::ShopEvent;
using namespace std::chrono_literals;

namespace {

// 4000 s of event time from 2026-02-16T10:30:00Z: two hours, 67 minutes.
constexpr int kEvents = 40000, kSeed = 42, kEventsPerSecond = 10;
constexpr Timestamp kMinute = 60000, kHour = 3600000;

// Seed 004, "API Endpoints", as written.
constexpr const char* kSeedQuery =
    "/api/v1/metrics?metric=revenue&group_by=country&start_time=2026-02-16T00:00:00Z&end_time=2026-02-16T23:59:59Z&"
    "window=1h";
constexpr const char* kSeedSubscribe = R"({
  "subscribe": ["revenue_per_minute", "active_users"]
})";

// The example's USD conversion (the simulator's fixed rates).
double Usd(const ShopEvent& e) {
  if (e.currency == "EUR") return e.amount / 0.92;
  if (e.currency == "GBP") return e.amount / 0.79;
  if (e.currency == "JPY") return e.amount / 150;
  return e.amount;
}

Timestamp TimeOf(simdjson::dom::element row, const char* field) {
  auto t = weir::ParseIso8601(row[field].get_string().value());
  EXPECT_TRUE(t) << simdjson::minify(row);
  return t ? *t : 0;
}

/// examples/ecommerce.yaml running on kEvents simulated events, its HTTP endpoint open, every
/// window of the simulated events emitted.
class Seed004 : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = weir::testing::ExampleTempDir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto env = weir::testing::BoundedExampleEnv(kEvents, dir_);
    env["HTTP_INGEST"] = "true";  // keeps weir running, and lets the test move the watermark
    env["SIM_EVENT_RATE"] = std::to_string(kEventsPerSecond);
    proc_ =
        weir::testing::Process::Spawn({WEIR_BINARY, "run", (weir::testing::Examples() / "ecommerce.yaml").string(),
                                       "--data-dir", (dir_ / "data").string(), "--port-file", (dir_ / "port").string()},
                                      env, (dir_ / "weir.log").string());
    events_ = weir::testing::SimulateShop(kEvents, kSeed, dir_, kEventsPerSecond);
    for (int i = 0; i < 1000 && !fs::exists(dir_ / "port"); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(fs::exists(dir_ / "port")) << Log();
    port_ = static_cast<uint16_t>(std::stoi(weir::testing::ReadFile((dir_ / "port").string())));
    auto c = HttpClient::Connect("127.0.0.1", port_);
    ASSERT_TRUE(c) << c.error().message;
    client_ = std::move(*c);
    // Once the simulator is done, an event an hour and a half later moves the watermark past
    // every simulated window (it stays in windows of its own, never emitted).
    std::string health;
    for (int i = 0; i < 1000 && health.find(fmt::format(R"("totalEvents":{},)", kEvents)) == std::string::npos; ++i) {
      std::this_thread::sleep_for(10ms);
      health = Get("/health");
    }
    ASSERT_NE(health.find(fmt::format(R"("totalEvents":{},)", kEvents)), std::string::npos) << health;
    Post(R"({"event_type":"flush","timestamp":"2026-02-16T13:00:00Z","user_id":"flush"})");
    // Each metric writes its rows in turn: wait for the last window of each one read here.
    const std::string minute = weir::FormatIso8601(weir::AlignDown(Last(), kMinute));
    const std::string hour = weir::FormatIso8601(weir::AlignDown(Last(), kHour));
    for (const auto& [target, want] : std::vector<std::pair<std::string, std::string>>{
             {"/api/v1/metrics/revenue?start=" + minute, R"("window_start":")" + minute},
             {"/api/v1/metrics/active_users?start=" + minute, R"("window_start":")" + minute},
             {"/api/v1/metrics/revenue_per_minute?start=" + minute, R"("window_start":")" + minute},
             {"/api/v1/metrics/page_views_per_minute?start=" + minute, R"("window_start":")" + minute},
             {"/api/v1/metrics/unique_users_per_hour?start=" + hour, R"("final":true)"}}) {
      std::string body;
      for (int i = 0; i < 500 && body.find(want) == std::string::npos; ++i) {
        if (i) std::this_thread::sleep_for(10ms);
        body = Get(target);
      }
      ASSERT_NE(body.find(want), std::string::npos) << target << ": " << body << Log();
    }
  }
  void TearDown() override {
    client_.reset();
    proc_.Signal(SIGTERM);
    EXPECT_EQ(proc_.Wait(20s), 0) << Log();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  std::string Log() { return weir::testing::ReadFile((dir_ / "weir.log").string()); }
  std::string Get(std::string_view target, int want_status = 200) {
    auto r = client_->Request("GET", target);
    EXPECT_TRUE(r) << r.error().message;
    if (!r) return {};
    EXPECT_EQ(r->status, want_status) << target << ": " << r->body;
    return r->body;
  }
  void Post(std::string_view event) {
    auto r = client_->Request("POST", "/api/v1/events", event, {{"Content-Type", "application/json"}});
    ASSERT_TRUE(r) << r.error().message;
    ASSERT_EQ(r->status, 202) << r->body;
  }
  Timestamp Last() const {
    Timestamp t = weir::kMinTimestamp;
    for (const auto& e : events_) t = std::max(t, e.time);
    return t;
  }
  /// The rows of a query answer, each checked to be an object.
  std::vector<simdjson::dom::element> Rows(const std::string& body) {
    std::vector<simdjson::dom::element> out;
    simdjson::dom::element doc;
    simdjson::dom::array rows;
    auto err = parser_.parse(body).get(doc);
    if (!err) err = doc["rows"].get(rows);
    EXPECT_FALSE(err) << body;
    if (!err)
      for (simdjson::dom::element row : rows) out.push_back(row);
    return out;
  }
  std::string ReadWs(WebSocketClient& ws) { return weir::testing::ReadSkippingHeartbeats(ws); }

  fs::path dir_;
  weir::testing::Process proc_;
  uint16_t port_ = 0;
  std::unique_ptr<HttpClient> client_;
  std::vector<ShopEvent> events_;
  simdjson::dom::parser parser_;
};

TEST_F(Seed004, QueryAndWebSocketExamplesWorkAsWritten) {
  // The seed's query: revenue per (country, hour) from per-minute rows.
  struct Revenue {
    int64_t count = 0;
    double total = 0;
  };
  std::map<std::pair<std::string, Timestamp>, Revenue> hourly;
  std::map<std::pair<std::string, Timestamp>, Revenue> per_minute;  // (currency, minute)
  std::map<Timestamp, std::set<std::string>> users;                 // minute -> users
  for (const auto& e : events_) {
    ASSERT_GE(e.time, *weir::ParseIso8601("2026-02-16T00:00:00Z"));  // the seed's bounds hold them all
    ASSERT_LT(e.time, *weir::ParseIso8601("2026-02-16T23:59:59Z"));
    users[weir::AlignDown(e.time, kMinute)].insert(e.user);
    if (e.type != "purchase_completed") continue;
    Revenue& h = hourly[{e.country, weir::AlignDown(e.time, kHour)}];
    ++h.count;
    h.total += Usd(e);
    Revenue& m = per_minute[{e.currency, weir::AlignDown(e.time, kMinute)}];
    ++m.count;
    m.total += e.amount;
  }
  ASSERT_GE(hourly.size(), 30u);  // about 20 countries in each of two hours
  std::string body = Get(kSeedQuery);
  size_t checked = 0;
  for (simdjson::dom::element row : Rows(body)) {
    Timestamp start = TimeOf(row, "window_start");
    EXPECT_EQ(TimeOf(row, "window_end"), start + kHour);
    auto it = hourly.find({std::string(row["country"].get_string().value()), start});
    ASSERT_NE(it, hourly.end()) << simdjson::minify(row);
    EXPECT_EQ(row["count"].get_int64().value(), it->second.count) << simdjson::minify(row);
    EXPECT_NEAR(row["total_revenue_usd"].get_double().value(), it->second.total, 0.0051) << simdjson::minify(row);
    EXPECT_NEAR(row["avg_order_value_usd"].get_double().value(), it->second.total / it->second.count, 0.0051)
        << simdjson::minify(row);
    ++checked;
  }
  EXPECT_EQ(checked, hourly.size()) << body.substr(0, 500);

  // The seed's WebSocket message, on the seed's path: both metrics followed, each starting from
  // a snapshot of its latest window.
  auto ws = WebSocketClient::Connect("127.0.0.1", port_, "/api/v1/stream/metrics");
  ASSERT_TRUE(ws) << ws.error().message;
  ASSERT_TRUE((*ws)->Send(kSeedSubscribe));
  EXPECT_EQ(ReadWs(**ws), R"({"type":"subscribed","metrics":["revenue_per_minute","active_users"]})");
  const Timestamp last_minute = weir::AlignDown(Last(), kMinute);
  for (const char* metric : {"revenue_per_minute", "active_users"}) {
    std::string m = ReadWs(**ws);
    simdjson::dom::element snap;
    ASSERT_FALSE(parser_.parse(m).get(snap)) << m;
    EXPECT_EQ(snap["type"].get_string().value(), "snapshot") << m;
    EXPECT_EQ(snap["metric"].get_string().value(), metric) << m;
    EXPECT_FALSE(snap["reset"].get_bool().value()) << m;
    size_t n = 0;
    simdjson::dom::array rows = snap["rows"].get_array().value();
    for (simdjson::dom::element row : rows) {
      EXPECT_EQ(TimeOf(row, "window_start"), last_minute) << m;
      if (std::string_view(metric) == "active_users") {
        EXPECT_EQ(row["users"].get_int64().value(), static_cast<int64_t>(users[last_minute].size())) << m;
      } else {
        auto it = per_minute.find({std::string(row["currency"].get_string().value()), last_minute});
        ASSERT_NE(it, per_minute.end()) << m;
        EXPECT_EQ(row["count"].get_int64().value(), it->second.count) << m;
        EXPECT_NEAR(row["total_revenue"].get_double().value(), it->second.total, 0.0051) << m;
      }
      ++n;
    }
    size_t want = 0;
    if (std::string_view(metric) == "active_users") {
      want = 1;
    } else {
      for (const auto& [key, r] : per_minute) want += key.second == last_minute;
    }
    EXPECT_EQ(n, want) << m;
  }

  // Live: a purchase at 13:00:30 and an event at 13:02 that closes its minute. One update per
  // metric, with the rows those events make (the flush user of 13:00:00 is active too).
  Post(R"({"event_type":"purchase_completed","timestamp":"2026-02-16T13:00:30Z","user_id":"u1",)"
       R"("properties":{"amount":12.5,"currency":"EUR","country":"DE"}})");
  Post(R"({"event_type":"flush","timestamp":"2026-02-16T13:02:00Z","user_id":"flush"})");
  std::map<std::string, std::string> updates;
  for (int i = 0; i < 2; ++i) {
    std::string m = ReadWs(**ws);
    simdjson::dom::element u;
    ASSERT_FALSE(parser_.parse(m).get(u)) << m;
    EXPECT_EQ(u["type"].get_string().value(), "update") << m;
    EXPECT_GT(u["seq"].get_uint64().value(), 0u) << m;
    updates[std::string(u["metric"].get_string().value())] = simdjson::minify(u["row"]);
  }
  EXPECT_NE(updates["revenue_per_minute"].find(
                R"("window_start":"2026-02-16T13:00:00.000Z","window_end":"2026-02-16T13:01:00.000Z","currency":"EUR",)"
                R"("count":1,"total_revenue":12.5,"avg_order_value":12.5,)"),
            std::string::npos)
      << updates["revenue_per_minute"];
  EXPECT_NE(updates["active_users"].find(
                R"("window_start":"2026-02-16T13:00:00.000Z","window_end":"2026-02-16T13:01:00.000Z","users":2,)"),
            std::string::npos)
      << updates["active_users"];
}

// Percentiles (DDSketch) and distinct counts (HyperLogLog) re-aggregated through the query API:
// merged from per-minute rows into hours, and over a subset of the group keys.
TEST_F(Seed004, MergedSketchesAreWithinTheirDocumentedError) {
  // p95 of order values (in the event currency) per hour: per currency, and over all of them.
  std::map<std::pair<std::string, Timestamp>, std::vector<double>> amounts;  // "" = every currency
  // Distinct page viewers per hour: per (country, platform), per country, and per platform.
  std::map<std::pair<std::string, Timestamp>, std::set<std::string>> viewers;
  for (const auto& e : events_) {
    Timestamp hour = weir::AlignDown(e.time, kHour);
    if (e.type == "purchase_completed") {
      amounts[{e.currency, hour}].push_back(e.amount);
      amounts[{"", hour}].push_back(e.amount);
    }
    if (e.type == "page_view") {
      viewers[{"country=" + e.country, hour}].insert(e.user);
      viewers[{"platform=" + e.platform, hour}].insert(e.user);
    }
  }
  // percentile(x, 0.95) is within 1% of the value of rank floor(0.95 (n - 1)).
  auto check_p95 = [&](const std::string& target, const char* key) {
    std::string body = Get(target);
    size_t n = 0;
    for (simdjson::dom::element row : Rows(body)) {
      Timestamp start = TimeOf(row, "window_start");
      EXPECT_EQ(TimeOf(row, "window_end"), start + kHour);
      std::string k = key ? std::string(row[key].get_string().value()) : "";
      auto it = amounts.find({k, start});
      ASSERT_NE(it, amounts.end()) << simdjson::minify(row);
      std::vector<double> v = it->second;
      std::sort(v.begin(), v.end());
      double exact = v[static_cast<size_t>(std::floor(0.95 * static_cast<double>(v.size() - 1)))];
      EXPECT_NEAR(row["p95_order_value"].get_double().value(), exact, 0.01 * exact)
          << target << " " << simdjson::minify(row);
      EXPECT_EQ(row["count"].get_int64().value(), static_cast<int64_t>(v.size()));
      ++n;
    }
    size_t want = 0;
    for (const auto& [kk, v] : amounts) want += (kk.first.empty() == (key == nullptr));
    EXPECT_EQ(n, want) << target << " " << body.substr(0, 300);
  };
  check_p95("/api/v1/metrics/revenue_per_minute?window=1h", "currency");
  check_p95("/api/v1/metrics/revenue_per_minute?window=1h&group_by=", nullptr);

  // approx_distinct is within 2.4% for 99.7% of inputs (HyperLogLog, p = 14); past 3072 users
  // the merged sketches are dense.
  size_t dense = 0;
  for (const char* key : {"country", "platform"}) {
    std::string target = fmt::format("/api/v1/metrics/page_views_per_minute?window=1h&group_by={}", key);
    std::string body = Get(target);
    size_t n = 0;
    for (simdjson::dom::element row : Rows(body)) {
      Timestamp start = TimeOf(row, "window_start");
      EXPECT_EQ(TimeOf(row, "window_end"), start + kHour);
      auto it = viewers.find({fmt::format("{}={}", key, std::string(row[key].get_string().value())), start});
      ASSERT_NE(it, viewers.end()) << simdjson::minify(row);
      double exact = static_cast<double>(it->second.size());
      EXPECT_NEAR(static_cast<double>(row["visitors"].get_int64().value()), exact, std::max(1.0, 0.024 * exact))
          << target << " " << simdjson::minify(row);
      dense += exact > 3072;
      ++n;
    }
    size_t want = 0;
    for (const auto& [kk, v] : viewers) want += kk.first.starts_with(std::string(key) + "=");
    EXPECT_EQ(n, want) << target;
  }
  EXPECT_GE(dense, 2u);  // some hours had enough viewers for dense sketches
}

}  // namespace
