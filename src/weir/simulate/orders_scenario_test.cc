#include "weir/simulate/orders_scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "weir/simulate/testing_json.h"

namespace weir::simulate {
namespace {

using ::testing::ElementsAre;
using testing::JsonValue;

constexpr int kEvents = 60000;

std::vector<JsonValue> Generate(const Options& o, int n) {
  auto s = MakeScenario("orders", o);
  EXPECT_TRUE(s) << s.error().message;
  std::vector<JsonValue> events;
  if (!s) return events;
  std::string line;
  for (int i = 0; i < n; ++i) {
    line.clear();
    (*s)->Next(line);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    JsonValue e;
    std::string err;
    EXPECT_TRUE(testing::ParseJson(line, e, err)) << err << " in " << line;
    events.push_back(std::move(e));
  }
  return events;
}

int64_t Cents(const JsonValue& v) { return std::llround(v.number * 100); }

class OrdersEvents : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { events_ = new std::vector<JsonValue>(Generate(Options{}, kEvents)); }
  static void TearDownTestSuite() { delete events_; }
  static const std::vector<JsonValue>& events() { return *events_; }
  static std::vector<JsonValue>* events_;
};
std::vector<JsonValue>* OrdersEvents::events_ = nullptr;

TEST_F(OrdersEvents, EveryEventIsADebeziumEnvelope) {
  ASSERT_EQ(events().size(), size_t{kEvents});
  for (const JsonValue& e : events()) {
    ASSERT_THAT(e.Keys(), ElementsAre("payload"));
    const JsonValue& p = *e.Get("payload");
    ASSERT_THAT(p.Keys(), ElementsAre("before", "after", "source", "op", "ts_ms"));
    const std::string& op = p.Get("op")->text;
    ASSERT_TRUE(op == "c" || op == "u" || op == "d") << op;
    ASSERT_EQ(p.Get("before")->is_object(), op != "c");
    ASSERT_EQ(p.Get("after")->is_object(), op != "d");
    const JsonValue& src = *p.Get("source");
    ASSERT_EQ(src.Get("connector")->text, "postgresql");
    ASSERT_EQ(src.Get("ts_ms")->text, p.Get("ts_ms")->text);
    const std::string& table = src.Get("table")->text;
    const JsonValue& row = *p.Get(op == "d" ? "before" : "after");
    if (table == "orders") {
      ASSERT_THAT(row.Keys(), ElementsAre("order_id", "customer_id", "status", "total_amount", "created_at"));
      ASSERT_TRUE(ParseIso8601(row.Get("created_at")->text));
      ASSERT_GT(row.Get("total_amount")->number, 0);
    } else {
      ASSERT_EQ(table, "order_items");
      ASSERT_NE(op, "u");
      ASSERT_THAT(row.Keys(), ElementsAre("id", "order_id", "product_id", "quantity", "unit_price"));
      ASSERT_GE(row.Get("quantity")->number, 1);
      ASSERT_LE(row.Get("quantity")->number, 4);
      ASSERT_EQ(row.Get("unit_price")->text.substr(row.Get("unit_price")->text.size() - 3), ".99");
    }
  }
}

// Replaying the changes against a table never meets an inconsistency: inserts are of new keys,
// updates and deletes carry the current row as `before`, statuses move forward, an order's
// total is the sum of its items, and items are deleted before their order.
TEST_F(OrdersEvents, ChangesReplayConsistently) {
  struct OrderRow {
    std::string status;
    int64_t total = 0, items_total = 0;
    int items = 0;
    std::string created_at;
  };
  std::map<int64_t, OrderRow> orders;
  std::map<int64_t, std::pair<int64_t, int64_t>> items;  // item id -> (order, cents)
  const std::map<std::string, std::set<std::string>> moves = {
      {"pending", {"paid", "cancelled"}}, {"paid", {"shipped", "cancelled"}}, {"shipped", {"delivered"}}};
  std::map<std::string, int> ops;
  int created = 0;
  for (const JsonValue& e : events()) {
    const JsonValue& p = *e.Get("payload");
    const std::string& op = p.Get("op")->text;
    const std::string& table = p.Get("source")->Get("table")->text;
    ops[table + ":" + op]++;
    if (table == "orders") {
      if (op == "c") {
        const JsonValue& a = *p.Get("after");
        auto id = static_cast<int64_t>(a.Get("order_id")->number);
        ASSERT_FALSE(orders.count(id));
        ASSERT_EQ(a.Get("status")->text, "pending");
        orders[id] = {"pending", Cents(*a.Get("total_amount")), 0, 0, a.Get("created_at")->text};
        ++created;
        continue;
      }
      const JsonValue& b = *p.Get("before");
      auto id = static_cast<int64_t>(b.Get("order_id")->number);
      ASSERT_TRUE(orders.count(id));
      OrderRow& o = orders[id];
      ASSERT_EQ(b.Get("status")->text, o.status);
      ASSERT_EQ(b.Get("created_at")->text, o.created_at);
      ASSERT_GE(p.Get("ts_ms")->number, static_cast<double>(*ParseIso8601(o.created_at)));  // changed after created
      ASSERT_EQ(o.items_total, o.total) << "order " << id << " changed before all its items were inserted";
      if (op == "u") {
        const JsonValue& a = *p.Get("after");
        ASSERT_TRUE(moves.at(o.status).count(a.Get("status")->text)) << o.status << " -> " << a.Get("status")->text;
        ASSERT_EQ(Cents(*a.Get("total_amount")), o.total);
        o.status = a.Get("status")->text;
      } else {
        ASSERT_EQ(o.status, "cancelled");
        ASSERT_EQ(o.items, 0) << "order deleted before its items";
        orders.erase(id);
      }
    } else {
      const JsonValue& row = *p.Get(op == "c" ? "after" : "before");
      auto id = static_cast<int64_t>(row.Get("id")->number);
      auto order = static_cast<int64_t>(row.Get("order_id")->number);
      ASSERT_TRUE(orders.count(order));
      int64_t cents = Cents(*row.Get("unit_price")) * static_cast<int64_t>(row.Get("quantity")->number);
      if (op == "c") {
        ASSERT_FALSE(items.count(id));
        items[id] = {order, cents};
        orders[order].items++;
        orders[order].items_total += cents;
      } else {
        ASSERT_TRUE(items.count(id));
        ASSERT_EQ(orders[order].status, "cancelled");
        items.erase(id);
        orders[order].items--;
      }
    }
  }
  // Every kind of change happens, in realistic proportions.
  EXPECT_GT(created, kEvents / 6);
  EXPECT_GT(ops["orders:u"], created);  // most orders move through several statuses
  EXPECT_GT(ops["orders:d"], 0);
  EXPECT_GT(ops["order_items:d"], ops["orders:d"]);
  std::map<std::string, int> status;
  for (const auto& [id, o] : orders) status[o.status]++;
  EXPECT_EQ(status.size(), 5u);
  EXPECT_GT(status["delivered"], status["cancelled"]);
}

TEST_F(OrdersEvents, PopularCustomersAndProductsRepeat) {
  std::map<std::string, int> customers, products;
  for (const JsonValue& e : events()) {
    const JsonValue& p = *e.Get("payload");
    if (p.Get("op")->text != "c") continue;
    const JsonValue& a = *p.Get("after");
    if (const JsonValue* c = a.Get("customer_id")) customers[c->text]++;
    if (const JsonValue* pr = a.Get("product_id")) products[pr->text]++;
  }
  int top_customer = 0, top_product = 0;
  for (const auto& [k, n] : customers) top_customer = std::max(top_customer, n);
  for (const auto& [k, n] : products) top_product = std::max(top_product, n);
  EXPECT_GT(customers.size(), 500u);
  EXPECT_LE(customers.size(), 2000u);
  EXPECT_LE(products.size(), 500u);
  EXPECT_GT(top_customer, 20);
  EXPECT_GT(top_product, 200);
}

TEST(OrdersScenario, ParamsAreChecked) {
  Options o;
  o.params["cancel_rate"] = "2";
  EXPECT_FALSE(MakeScenario("orders", o));
  o.params = {{"customers", "10"}, {"products", "3"}, {"cancel_rate", "0"}};
  auto events = Generate(o, 5000);
  for (const JsonValue& e : events) {
    const JsonValue& p = *e.Get("payload");
    ASSERT_NE(p.Get("op")->text, "d");  // nothing is cancelled, so nothing is purged
    const JsonValue* a = p.Get("after");
    if (const JsonValue* c = a->Get("customer_id")) {
      ASSERT_LE(c->number, 10);
    }
    if (const JsonValue* pr = a->Get("product_id")) {
      ASSERT_LE(pr->number, 3);
    }
    if (const JsonValue* s = a->Get("status")) {
      ASSERT_NE(s->text, "cancelled");
    }
  }
}

}  // namespace
}  // namespace weir::simulate
