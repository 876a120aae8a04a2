// The example pipelines under examples/: every one validates, and the seed examples run end to
// end (bounded, simulated input) with results checked against a brute-force computation over
// the same events.
#include <gtest/gtest.h>

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

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
  std::string events =
      RunWeir({WEIR_BINARY, "simulate", "--scenario", "campaigns", "--count", std::to_string(kEvents), "--seed", "7"},
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

/// A group key or value as text, whether the store wrote it as a string or a number.
std::string KeyText(simdjson::dom::element v) {
  if (v.is_string()) return std::string(v.get_string().value());
  if (v.is_int64()) return std::to_string(v.get_int64().value());
  return simdjson::to_string(v);
}

int64_t Cents(simdjson::dom::element v) { return std::llround(v.get_double().value() * 100); }

TEST(Examples, OrdersCdcMatchesABruteForceReplay) {
  fs::path dir = TempDir("orders_cdc");
  const int kEvents = 40000;
  // 40 s of changes from 20 s before midnight: orders of two days.
  const char* kStart = "2026-02-16T23:59:40Z";
  auto env = weir::testing::BoundedExampleEnv(kEvents, dir);
  env["SIM_START_TIME"] = kStart;
  env["REPORT_DIR"] = (dir / "reports").string();
  RunWeir({WEIR_BINARY, "run", (Examples() / "orders_cdc.yaml").string(), "--data-dir", (dir / "data").string()}, env,
          dir / "run.log");
  std::string events = RunWeir({WEIR_BINARY, "simulate", "--scenario", "orders", "--count", std::to_string(kEvents),
                                "--seed", "7", "--start", kStart},
                               {}, dir / "events.ndjson");

  // Reference: apply every change to the two tables, then aggregate what is left.
  struct Order {
    std::string customer, status, day;
    int64_t cents = 0;
  };
  struct Item {
    std::string product;
    int64_t quantity = 0, cents = 0;
  };
  std::map<int64_t, Order> orders;
  std::map<int64_t, Item> items;
  simdjson::dom::parser parser;
  int updates = 0, deletes = 0;
  for (const auto& line : Lines(events)) {
    simdjson::dom::element p = parser.parse(line)["payload"];
    std::string_view op = p["op"].get_string().value();
    bool is_orders = p["source"]["table"].get_string().value() == "orders";
    if (op == "u") ++updates;
    if (op == "d") ++deletes;
    simdjson::dom::element row = op == "d" ? p["before"] : p["after"];
    if (is_orders) {
      int64_t id = row["order_id"].get_int64().value();
      if (op == "d") {
        ASSERT_EQ(orders.erase(id), 1u) << line;
        continue;
      }
      Order& o = orders[id];
      o.customer = KeyText(row["customer_id"]);
      o.status = std::string(row["status"].get_string().value());
      o.day = std::string(row["created_at"].get_string().value().substr(0, 10));
      o.cents = Cents(row["total_amount"]);
    } else {
      int64_t id = row["id"].get_int64().value();
      if (op == "d") {
        ASSERT_EQ(items.erase(id), 1u) << line;
        continue;
      }
      Item& it = items[id];
      it.product = KeyText(row["product_id"]);
      it.quantity = row["quantity"].get_int64().value();
      it.cents = it.quantity * Cents(row["unit_price"]);
    }
  }
  ASSERT_GT(updates, kEvents / 4);
  ASSERT_GT(deletes, 100);
  std::map<std::string, int64_t> statuses;
  std::map<std::string, std::pair<int64_t, int64_t>> days, customers, products;  // (count or units, cents)
  for (const auto& [id, o] : orders) {
    ++statuses[o.status];
    if (o.status == "cancelled") continue;
    ++days[o.day].first, days[o.day].second += o.cents;
    ++customers[o.customer].first, customers[o.customer].second += o.cents;
  }
  for (const auto& [id, it] : items) products[it.product].first += it.quantity, products[it.product].second += it.cents;
  ASSERT_EQ(statuses.size(), 5u);
  ASSERT_EQ(days.size(), 2u);

  auto query = [&](const char* metric) {
    return Lines(RunWeir({WEIR_BINARY, "query", "--data-dir", (dir / "data").string(), metric}, {},
                         dir / fmt::format("{}.ndjson", metric)));
  };
  // Order status distribution: every status with its exact count, moved by the updates.
  std::map<std::string, int64_t> got_statuses;
  for (const auto& line : query("order_status_distribution")) {
    simdjson::dom::element r = parser.parse(line);
    got_statuses[std::string(r["status"].get_string().value())] = r["orders"].get_int64().value();
  }
  EXPECT_EQ(got_statuses, statuses);
  // Daily sales per order day.
  std::map<std::string, std::pair<int64_t, int64_t>> got_days;
  for (const auto& line : query("daily_sales")) {
    simdjson::dom::element r = parser.parse(line);
    got_days[std::string(r["day"].get_string().value())] = {r["order_count"].get_int64().value(),
                                                            Cents(r["total_amount"])};
  }
  EXPECT_EQ(got_days, days);
  // Top 100: each row's own numbers, and the 100 largest totals (ties may rank in any order).
  auto check_top = [&](const char* metric, const char* key, const char* count, const char* total,
                       const std::map<std::string, std::pair<int64_t, int64_t>>& ref) {
    std::vector<int64_t> want, got;
    for (const auto& [k, v] : ref) want.push_back(v.second);
    std::sort(want.rbegin(), want.rend());
    want.resize(std::min<size_t>(want.size(), 100));
    for (const auto& line : query(metric)) {
      simdjson::dom::element r = parser.parse(line);
      auto it = ref.find(KeyText(r[key]));
      ASSERT_NE(it, ref.end()) << line;
      EXPECT_EQ(r[count].get_int64().value(), it->second.first) << line;
      EXPECT_EQ(Cents(r[total]), it->second.second) << line;
      got.push_back(Cents(r[total]));
    }
    std::sort(got.rbegin(), got.rend());
    EXPECT_EQ(got, want) << metric;
  };
  ASSERT_GT(customers.size(), 100u);
  ASSERT_GT(products.size(), 100u);
  check_top("top_customers", "customer_id", "order_count", "total_spent", customers);
  check_top("top_products", "product_id", "quantity_sold", "total_revenue", products);
  // The report files stand in for the S3 objects.
  EXPECT_FALSE(Lines(weir::testing::ReadFile((dir / "reports" / "daily_sales.ndjson").string())).empty());
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
  std::string hours = RunWeir({WEIR_BINARY, "query", "--data-dir", (dir / "data").string(), "unique_users_per_hour"},
                              {}, dir / "hours.ndjson");
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
