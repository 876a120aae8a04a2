// Tests of approx_distinct (HyperLogLog), percentile/median (DDSketch) and top_k.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "weir/aggregate/aggregate.h"
#include "weir/aggregate/sketches.h"

namespace weir::aggregate {
namespace {

// One aggregate state fed batch by batch.
struct Sketch {
  AggregatePtr f;
  std::vector<char> state;
  Arena arena;

  Sketch(std::string_view name, int args, std::vector<Value> constants = {}) {
    AggregateOptions opts;
    opts.constants = std::move(constants);
    auto r = MakeAggregate(name, args, opts);
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    f = std::move(*r);
    state.resize(f->state_size());
    f->Init(state.data());
  }
  Sketch(const Sketch&) = delete;
  ~Sketch() {
    if (f->has_destructor()) f->Destroy(state.data());
  }
  // Feeds x in batches (the second argument column repeats the constant, as the planner does).
  void Feed(const std::vector<Value>& x, int8_t weight = 1, Value constant = Value()) {
    constexpr size_t kBatch = 1024;
    std::vector<char*> rows(kBatch, state.data());
    std::vector<int8_t> w(kBatch, weight);
    std::vector<Timestamp> t(kBatch, 0);
    std::vector<Value> c(kBatch, constant);
    for (size_t start = 0; start < x.size(); start += kBatch) {
      size_t n = std::min(kBatch, x.size() - start);
      const Value* args[2] = {x.data() + start, c.data()};
      f->Update({rows.data(), args, w.data(), t.data(), n}, 0);
    }
  }
  Value Result() { return f->Finalize(state.data(), arena); }
  std::string Bytes() const {
    std::string out;
    f->Serialize(state.data(), out);
    return out;
  }
  void MergeFrom(const Sketch& o) { f->Merge(state.data(), o.state.data()); }
};

std::vector<Value> Ints(int64_t from, int64_t to) {
  std::vector<Value> v;
  v.reserve(static_cast<size_t>(to - from));
  for (int64_t i = from; i < to; ++i) v.push_back(Value::Int(i));
  return v;
}

// Deterministic uniform doubles in [0, 1) (portable, unlike std:: distributions).
struct Rng {
  uint64_t s;
  uint64_t Next() {
    s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  double Normal() {
    double u = std::max(Uniform(), 1e-300), v = Uniform();
    return std::sqrt(-2 * std::log(u)) * std::cos(2 * M_PI * v);
  }
};

// ---- approx_distinct ---------------------------------------------------------------------------

constexpr double kHllError = 1.04 / 128;  // 1.04 / sqrt(2^14)

TEST(ApproxDistinct, WithinThreeStandardErrors) {
  for (int64_t n : {10, 1000, 100000, 1000000}) {
    Sketch s("approx_distinct", 1);
    // Every value twice: duplicates must not count.
    s.Feed(Ints(0, n));
    s.Feed(Ints(0, n));
    int64_t est = s.Result().as_int();
    EXPECT_LE(std::abs(est - n), 3 * kHllError * static_cast<double>(n)) << n << " estimated as " << est;
    if (n == 10) {
      EXPECT_EQ(est, 10);  // sparse states are exact up to 25-bit hash collisions
    }
  }
  // Strings too, and a size around the sparse-to-dense switch and Ertl's mid range.
  for (int64_t n : {3000, 5000, 20000, 50000}) {
    Sketch s("approx_distinct", 1);
    std::vector<std::string> text;
    for (int64_t i = 0; i < n; ++i) text.push_back("user-" + std::to_string(i * 7919));
    std::vector<Value> v;
    for (const auto& t : text) v.push_back(Value::String(t));
    s.Feed(v);
    int64_t est = s.Result().as_int();
    EXPECT_LE(std::abs(est - n), 3 * kHllError * static_cast<double>(n)) << n << " estimated as " << est;
  }
}

TEST(ApproxDistinct, NumbersByValueNullsAndRetractionsIgnored) {
  Sketch s("approx_distinct", 1);
  EXPECT_EQ(s.Result().as_int(), 0);
  s.Feed({Value::Int(1), Value::Double(1.0), Value::String("1"), Value(), Value::Double(1.5)});
  EXPECT_EQ(s.Result().as_int(), 3);  // 1 (= 1.0), "1", 1.5
  s.Feed({Value::Int(7), Value::Double(1.5)}, -1);
  EXPECT_EQ(s.Result().as_int(), 3);  // retractions do not change a HyperLogLog
  EXPECT_FALSE(s.f->retractable());
  EXPECT_TRUE(s.f->has_destructor());
  EXPECT_EQ(s.f->state_size(), 8u);
}

TEST(ApproxDistinct, SmallStatesAreSparseAndCompact) {
  Sketch small("approx_distinct", 1);
  small.Feed(Ints(0, 10));
  EXPECT_LT(small.Bytes().size(), 80u);  // 16 bytes of framing + about 5 per value
  Sketch big("approx_distinct", 1);
  big.Feed(Ints(0, 100000));
  EXPECT_EQ(big.Bytes().size(), 16u + 16384 * 6 / 8);  // dense registers, 6 bits each
}

TEST(ApproxDistinct, MergeEqualsSketchOfUnion) {
  // (a, b) ranges: sparse + sparse staying sparse, sparse + sparse turning dense, sparse +
  // dense, dense + sparse, dense + dense, and empty on either side.
  struct Case {
    int64_t a0, a1, b0, b1;
  };
  for (Case c : {Case{0, 500, 300, 900}, Case{0, 2000, 1500, 3500}, Case{0, 100, 0, 50000},
                 Case{0, 60000, 59000, 59100}, Case{0, 40000, 20000, 90000}, Case{0, 0, 5, 50}, Case{0, 5000, 0, 0}}) {
    Sketch a("approx_distinct", 1), b("approx_distinct", 1), u("approx_distinct", 1);
    a.Feed(Ints(c.a0, c.a1));
    b.Feed(Ints(c.b0, c.b1));
    u.Feed(Ints(c.a0, c.a1));
    u.Feed(Ints(c.b0, c.b1));
    a.MergeFrom(b);
    EXPECT_EQ(a.Bytes(), u.Bytes()) << c.a1 << " " << c.b1;
    EXPECT_EQ(a.Result().as_int(), u.Result().as_int());
    // And the other way round.
    Sketch a2("approx_distinct", 1), b2("approx_distinct", 1);
    a2.Feed(Ints(c.a0, c.a1));
    b2.Feed(Ints(c.b0, c.b1));
    b2.MergeFrom(a2);
    EXPECT_EQ(b2.Bytes(), u.Bytes()) << c.a1 << " " << c.b1;
  }
}

TEST(ApproxDistinct, SerializeRoundTrip) {
  for (int64_t n : {0, 1, 700, 3072, 3500, 200000}) {
    Sketch a("approx_distinct", 1);
    a.Feed(Ints(1000, 1000 + n));
    std::string bytes = a.Bytes();
    Sketch b("approx_distinct", 1);
    std::string_view in = bytes;
    ASSERT_TRUE(b.f->Deserialize(b.state.data(), in)) << n;
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(b.Bytes(), bytes) << n;
    EXPECT_EQ(b.Result().as_int(), a.Result().as_int()) << n;
    // Reading into a non-empty state merges.
    Sketch c("approx_distinct", 1);
    c.Feed(Ints(0, 1000));
    in = bytes;
    ASSERT_TRUE(c.f->Deserialize(c.state.data(), in));
    Sketch u("approx_distinct", 1);
    u.Feed(Ints(0, 1000 + n));
    EXPECT_EQ(c.Bytes(), u.Bytes()) << n;
  }
}

TEST(ApproxDistinct, RejectsCorruptState) {
  Sketch a("approx_distinct", 1);
  a.Feed(Ints(0, 100));
  std::string bytes = a.Bytes();
  for (size_t cut : {size_t{3}, size_t{12}, bytes.size() - 1}) {
    std::string_view in = std::string_view(bytes).substr(0, cut);
    Sketch b("approx_distinct", 1);
    EXPECT_FALSE(b.f->Deserialize(b.state.data(), in)) << cut;
  }
  std::string bad = bytes;
  bad[1] = 12;  // another precision
  std::string_view in = bad;
  Sketch b("approx_distinct", 1);
  EXPECT_FALSE(b.f->Deserialize(b.state.data(), in));
}

// ---- percentile / median -----------------------------------------------------------------------

constexpr double kAlpha = kPercentileRelativeAccuracy;
const double kQs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};

// The estimate must be within kAlpha of the value of rank floor(q (n - 1)).
void ExpectQuantiles(const std::vector<double>& data, const std::string& what) {
  std::vector<double> sorted = data;
  std::sort(sorted.begin(), sorted.end());
  std::vector<Value> values;
  for (double d : data) values.push_back(Value::Double(d));
  for (double q : kQs) {
    Sketch s("percentile", 2, {Value(), Value::Double(q)});
    s.Feed(values, 1, Value::Double(q));
    double exact = sorted[static_cast<size_t>(std::floor(q * static_cast<double>(sorted.size() - 1)))];
    Value est = s.Result();
    ASSERT_TRUE(est.is_double()) << what;
    EXPECT_LE(std::abs(est.as_double() - exact), kAlpha * std::abs(exact) * (1 + 1e-12))
        << what << " q=" << q << " exact=" << exact << " estimate=" << est.as_double();
  }
}

TEST(Percentile, WithinRelativeAccuracy) {
  Rng rng{42};
  std::vector<double> uniform, lognormal, mixed, ints;
  for (int i = 0; i < 20000; ++i) uniform.push_back(rng.Uniform() * 1000);
  for (int i = 0; i < 20000; ++i) lognormal.push_back(std::exp(3 + 2 * rng.Normal()));
  for (int i = 0; i < 20000; ++i) {
    double u = rng.Uniform();
    double x = std::exp(4 * rng.Normal());
    mixed.push_back(u < 0.4 ? -x : u < 0.5 ? 0.0 : x);
  }
  for (int i = 1; i <= 1000; ++i) ints.push_back(i);
  ExpectQuantiles(uniform, "uniform");
  ExpectQuantiles(lognormal, "lognormal");
  ExpectQuantiles(mixed, "negatives and zeros");
  ExpectQuantiles(ints, "1..1000");
  ExpectQuantiles({-5}, "one negative");
  // Magnitudes near the ends of the double range (each set spans less than 2048 buckets).
  ExpectQuantiles({1e300, 1.7e308, 5e299, -1e305, 0}, "huge");
  ExpectQuantiles({1e-300, 3e-307, 2.3e-308, -1e-301}, "tiny");
}

TEST(Percentile, EveryBucketWithinRelativeAccuracy) {
  // One value at a time (inserted, read, retracted): the bucket's representative must be within
  // 1% of every value the bucket can hold, including binade edges and the mapping's worst point
  // (mantissa 1 + 2/3), across the whole double range.
  Sketch s("median", 1);
  Rng rng{11};
  std::vector<double> xs;
  for (int e = -1022; e <= 1023; e += 7)
    for (double m : {1.0, 1.0 + 2.0 / 3, 1.5, 2.0}) {
      double x = std::ldexp(m, e);
      xs.push_back(x);
      xs.push_back(std::nextafter(x, 0.0));
      xs.push_back(std::nextafter(x, INFINITY));
    }
  for (int i = 0; i < 30000; ++i)
    xs.push_back(std::ldexp(1 + rng.Uniform(), static_cast<int>(rng.Next() % 2040) - 1020));
  for (double x : xs) {
    for (double v : {x, -x}) {
      if (!std::isfinite(v)) continue;
      s.Feed({Value::Double(v)});
      if (std::abs(v) < std::numeric_limits<double>::min()) {  // subnormal: counted as 0
        EXPECT_EQ(s.Result().as_double(), 0.0);
        s.Feed({Value::Double(v)}, -1);
        continue;
      }
      double est = s.Result().as_double();
      s.Feed({Value::Double(v)}, -1);
      ASSERT_LE(std::abs(est - v), kAlpha * std::abs(v) * (1 + 1e-12)) << v;
    }
  }
  EXPECT_TRUE(s.Result().is_null());
}

TEST(Percentile, MedianAndInputCoercion) {
  Sketch m("median", 1);
  EXPECT_EQ(m.f->name(), "median");
  EXPECT_TRUE(m.Result().is_null());
  // Numeric strings count; other strings, bools, nulls, NaN and infinities do not.
  m.Feed({Value::Int(1), Value::String("2.5"), Value::Int(100), Value::String("abc"), Value::Bool(true), Value(),
          Value::Double(NAN), Value::Double(INFINITY)});
  EXPECT_NEAR(m.Result().as_double(), 2.5, 2.5 * kAlpha);
  Sketch zeros("median", 1);
  zeros.Feed({Value::Int(0), Value::Double(-0.0), Value::Int(5)});
  EXPECT_EQ(zeros.Result().as_double(), 0.0);
}

TEST(Percentile, RetractionGivesSketchOfTheRest) {
  Rng rng{7};
  std::vector<Value> keep, drop;
  for (int i = 0; i < 5000; ++i) {
    double x = std::exp(3 * rng.Normal()) * (rng.Uniform() < 0.3 ? -1 : 1);
    (i % 3 == 0 ? drop : keep).push_back(Value::Double(x));
  }
  drop.push_back(Value::Int(0));
  drop.push_back(Value::Double(1e8));  // widens the range; retracting it must not leave a trace
  Sketch all("percentile", 2, {Value(), Value::Double(0.9)}), rest("percentile", 2, {Value(), Value::Double(0.9)});
  all.Feed(keep);
  all.Feed(drop);
  all.Feed(drop, -1);
  rest.Feed(keep);
  EXPECT_EQ(all.Bytes(), rest.Bytes());
  EXPECT_EQ(all.Result().as_double(), rest.Result().as_double());
  all.Feed(keep, -1);
  EXPECT_TRUE(all.Result().is_null());
  // A retraction that overtakes its insert leaves nothing visible until the insert arrives.
  Sketch early("median", 1);
  early.Feed({Value::Int(10)});
  early.Feed({Value::Int(500)}, -1);
  EXPECT_NEAR(early.Result().as_double(), 10, 10 * kAlpha);
  early.Feed({Value::Int(500), Value::Int(7)});
  EXPECT_NEAR(early.Result().as_double(), 7, 7 * kAlpha);
}

TEST(Percentile, MergeEqualsSketchOfUnion) {
  Rng rng{3};
  std::vector<Value> a, b;
  for (int i = 0; i < 4000; ++i) a.push_back(Value::Double(rng.Uniform() * 100 - 20));
  for (int i = 0; i < 3000; ++i) b.push_back(Value::Double(std::exp(4 * rng.Normal())));
  b.push_back(Value::Int(0));
  Sketch sa("median", 1), sb("median", 1), su("median", 1), empty("median", 1);
  sa.Feed(a);
  sb.Feed(b);
  su.Feed(a);
  su.Feed(b);
  sa.MergeFrom(sb);
  sa.MergeFrom(empty);
  EXPECT_EQ(sa.Bytes(), su.Bytes());
  EXPECT_EQ(sa.Result().as_double(), su.Result().as_double());
  empty.MergeFrom(su);
  EXPECT_EQ(empty.Bytes(), su.Bytes());
}

TEST(Percentile, SerializeRoundTrip) {
  Sketch a("percentile", 2, {Value(), Value::Double(0.99)});
  EXPECT_TRUE(a.Result().is_null());
  for (int round = 0; round < 2; ++round) {  // empty, then with values
    std::string bytes = a.Bytes();
    Sketch b("percentile", 2, {Value(), Value::Double(0.99)});
    std::string_view in = bytes;
    ASSERT_TRUE(b.f->Deserialize(b.state.data(), in));
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(b.Bytes(), bytes);
    Value ra = a.Result(), rb = b.Result();
    EXPECT_EQ(ra.is_null(), rb.is_null());
    if (!ra.is_null()) {
      EXPECT_EQ(ra.as_double(), rb.as_double());
    }
    a.Feed({Value::Int(-3), Value::Int(0), Value::Double(2.5), Value::Int(1000000)});
  }
  std::string bytes = a.Bytes();
  std::string_view in = std::string_view(bytes).substr(0, bytes.size() - 1);
  Sketch c("median", 1);
  EXPECT_FALSE(c.f->Deserialize(c.state.data(), in));
}

TEST(Percentile, BucketCountIsBounded) {
  // 1e-150 .. 1e150 spans far more than 2048 buckets: the lowest fold, the top stays accurate.
  std::vector<double> data;
  for (int e = -150; e <= 150; ++e)
    for (int m = 1; m <= 9; ++m) data.push_back(m * std::pow(10.0, e));
  std::vector<Value> values;
  for (double d : data) values.push_back(Value::Double(d));
  std::sort(data.begin(), data.end());
  // At 1% accuracy 2048 buckets span a factor of about 4e17: values above ~1e133 keep their own
  // buckets (the top 6% here), everything below shares the lowest kept bucket.
  for (double q : {0.96, 0.99, 1.0}) {
    Sketch s("percentile", 2, {Value(), Value::Double(q)});
    s.Feed(values);
    double exact = data[static_cast<size_t>(std::floor(q * static_cast<double>(data.size() - 1)))];
    EXPECT_LE(std::abs(s.Result().as_double() - exact), kAlpha * exact * (1 + 1e-12)) << q;
    EXPECT_LT(s.Bytes().size(), 8u + 3 + 3 * kPercentileMaxBuckets + 16);  // <= 2048 buckets kept
  }
  for (double q : {0.0, 0.5}) {
    Sketch s("percentile", 2, {Value(), Value::Double(q)});
    s.Feed(values);
    EXPECT_GT(s.Result().as_double(), 1e130) << q;  // folded: far above the true value
    EXPECT_LT(s.Result().as_double(), 1e134) << q;
  }
  // Same for negative values: the most negative fold.
  std::vector<Value> neg;
  for (const Value& v : values) neg.push_back(Value::Double(-v.as_double()));
  Sketch s("percentile", 2, {Value(), Value::Double(0.99)});
  s.Feed(neg);
  const size_t rank = static_cast<size_t>(std::floor(0.99 * static_cast<double>(data.size() - 1)));
  double exact = -data[data.size() - 1 - rank];
  EXPECT_LE(std::abs(s.Result().as_double() - exact), kAlpha * std::abs(exact) * (1 + 1e-12));
}

TEST(Percentile, InvalidQ) {
  auto r = MakeAggregate("percentile", 2, {.constants = {Value(), Value::Int(95)}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "percentile(x, q): q must be a number between 0 and 1, got 95");
  for (Value q : {Value::Double(-0.1), Value::Double(1.5), Value::Double(NAN), Value::String("0.5"), Value()})
    EXPECT_FALSE(MakeAggregate("percentile", 2, {.constants = {Value(), q}}));
  EXPECT_EQ(MakeAggregate("percentile", 2, {}).error().message,
            "percentile(x, q): q must be a number between 0 and 1, got null");
  EXPECT_TRUE(MakeAggregate("percentile", 2, {.constants = {Value(), Value::Int(0)}}));
  EXPECT_TRUE(MakeAggregate("percentile", 2, {.constants = {Value(), Value::Int(1)}}));
  EXPECT_FALSE(MakeAggregate("median", 2, {}));
}

// ---- top_k -------------------------------------------------------------------------------------

std::string TopK(Sketch& s) {
  Value v = s.Result();
  EXPECT_TRUE(v.is_json());
  return std::string(v.as_string());
}

TEST(TopK, CountsTiesAndRetraction) {
  std::vector<Value> x;
  for (int i = 0; i < 5; ++i) x.push_back(Value::String("a"));
  for (int i = 0; i < 3; ++i) x.push_back(Value::String("c"));
  for (int i = 0; i < 3; ++i) x.push_back(Value::String("b"));
  for (int i = 0; i < 3; ++i) x.push_back(Value::Int(1));
  x.push_back(Value::Double(1.0));  // the same value as 1
  x.push_back(Value::Bool(true));
  x.push_back(Value());  // nulls are not counted
  Sketch s3("top_k", 2, {Value(), Value::Int(3)}), all("top_k", 2, {Value(), Value::Int(100)});
  s3.Feed(x, 1, Value::Int(3));
  all.Feed(x, 1, Value::Int(100));
  // Ties by value: true < 1 < "b" < "c" (CompareTotal order).
  EXPECT_EQ(TopK(s3), R"([{"value":"a","count":5},{"value":1,"count":4},{"value":"b","count":3}])");
  EXPECT_EQ(TopK(all), R"([{"value":"a","count":5},{"value":1,"count":4},{"value":"b","count":3},)"
                       R"({"value":"c","count":3},{"value":true,"count":1}])");
  s3.Feed({Value::String("a"), Value::String("a"), Value::String("a"), Value::Int(1), Value::String("zzz")}, -1);
  // a: 2, 1: 3, b: 3, c: 3, true: 1, "zzz": -1 (retraction ahead of its insert, not shown)
  EXPECT_EQ(TopK(s3), R"([{"value":1,"count":3},{"value":"b","count":3},{"value":"c","count":3}])");
  s3.Feed({Value::String("zzz"), Value::String("zzz"), Value::String("zzz"), Value::String("zzz")});
  // zzz: 3 now ties with 1, b and c, and sorts after them.
  EXPECT_EQ(TopK(s3), R"([{"value":1,"count":3},{"value":"b","count":3},{"value":"c","count":3}])");
  s3.Feed({Value::String("zzz")});
  EXPECT_EQ(TopK(s3), R"([{"value":"zzz","count":4},{"value":1,"count":3},{"value":"b","count":3}])");
}

TEST(TopK, JsonOfEveryType) {
  Sketch s("top_k", 2, {Value(), Value::Int(10)});
  EXPECT_EQ(TopK(s), "[]");
  std::string raw = R"({"k":[1,2]})";
  s.Feed({Value::String("say \"hi\"\n"), Value::Double(2.5), Value::Time(0), Value::Json(raw), Value::Bool(false)});
  EXPECT_EQ(TopK(s), R"([{"value":false,"count":1},{"value":2.5,"count":1},)"
                     R"({"value":"1970-01-01T00:00:00.000Z","count":1},{"value":"say \"hi\"\n","count":1},)"
                     R"({"value":{"k":[1,2]},"count":1}])");
  s.Feed({Value::String("say \"hi\"\n"), Value::Double(2.5), Value::Time(0), Value::Json(raw), Value::Bool(false)}, -1);
  EXPECT_EQ(TopK(s), "[]");
}

TEST(TopK, MergeAndSerialize) {
  Sketch a("top_k", 2, {Value(), Value::Int(2)}), b("top_k", 2, {Value(), Value::Int(2)});
  a.Feed({Value::String("x"), Value::String("y"), Value::String("y")});
  b.Feed({Value::String("x"), Value::String("x"), Value::String("z")});
  b.Feed({Value::String("y")}, -1);
  a.MergeFrom(b);
  EXPECT_EQ(TopK(a), R"([{"value":"x","count":3},{"value":"y","count":1}])");
  std::string bytes = a.Bytes();
  Sketch c("top_k", 2, {Value(), Value::Int(2)});
  std::string_view in = bytes;
  ASSERT_TRUE(c.f->Deserialize(c.state.data(), in));
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(TopK(c), TopK(a));
  std::string_view cut = std::string_view(bytes).substr(0, bytes.size() - 2);
  Sketch d("top_k", 2, {Value(), Value::Int(2)});
  EXPECT_FALSE(d.f->Deserialize(d.state.data(), cut));
}

TEST(TopK, InvalidK) {
  auto r = MakeAggregate("top_k", 2, {.constants = {Value(), Value::Int(0)}});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "top_k(x, k): k must be an integer between 1 and 10000, got 0");
  for (Value k :
       {Value::Int(10001), Value::Int(-3), Value::Double(2.5), Value::Double(1e300), Value::String("3"), Value()})
    EXPECT_FALSE(MakeAggregate("top_k", 2, {.constants = {Value(), k}})) << ToText(k);
  EXPECT_TRUE(MakeAggregate("top_k", 2, {.constants = {Value(), Value::Double(5.0)}}));
  EXPECT_TRUE(MakeAggregate("top_k", 2, {.constants = {Value(), Value::Int(10000)}}));
}

TEST(SketchRegistry, ConstantArguments) {
  ASSERT_NE(FindAggregate("percentile"), nullptr);
  EXPECT_EQ(FindAggregate("percentile")->constant_args, std::vector<int>{1});
  EXPECT_EQ(FindAggregate("top_k")->constant_args, std::vector<int>{1});
  EXPECT_TRUE(FindAggregate("approx_distinct")->constant_args.empty());
  EXPECT_EQ(FindAggregate("median")->max_args, 1);
  auto r = MakeAggregate("top_k", 1, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "top_k() takes 2 arguments, got 1");
}

}  // namespace
}  // namespace weir::aggregate
