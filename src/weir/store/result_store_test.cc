#include "weir/store/result_store.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace weir::store {
namespace {

struct StoreTest : ::testing::Test {
  std::string dir = ::testing::TempDir() + "/weir_store_" + std::to_string(::getpid()) + "_" +
                    ::testing::UnitTest::GetInstance()->current_test_info()->name();
  MetricSchema schema{"revenue", 0, {"currency"}, {"count"}, true, false};
  void TearDown() override { std::filesystem::remove_all(dir); }

  ResultBatch Rows(std::vector<std::tuple<Timestamp, std::string, int64_t, uint64_t>> rows) {
    ResultBatch b;
    b.schema = &schema;
    b.cells.reserve(rows.size() * 2);
    for (auto& [start, cur, count, rev] : rows) {
      b.cells.push_back(Value::String(b.arena.Copy(cur)));
      b.cells.push_back(Value::Int(count));
      ResultRow r;
      r.window_start = start;
      r.window_end = start + 60000;
      r.revision = rev;
      r.keys = &b.cells[b.cells.size() - 2];
      r.values = &b.cells[b.cells.size() - 1];
      b.rows.push_back(r);
    }
    return b;
  }
};

TEST_F(StoreTest, UpsertsAndQueriesByRangeAndKey) {
  auto store = ResultStore::Open(dir);
  ASSERT_TRUE(store) << store.error().message;
  (*store)->RegisterMetric(schema);
  ASSERT_TRUE((*store)->Write(Rows({{0, "USD", 3, 1}, {0, "EUR", 2, 1}, {60000, "USD", 5, 1}})));
  ASSERT_TRUE((*store)->Write(Rows({{0, "USD", 4, 2}})));  // a later revision replaces the row

  auto all = (*store)->Query({.metric = "revenue"});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->rows.size(), 3u);
  EXPECT_NE(all->rows[0].find("\"currency\":\"EUR\""), std::string::npos);
  EXPECT_NE(all->rows[1].find("\"count\":4,\"revision\":2"), std::string::npos);

  auto usd = (*store)->Query({.metric = "revenue", .filters = {{"currency", "USD"}}});
  ASSERT_TRUE(usd);
  EXPECT_EQ(usd->rows.size(), 2u);

  auto range = (*store)->Query({.metric = "revenue", .start = 60000, .end = 120000});
  ASSERT_TRUE(range);
  ASSERT_EQ(range->rows.size(), 1u);
  EXPECT_NE(range->rows[0].find("\"count\":5"), std::string::npos);

  auto limited = (*store)->Query({.metric = "revenue", .limit = 1, .newest_first = true});
  ASSERT_TRUE(limited);
  ASSERT_EQ(limited->rows.size(), 1u);
  EXPECT_TRUE(limited->truncated);
  EXPECT_NE(limited->rows[0].find("\"count\":5"), std::string::npos);

  auto bad = (*store)->Query({.metric = "revenue", .filters = {{"country", "US"}}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("group keys: currency"), std::string::npos);
  EXPECT_TRUE((*store)->Query({.metric = "other"})->rows.empty());
}

TEST_F(StoreTest, ReplacesWindowsAndSurvivesReopen) {
  {
    auto store = ResultStore::Open(dir);
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->Write(Rows({{0, "USD", 3, 1}, {0, "EUR", 2, 1}})));
    ResultBatch b = Rows({{0, "GBP", 9, 2}});
    b.replaces.push_back(0);
    ASSERT_TRUE((*store)->Write(b));
    LateBatch late{&schema, {{10, 0, 70000, R"({"x":1})"}}};
    ASSERT_TRUE((*store)->WriteLate(late));
  }
  auto store = ResultStore::Open(dir);
  ASSERT_TRUE(store);
  auto rows = (*store)->Query({.metric = "revenue"});
  ASSERT_EQ(rows->rows.size(), 1u);
  EXPECT_NE(rows->rows[0].find("GBP"), std::string::npos);
  auto late = (*store)->QueryLate("revenue", kMinTimestamp, kMaxTimestamp, 10);
  ASSERT_TRUE(late);
  ASSERT_EQ(late->rows.size(), 1u);
  EXPECT_NE(late->rows[0].find(R"("event":{"x":1})"), std::string::npos);
}

}  // namespace
}  // namespace weir::store
