#include "weir/aggregate/aggregate.h"

#include <gtest/gtest.h>

#include "weir/model/key_codec.h"

#include <cmath>
#include <optional>
#include <random>
#include <vector>

namespace weir::aggregate {
namespace {

// Runs one aggregate over (value, weight, time) records into one state; returns the result.
struct Harness {
  AggregatePtr f;
  std::vector<char> state;
  Arena arena;

  Harness(std::string_view name, int args, AggregateOptions opts = {}) {
    auto r = MakeAggregate(name, args, opts);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    f = std::move(*r);
    state.resize(f->state_size());
    f->Init(state.data());
  }
  ~Harness() {
    if (f->has_destructor()) f->Destroy(state.data());
  }
  void Feed(const std::vector<Value>& x, const std::vector<int8_t>& w, const std::vector<Value>& c = {},
            std::vector<Timestamp> t = {}) {
    std::vector<char*> rows(x.size(), state.data());
    if (t.empty()) t.assign(x.size(), 0);
    const Value* args[2] = {x.data(), c.empty() ? nullptr : c.data()};
    f->Update({rows.data(), args, w.data(), t.data(), x.size()}, 0);
  }
  Value Result() { return f->Finalize(state.data(), arena); }
};

TEST(Aggregate, CountAndCountIf) {
  Harness h("count", 0);
  h.Feed({Value(), Value(), Value()}, {1, 1, -1});
  EXPECT_EQ(h.Result().as_int(), 1);
  Harness hi("count_if", 1);
  hi.Feed({Value::Bool(true), Value::Bool(false), Value(), Value::Bool(true)}, {1, 1, 1, 1});
  EXPECT_EQ(hi.Result().as_int(), 2);
}

TEST(Aggregate, SumKeepsIntegersExactAndRetracts) {
  Harness h("sum", 1);
  h.Feed({Value::Int(5), Value::Int(7), Value(), Value::String("3"), Value::String("abc")}, {1, 1, 1, 1, 1});
  ASSERT_TRUE(h.Result().is_int());
  EXPECT_EQ(h.Result().as_int(), 15);
  h.Feed({Value::Double(0.5)}, {1});
  EXPECT_DOUBLE_EQ(h.Result().as_double(), 15.5);
  h.Feed({Value::Double(0.5), Value::Int(5), Value::Int(7), Value::String("3")}, {-1, -1, -1, -1});
  EXPECT_TRUE(h.Result().is_null());  // every contribution retracted
}

TEST(Aggregate, SumOverflowFallsBackToDouble) {
  Harness h("sum", 1);
  h.Feed({Value::Int(INT64_MAX), Value::Int(10)}, {1, 1});
  EXPECT_TRUE(h.Result().is_double());
  EXPECT_NEAR(h.Result().as_double(), 9.223372036854775817e18, 1e4);
}

TEST(Aggregate, AvgAndSumIf) {
  Harness h("avg", 1);
  h.Feed({Value::Int(1), Value::Int(2), Value::Double(6), Value()}, {1, 1, 1, 1});
  EXPECT_DOUBLE_EQ(h.Result().as_double(), 3.0);
  Harness s("sum_if", 2);
  s.Feed({Value::Int(1), Value::Int(2), Value::Int(4)}, {1, 1, 1}, {Value::Bool(true), Value(), Value::Bool(true)});
  EXPECT_EQ(s.Result().as_int(), 5);
}

TEST(Aggregate, MinMaxWithRetraction) {
  Harness mn("min", 1), mx("max", 1);
  std::vector<Value> x = {Value::Int(5), Value::Double(2.5), Value::Int(9), Value::Int(2)};
  mn.Feed(x, {1, 1, 1, 1});
  mx.Feed(x, {1, 1, 1, 1});
  EXPECT_EQ(mn.Result().as_int(), 2);
  EXPECT_EQ(mx.Result().as_int(), 9);
  mn.Feed({Value::Int(2)}, {-1});
  mx.Feed({Value::Int(9)}, {-1});
  EXPECT_DOUBLE_EQ(mn.Result().as_double(), 2.5);
  EXPECT_EQ(mx.Result().as_int(), 5);
}

TEST(Aggregate, MinMaxInsertOnlyAndStrings) {
  Harness mn("min", 1, {.insert_only = true});
  mn.Feed({Value::String("pear"), Value::String("apple"), Value(), Value::String("zoo")}, {1, 1, 1, 1});
  EXPECT_EQ(mn.Result().as_string(), "apple");
}

// Insert-only min/max compare numbers as doubles when that decides, and as keys otherwise: the
// result is always the extreme in key order (model/key_codec.h), across ints past 2^53 (equal as
// doubles, not as keys), doubles equal to ints, NaN, strings, and states restored from their
// serialized form or merged.
TEST(Aggregate, MinMaxInsertOnlyFollowKeyOrder) {
  auto Key = [](const Value& v) {
    std::string k;
    EncodeKey(v, k);
    return k;
  };
  std::mt19937_64 rng(5);
  const int64_t big = int64_t{1} << 53;
  auto random_value = [&]() -> Value {
    switch (rng() % 7) {
      case 0:
        return Value::Int(big + static_cast<int64_t>(rng() % 5));  // equal as doubles
      case 1:
        return Value::Double(static_cast<double>(big));
      case 2:
        return Value::Double(std::nan(""));
      case 3:
        return Value::String(rng() % 2 ? "a" : "b");
      case 4:
        return Value();
      default:
        return Value::Int(static_cast<int64_t>(rng() % 200) - 100);
    }
  };
  for (bool is_max : {false, true}) {
    for (int trial = 0; trial < 200; ++trial) {
      AggregateOptions opts;
      opts.insert_only = true;
      Harness h(is_max ? "max" : "min", 1, opts);
      std::optional<Value> want;
      for (int part = 0; part < 3; ++part) {
        std::vector<Value> x(1 + rng() % 6);
        for (auto& v : x) v = random_value();
        for (const auto& v : x)
          if (!v.is_null() && (!want || (is_max ? Key(v) > Key(*want) : Key(v) < Key(*want)))) want = v;
        h.Feed(x, std::vector<int8_t>(x.size(), 1));
        if (part == 1) {  // continue from a restored copy, merged into an empty state
          std::string saved;
          h.f->Serialize(h.state.data(), saved);
          Harness restored(is_max ? "max" : "min", 1, opts), merged(is_max ? "max" : "min", 1, opts);
          std::string_view in = saved;
          ASSERT_TRUE(restored.f->Deserialize(restored.state.data(), in));
          merged.f->Merge(merged.state.data(), restored.state.data());
          std::swap(h.state, merged.state);
        }
      }
      Value got = h.Result();
      if (!want) {
        EXPECT_TRUE(got.is_null());
      } else {
        EXPECT_EQ(Key(got), Key(*want)) << trial;  // (an integral double reads back as an int)
      }
    }
  }
}

// CDC decimals arrive as strings: min/max read what sum/avg read as numbers as those numbers
// (and return them), in both state forms, through retraction of the extreme, a merge and a
// restore. Non-numeric strings stay strings, above every number.
TEST(Aggregate, MinMaxCompareNumericStringsAsNumbers) {
  for (bool insert_only : {false, true}) {
    SCOPED_TRACE(insert_only ? "insert-only" : "retractable");
    Harness mx("max", 1, {.insert_only = insert_only}), mn("min", 1, {.insert_only = insert_only}),
        sum("sum", 1, {.insert_only = insert_only});
    const std::vector<Value> x = {Value::String("20.00"), Value::String("5.50"), Value::String("100.00")};
    mx.Feed(x, {1, 1, 1});
    mn.Feed(x, {1, 1, 1});
    sum.Feed(x, {1, 1, 1});
    EXPECT_DOUBLE_EQ(sum.Result().to_double(), 125.5);
    ASSERT_TRUE(mx.Result().is_number());
    EXPECT_DOUBLE_EQ(mx.Result().to_double(), 100);
    ASSERT_TRUE(mn.Result().is_number());
    EXPECT_DOUBLE_EQ(mn.Result().to_double(), 5.5);
    // Numbers and numeric strings compare together.
    mx.Feed({Value::Int(99), Value::String("-3")}, {1, 1});
    mn.Feed({Value::Int(99), Value::String("-3")}, {1, 1});
    EXPECT_DOUBLE_EQ(mx.Result().to_double(), 100);
    EXPECT_DOUBLE_EQ(mn.Result().to_double(), -3);
    if (!insert_only) {
      // Retracting the max (the before image of an update, as the same string) reveals the next.
      mx.Feed({Value::String("100.00")}, {-1});
      EXPECT_DOUBLE_EQ(mx.Result().to_double(), 99);
      mx.Feed({Value::Int(99)}, {-1});
      EXPECT_DOUBLE_EQ(mx.Result().to_double(), 20);
      mn.Feed({Value::String("-3.0")}, {-1});  // the same number, written otherwise
      EXPECT_DOUBLE_EQ(mn.Result().to_double(), 5.5);
    }
    // A restored and merged copy keeps comparing numbers as numbers.
    std::string saved;
    mx.f->Serialize(mx.state.data(), saved);
    Harness restored("max", 1, {.insert_only = insert_only});
    std::string_view in = saved;
    ASSERT_TRUE(restored.f->Deserialize(restored.state.data(), in));
    Harness other("max", 1, {.insert_only = insert_only});
    other.Feed({Value::String("7.25")}, {1});
    restored.f->Merge(restored.state.data(), other.state.data());
    EXPECT_DOUBLE_EQ(restored.Result().to_double(), insert_only ? 100 : 20);
    restored.Feed({Value::String("1000")}, {1});
    EXPECT_DOUBLE_EQ(restored.Result().to_double(), 1000);
    // A string that is not a number is above every number (key order).
    restored.Feed({Value::String("n/a")}, {1});
    EXPECT_EQ(restored.Result().as_string(), "n/a");
  }
}

TEST(Aggregate, FirstLastByEventTime) {
  Harness f("first", 1), l("last", 1);
  std::vector<Value> x = {Value::String("b"), Value::String("a"), Value::String("c")};
  f.Feed(x, {1, 1, 1}, {}, {20, 10, 30});
  l.Feed(x, {1, 1, 1}, {}, {20, 10, 30});
  EXPECT_EQ(f.Result().as_string(), "a");
  EXPECT_EQ(l.Result().as_string(), "c");
  EXPECT_FALSE(f.f->retractable());
}

TEST(Aggregate, CountDistinctRetracts) {
  Harness h("count_distinct", 1);
  h.Feed({Value::String("u1"), Value::String("u2"), Value::String("u1"), Value::Int(1), Value::Double(1.0)},
         {1, 1, 1, 1, 1});
  EXPECT_EQ(h.Result().as_int(), 3);  // u1, u2, 1 (1.0 is the same number)
  h.Feed({Value::String("u1")}, {-1});
  EXPECT_EQ(h.Result().as_int(), 3);
  h.Feed({Value::String("u1")}, {-1});
  EXPECT_EQ(h.Result().as_int(), 2);
}

// Short strings, integers (and doubles equal to one) and long strings are kept apart inside;
// they must count, merge, serialize and retract as one set.
TEST(Aggregate, CountDistinctOverEveryKindOfKey) {
  const std::string long_a(40, 'a'), long_b(40, 'b');
  Harness a("count_distinct", 1), b("count_distinct", 1);
  a.Feed({Value::String("u1"), Value::Int(7), Value::String(long_a), Value::Int(-3)}, {1, 1, 1, 1});
  b.Feed({Value::Double(7.0), Value::String(long_b), Value::String("u1"), Value::Double(0.5)}, {1, 1, 1, 1});
  a.f->Merge(a.state.data(), b.state.data());
  EXPECT_EQ(a.Result().as_int(), 6);  // u1, 7, long_a, -3, long_b, 0.5
  std::string bytes;
  a.f->Serialize(a.state.data(), bytes);
  Harness c("count_distinct", 1);
  std::string_view in = bytes;
  ASSERT_TRUE(c.f->Deserialize(c.state.data(), in));
  EXPECT_EQ(c.Result().as_int(), 6);
  // Each value was added twice at most; retracting every addition empties the set.
  c.Feed({Value::String("u1"), Value::String("u1"), Value::Int(7), Value::Int(7), Value::String(long_a), Value::Int(-3),
          Value::String(long_b), Value::Double(0.5)},
         {-1, -1, -1, -1, -1, -1, -1, -1});
  EXPECT_EQ(c.Result().as_int(), 0);
}

TEST(Aggregate, MergeAndSerializeRoundTrip) {
  struct Case {
    std::string_view name;
    int args;
    std::vector<Value> constants;
  };
  const std::vector<Case> cases = {
      {"count", 0, {}},
      {"sum", 1, {}},
      {"avg", 1, {}},
      {"min", 1, {}},
      {"max", 1, {}},
      {"count_distinct", 1, {}},
      {"first", 1, {}},
      {"approx_distinct", 1, {}},
      {"median", 1, {}},
      {"percentile", 2, {Value(), Value::Double(0.9)}},
      {"top_k", 2, {Value(), Value::Int(2)}},
  };
  for (const auto& [name, args, constants] : cases) {
    AggregateOptions opts{.constants = constants};
    Harness a(name, args, opts), b(name, args, opts);
    a.Feed({Value::Int(3), Value::Int(8)}, {1, 1}, {}, {1, 2});
    b.Feed({Value::Int(1), Value::Int(8)}, {1, 1}, {}, {0, 3});
    a.f->Merge(a.state.data(), b.state.data());
    std::string bytes;
    a.f->Serialize(a.state.data(), bytes);
    Harness c(name, args, opts);
    std::string_view in = bytes;
    ASSERT_TRUE(c.f->Deserialize(c.state.data(), in)) << name;
    EXPECT_TRUE(in.empty()) << name;
    std::string ra, rc;
    AppendJson(ra, a.Result());
    AppendJson(rc, c.Result());
    EXPECT_EQ(ra, rc) << name;
    // The merged input is 3, 8, 1, 8.
    if (name == "approx_distinct") {
      EXPECT_EQ(rc, "3");
    } else if (name == "top_k") {
      EXPECT_EQ(rc, R"([{"value":8,"count":2},{"value":1,"count":1}])");
    } else if (name == "median") {
      EXPECT_NEAR(c.Result().as_double(), 3, 3 * 0.01);
    } else if (name == "percentile") {
      EXPECT_NEAR(c.Result().as_double(), 8, 8 * 0.01);
    }
  }
}

TEST(Aggregate, Errors) {
  EXPECT_FALSE(MakeAggregate("mode", 1, {}));
  auto r = MakeAggregate("sum", 2, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "sum() takes 1 argument, got 2");
  std::string_view in = "abc";
  Harness h("sum", 1);
  EXPECT_FALSE(h.f->Deserialize(h.state.data(), in));
}

}  // namespace
}  // namespace weir::aggregate
