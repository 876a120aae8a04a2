#include "weir/store/result_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>

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

// A filter on the first group key seeks to the matching rows of each window: it must return
// exactly the rows a full scan keeps, whatever the keys' types.
TEST_F(StoreTest, FirstKeyFilterReadsWhatAFullScanKeeps) {
  auto store = ResultStore::Open(dir);
  ASSERT_TRUE(store) << store.error().message;
  MetricSchema two{"readings", 0, {"device", "zone"}, {"n"}, true, false};
  (*store)->RegisterMetric(two);
  const std::vector<Value> firsts = {Value::String("a"), Value::String("b"), Value::String("7"), Value::Int(7),
                                     Value::Double(7.5), Value::Int(-3), Value::Int(0), Value::Bool(true),
                                     Value::Null(), Value::String(""), Value::String("null"), Value::Time(60000)};
  const std::vector<Value> zones = {Value::String("n"), Value::String("s"), Value::Int(1)};
  std::mt19937 rng(11);
  ResultBatch b;
  b.schema = &two;
  b.cells.reserve(4000 * 3);
  for (int w = 0; w < 40; ++w) {
    for (size_t f = 0; f < firsts.size(); ++f) {
      for (size_t z = 0; z < zones.size(); ++z) {
        if (rng() % 3 == 0) continue;  // gaps: some windows lack some keys
        b.cells.push_back(firsts[f]);
        b.cells.push_back(zones[z]);
        b.cells.push_back(Value::Int(w));
        ResultRow r;
        r.window_start = w * 60000;
        r.window_end = r.window_start + 60000;
        r.keys = &b.cells[b.cells.size() - 3];
        r.values = &b.cells[b.cells.size() - 1];
        b.rows.push_back(r);
      }
    }
  }
  ASSERT_TRUE((*store)->Write(b));
  auto all = (*store)->Query({.metric = "readings"});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->rows.size(), b.rows.size());
  for (std::string text : {"a", "b", "7", "7.0", "7.5", "-3", "0", "true", "null", "", "1970-01-01T00:01:00.000Z", "zz", "8"}) {
    for (Timestamp start : {Timestamp{0}, Timestamp{13 * 60000 + 1}}) {
      std::vector<std::string> want;
      for (size_t i = 0; i < all->rows.size(); ++i) {
        const std::string& row = all->rows[i];
        // What Matches keeps, read back from the row's JSON: the first key's text.
        auto at = row.find("\"device\":");
        ASSERT_NE(at, std::string::npos);
        std::string v = row.substr(at + 9, row.find(",\"zone\"") - at - 9);
        const bool quoted = v.size() >= 2 && v.front() == '"';
        if (quoted) v = v.substr(1, v.size() - 2);
        auto number = [](const std::string& x) -> std::optional<double> {
          char* end = nullptr;
          double d = std::strtod(x.c_str(), &end);
          if (x.empty() || *end) return std::nullopt;
          return d;
        };
        auto nv = quoted ? std::nullopt : number(v);
        auto nt = number(text);
        bool keep = nv ? (nt && *nv == *nt) : (v == text || (!quoted && v == "null" && text.empty()));
        if (keep) want.push_back(row);
      }
      if (start != 0) {
        auto from = (*store)->Query({.metric = "readings", .start = start});
        ASSERT_TRUE(from);
        std::set<std::string> later(from->rows.begin(), from->rows.end());
        std::erase_if(want, [&](const std::string& r) { return !later.count(r); });
      }
      auto got = (*store)->Query({.metric = "readings", .start = start, .filters = {{"device", text}}});
      ASSERT_TRUE(got) << got.error().message;
      EXPECT_EQ(got->rows, want) << "device=" << text << " from " << start;
      EXPECT_TRUE(!want.empty() || text == "zz" || text == "8") << text;
    }
  }
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

// /health reads Health(): a failed write or delete makes the store unhealthy, with the reason.
TEST_F(StoreTest, HealthSaysWhyTheLastWriteFailed) {
  auto store = ResultStore::Open(dir);
  ASSERT_TRUE(store);
  ASSERT_TRUE((*store)->Write(Rows({{0, "USD", 3, 1}})));
  EXPECT_EQ((*store)->Health(), "");
  // A read-only handle refuses writes (as a store on a failing disk does).
  auto reader = ResultStore::Open(dir, /*read_only=*/true);
  ASSERT_TRUE(reader) << reader.error().message;
  EXPECT_EQ((*reader)->Health(), "");
  auto st = (*reader)->Write(Rows({{60000, "USD", 1, 1}}));
  ASSERT_FALSE(st);
  EXPECT_EQ((*reader)->Health(), st.error().message);
  EXPECT_NE((*reader)->Health().find("result store: write: "), std::string::npos) << (*reader)->Health();
  EXPECT_FALSE((*reader)->DeleteBefore("revenue", 60000));
  EXPECT_NE((*reader)->Health().find("result store: delete: "), std::string::npos) << (*reader)->Health();
  EXPECT_EQ((*store)->Health(), "");  // per handle
  ASSERT_TRUE((*store)->Flush());
  EXPECT_EQ((*store)->Health(), "");
}

}  // namespace
}  // namespace weir::store
