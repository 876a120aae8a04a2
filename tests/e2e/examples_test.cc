// The example pipelines under examples/: every one validates, and the seed examples run end to
// end (bounded, simulated input) with results checked against a brute-force computation over
// the same events.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include <fmt/format.h>

#include "e2e/examples_support.h"
#include "support/process.h"
#include "weir/base/time.h"

namespace fs = std::filesystem;
using weir::testing::Examples;
using weir::testing::Lines;
using weir::testing::Process;
using weir::testing::RunWeir;

namespace {

fs::path TempDir(const char* name) { return weir::testing::ExampleTempDir(name); }

TEST(Examples, AllValidate) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(Examples())) {
    if (e.path().extension() != ".yaml") continue;
    auto p = Process::Spawn({WEIR_BINARY, "validate", e.path().string()}, {}, "/dev/null", "/dev/null");
    EXPECT_EQ(p.Wait(std::chrono::seconds(30)), 0) << e.path();
    ++n;
  }
  EXPECT_GE(n, 3);
}

/// Runs an example bounded: simulated events only, as fast as possible, deterministic.
void RunBounded(const char* example, int events, const fs::path& dir) {
  RunWeir({WEIR_BINARY, "run", (Examples() / example).string(), "--data-dir", (dir / "data").string()},
          weir::testing::BoundedExampleEnv(events, dir), dir / "run.log");
}

TEST(Examples, CampaignsMatchABruteForceCount) {
  fs::path dir = TempDir("campaigns");
  const int kEvents = 30000;
  RunBounded("campaigns.yaml", kEvents, dir);
  std::string events = RunWeir({WEIR_BINARY, "simulate", "--scenario", "campaigns", "--count", std::to_string(kEvents),
                            "--seed", "7"},
                           {}, dir / "events.ndjson");
  // Reference: per (campaign, minute).
  struct Counts {
    int64_t impressions = 0, clicks = 0, conversions = 0;
    double spent = 0;
  };
  std::map<std::pair<std::string, weir::Timestamp>, Counts> ref;
  simdjson::dom::parser parser;
  for (const auto& line : Lines(events)) {
    simdjson::dom::element e = parser.parse(line);
    std::string type(e["eventType"].get_string().value());
    std::string campaign(e["campaignId"].get_string().value());
    auto t = weir::ParseIso8601(e["timestamp"].get_string().value());
    ASSERT_TRUE(t);
    Counts& c = ref[{campaign, weir::AlignDown(*t, 60000)}];
    double value = e["value"].is_number() ? e["value"].get_double().value() : 0;
    if (type == "impression") ++c.impressions, c.spent += value;
    if (type == "click") ++c.clicks, c.spent += value;
    if (type == "conversion") ++c.conversions;
  }
  std::string rows = RunWeir({WEIR_BINARY, "query", "--data-dir", (dir / "data").string(), "campaign_metrics"}, {},
                         dir / "rows.ndjson");
  size_t checked = 0;
  for (const auto& line : Lines(rows)) {
    simdjson::dom::element r = parser.parse(line);
    auto ws = weir::ParseIso8601(r["window_start"].get_string().value());
    std::string campaign(r["campaignId"].get_string().value());
    auto it = ref.find({campaign, *ws});
    ASSERT_NE(it, ref.end()) << line;
    EXPECT_EQ(r["impressions"].get_int64().value(), it->second.impressions) << line;
    EXPECT_EQ(r["clicks"].get_int64().value(), it->second.clicks) << line;
    EXPECT_EQ(r["conversions"].get_int64().value(), it->second.conversions) << line;
    // sum_if over no matching event is NULL, as in SQL.
    double spent = r["totalSpent"].is_null() ? 0 : r["totalSpent"].get_double().value();
    EXPECT_NEAR(spent, it->second.spent, 1e-4) << line;
    ++checked;
  }
  // Every (campaign, minute) with an event has its row.
  EXPECT_EQ(checked, ref.size());
  if (!HasFailure()) fs::remove_all(dir);
}

TEST(Examples, EcommerceMatchesABruteForceCount) {
  fs::path dir = TempDir("ecommerce");
  const int kEvents = 40000;
  RunBounded("ecommerce.yaml", kEvents, dir);
  std::map<std::pair<std::string, weir::Timestamp>, std::pair<int64_t, double>> revenue;
  std::map<weir::Timestamp, std::set<std::string>> users;
  for (const auto& e : weir::testing::SimulateShop(kEvents, 42, dir)) {
    users[weir::AlignDown(e.time, 3600000)].insert(e.user);
    if (e.type != "purchase_completed") continue;
    auto& r = revenue[{e.currency, weir::AlignDown(e.time, 60000)}];
    ++r.first;
    r.second += e.amount;
  }
  simdjson::dom::parser parser;
  std::string rows = RunWeir({WEIR_BINARY, "query", "--data-dir", (dir / "data").string(), "revenue_per_minute"}, {},
                         dir / "rows.ndjson");
  size_t checked = 0;
  for (const auto& line : Lines(rows)) {
    simdjson::dom::element r = parser.parse(line);
    auto ws = weir::ParseIso8601(r["window_start"].get_string().value());
    auto it = revenue.find({std::string(r["currency"].get_string().value()), *ws});
    ASSERT_NE(it, revenue.end()) << line;
    EXPECT_EQ(r["count"].get_int64().value(), it->second.first) << line;
    EXPECT_NEAR(r["total_revenue"].get_double().value(), it->second.second, 0.006) << line;
    ++checked;
  }
  EXPECT_EQ(checked, revenue.size());
  std::string hours = RunWeir({WEIR_BINARY, "query", "--data-dir", (dir / "data").string(), "unique_users_per_hour"}, {},
                          dir / "hours.ndjson");
  for (const auto& line : Lines(hours)) {
    simdjson::dom::element r = parser.parse(line);
    auto ws = weir::ParseIso8601(r["window_start"].get_string().value());
    ASSERT_TRUE(users.count(*ws)) << line;
    EXPECT_EQ(r["users"].get_int64().value(), static_cast<int64_t>(users[*ws].size())) << line;
    double approx = static_cast<double>(r["users_approx"].get_int64().value());
    EXPECT_NEAR(approx, static_cast<double>(users[*ws].size()), 0.03 * static_cast<double>(users[*ws].size()));
  }
  EXPECT_EQ(Lines(hours).size(), users.size());
  if (!HasFailure()) fs::remove_all(dir);
}

}  // namespace
