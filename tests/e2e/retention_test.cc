// Retention and downsampling through the weir binary: old per-minute rows are dropped after
// their hour has been written to the hourly tier, and queries for hours (or two-hour windows)
// read the tier and still return exact numbers; so do plain queries that reach back past the
// per-minute rows, answered from the tier (and saying so).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "support/process.h"
#include "weir/base/time.h"
#include "weir/server/http_client.h"

namespace fs = std::filesystem;

namespace {

constexpr const char* kPipeline = R"(apiVersion: weir/v1
kind: Pipeline
metadata: { name: retention }
spec:
  sources:
    - { type: http, id: ingest }
  metrics:
    - id: per_minute
      event_time: ts
      watermark: 0s
      window: { tumbling: 1m }
      group_by: { k: k }
      select: { n: count(), total: sum(v), avg: avg(v) }
      retention:
        keep: 10m
        downsample:
          - { window: 1h, keep: 30d }
)";

constexpr int64_t kBase = 1767225600000;  // 2026-01-01T00:00:00Z

TEST(Retention, OldRowsMoveToTheHourlyTierAndStayQueryable) {
  fs::path dir = fs::path(::testing::TempDir()) / ("weir_retention_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::ofstream(dir / "pipeline.yaml") << kPipeline;
  auto running = weir::testing::StartWeir(dir, dir / "data");
  ASSERT_NE(running.port, 0) << weir::testing::ReadFile((dir / "weir.log").string());
  auto client = weir::server::HttpClient::Connect("127.0.0.1", running.port);
  ASSERT_TRUE(client);

  // One event a minute for three hours, alternating keys; one at 09:55 and one at 10:00 (which
  // moves the watermark there).
  std::string body;
  for (int i = 0; i < 180; ++i)
    body += fmt::format(R"({{"ts":{},"k":"{}","v":{}}})", kBase + i * 60000 + 1000, i % 2 ? "b" : "a", i) + "\n";
  body += fmt::format(R"({{"ts":{},"k":"a","v":0}})", kBase + 9 * 3600000 + 55 * 60000) + "\n";  // kept raw
  body += fmt::format(R"({{"ts":{},"k":"a","v":0}})", kBase + 10 * 3600000) + "\n";
  auto r = (*client)->Request("POST", "/api/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;

  // The expected hourly rows, from the input.
  auto hourly = [&](int h, const char* k) {
    int64_t n = 0, total = 0;
    for (int i = h * 60; i < h * 60 + 60; ++i)
      if ((i % 2 ? "b" : "a") == std::string(k)) ++n, total += i;
    return fmt::format(R"("k":"{}","n":{},"total":{},)", k, n, total);
  };
  std::string hours, raw, last;
  for (int attempt = 0; attempt < 100; ++attempt) {  // the retention job runs about every second
    // Rows are stored as windows fire, oldest first: once the 09:55 row is there, every earlier
    // one is (before that, a query may see the batch half applied).
    auto lr = (*client)->Request("GET", "/api/v1/metrics/per_minute?start=2026-01-01T09:00:00Z");
    ASSERT_TRUE(lr);
    last = lr->body;
    auto rr = (*client)->Request("GET", "/api/v1/metrics/per_minute?end=2026-01-01T03:00:00Z");
    ASSERT_TRUE(rr);
    raw = rr->body;
    auto h = (*client)->Request("GET", "/api/v1/metrics/per_minute?window=1h&end=2026-01-01T03:00:00Z");
    ASSERT_TRUE(h);
    hours = h->body;
    if (last.find(R"("count":1,)") != std::string::npos && raw.find(R"("tier":)") != std::string::npos &&
        hours.find(R"("count":6,)") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // The per-minute rows of those three hours are gone: a plain query for them is answered from
  // the hourly tier, which says so, with the exact hours.
  EXPECT_NE(raw.find(R"("count":6,"truncated":false,"tier":"per_minute@1h","rows":[)"), std::string::npos)
      << raw.substr(0, 300);
  for (int h = 0; h < 3; ++h)
    for (const char* k : {"a", "b"}) EXPECT_NE(raw.find(hourly(h, k)), std::string::npos) << h << k << raw;
  // The per-minute rows of the last 10 minutes (from 09:50) stay, and answer a range within them.
  auto recent = (*client)->Request("GET", "/api/v1/metrics/per_minute?start=2026-01-01T09:50:00Z");
  ASSERT_TRUE(recent);
  EXPECT_NE(recent->body.find(R"("count":1,"truncated":false,"rows":[)"), std::string::npos) << recent->body;
  EXPECT_NE(
      recent->body.find(
          R"("window_start":"2026-01-01T09:55:00.000Z","window_end":"2026-01-01T09:56:00.000Z","k":"a","n":1,"total":0,"avg":0,"revision":1,"final":true})"),
      std::string::npos)
      << recent->body;
  EXPECT_EQ(recent->header("x-weir-tier"), "");
  // From 09:00, the range reaches back past them: the hour, from the tier.
  auto hour9 = (*client)->Request("GET", "/api/v1/metrics/per_minute?start=2026-01-01T09:00:00Z");
  ASSERT_TRUE(hour9);
  EXPECT_NE(
      hour9->body.find(
          R"("count":1,"truncated":false,"tier":"per_minute@1h","rows":[{"metric":"per_minute","window_start":"2026-01-01T09:00:00.000Z","window_end":"2026-01-01T10:00:00.000Z","k":"a","n":1,"total":0,"avg":0}]})"),
      std::string::npos)
      << hour9->body;
  // A range that starts in the tier and ends in the per-minute rows: hours throughout (09:55
  // is in the tier's 09:00 hour already), as CSV too, with the tier in a header.
  auto both = (*client)->Request("GET", "/api/v1/metrics/per_minute?start=2026-01-01T00:00:00Z&format=csv");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, 200);
  EXPECT_EQ(both->header("x-weir-tier"), "per_minute@1h");
  std::string csv = "window_start,window_end,k,n,total,avg\n";
  for (int h = 0; h < 3; ++h)
    for (const char* k : {"a", "b"}) {
      int64_t n = 0, total = 0;
      for (int i = h * 60; i < h * 60 + 60; ++i)
        if ((i % 2 ? "b" : "a") == std::string(k)) ++n, total += i;
      csv += fmt::format("2026-01-01T0{}:00:00.000Z,2026-01-01T0{}:00:00.000Z,{},{},{},{}\n", h, h + 1, k, n, total,
                         static_cast<double>(total) / static_cast<double>(n));
    }
  csv += "2026-01-01T09:00:00.000Z,2026-01-01T10:00:00.000Z,a,1,0,0\n";
  EXPECT_EQ(both->body, csv);
  EXPECT_NE(hours.find(R"("count":6,)"), std::string::npos) << hours;
  for (int h = 0; h < 3; ++h)
    for (const char* k : {"a", "b"}) EXPECT_NE(hours.find(hourly(h, k)), std::string::npos) << h << k << hours;
  // Two-hour windows merge hourly rows: hours 0-1 together.
  auto two = (*client)->Request("GET", "/api/v1/metrics/per_minute?window=2h&group_by=&end=2026-01-01T02:00:00Z");
  ASSERT_TRUE(two);
  EXPECT_NE(two->body.find(R"("window_end":"2026-01-01T02:00:00.000Z","n":120,"total":7140,"avg":59.5})"),
            std::string::npos)
      << two->body;
  running.proc.Signal(SIGTERM);
  EXPECT_EQ(running.proc.Wait(std::chrono::seconds(20)), 0);
  if (!HasFailure()) fs::remove_all(dir);
}

// Two tiers: hours kept for a day, days for 30. A plain query is answered by the finest tier
// whose rows reach back to its start: days for the first days, hours for the last one.
TEST(Retention, PlainQueriesReadTheFinestTierThatReachesBackFarEnough) {
  fs::path dir = fs::path(::testing::TempDir()) / ("weir_retention_tiers_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string yaml = kPipeline;
  yaml.replace(yaml.find("          - { window: 1h, keep: 30d }"), 37,
               "          - { window: 1h, keep: 1d }\n          - { window: 1d, keep: 30d }");
  std::ofstream(dir / "pipeline.yaml") << yaml;
  auto running = weir::testing::StartWeir(dir, dir / "data");
  ASSERT_NE(running.port, 0) << weir::testing::ReadFile((dir / "weir.log").string());
  auto client = weir::server::HttpClient::Connect("127.0.0.1", running.port);
  ASSERT_TRUE(client);

  // One event an hour for five days (event i at hour i, key a for even i), then one at the
  // start of the sixth day, which moves the watermark there: hourly rows before day 5 go.
  std::string body;
  for (int i = 0; i < 120; ++i)
    body += fmt::format(R"({{"ts":{},"k":"{}","v":{}}})", kBase + i * 3600000 + 1000, i % 2 ? "b" : "a", i) + "\n";
  body += fmt::format(R"({{"ts":{},"k":"a","v":0}})", kBase + 120 * 3600000LL) + "\n";
  auto r = (*client)->Request("POST", "/api/v1/events", body, {{"Content-Type", "application/x-ndjson"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;

  // Expected rows, from the input: hours [from, to) of one key.
  auto row = [&](int from, int to, const char* k) {
    int64_t n = 0, total = 0;
    for (int i = from; i < to; ++i)
      if ((i % 2 ? "b" : "a") == std::string(k)) ++n, total += i;
    return fmt::format(R"("window_start":"{}","window_end":"{}","k":"{}","n":{},"total":{},)",
                       weir::FormatIso8601(kBase + from * 3600000LL), weir::FormatIso8601(kBase + to * 3600000LL), k, n,
                       total);
  };
  const std::string days_query = "/api/v1/metrics/per_minute?start=2026-01-01T00:00:00Z&end=2026-01-03T00:00:00Z";
  const std::string hours_query = "/api/v1/metrics/per_minute?start=2026-01-05T12:00:00Z&end=2026-01-05T14:00:00Z";
  std::string days, hours;
  for (int attempt = 0; attempt < 200; ++attempt) {  // the retention job runs about every second
    auto d = (*client)->Request("GET", days_query);
    auto h = (*client)->Request("GET", hours_query);
    ASSERT_TRUE(d && h);
    days = d->body;
    hours = h->body;
    if (days.find(R"("tier":"per_minute@1d")") != std::string::npos &&
        hours.find(R"("tier":"per_minute@1h")") != std::string::npos)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(days.find(R"("count":4,"truncated":false,"tier":"per_minute@1d","rows":[)"), std::string::npos) << days;
  for (int day = 0; day < 2; ++day)
    for (const char* k : {"a", "b"}) EXPECT_NE(days.find(row(day * 24, day * 24 + 24, k)), std::string::npos) << days;
  EXPECT_NE(hours.find(R"("count":2,"truncated":false,"tier":"per_minute@1h","rows":[)"), std::string::npos) << hours;
  EXPECT_NE(hours.find(row(108, 109, "a")), std::string::npos) << hours;
  EXPECT_NE(hours.find(row(109, 110, "b")), std::string::npos) << hours;
  running.proc.Signal(SIGTERM);
  EXPECT_EQ(running.proc.Wait(std::chrono::seconds(20)), 0);
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
