// percentile(x, q) and median(x): a DDSketch (Masson, Rim, Lee, VLDB 2019).
//
// Values fall into logarithmic buckets: bucket i of the positive store holds the x with
// gamma^(i-1) < x <= gamma^i (gamma = (1 + a) / (1 - a), a = 0.01), and reports the point whose
// relative distance to both bounds is at most a. So the result is within 1% of the value of rank
// floor(q * (n - 1)) of the sorted input (the "lower" quantile), whatever the distribution.
// Negative values go to a second store keyed by |x|; zeros (and magnitudes below the smallest
// normal double, 2.2e-308) to a counter. NaN and infinities are ignored, as are non-numbers.
//
// Bucket counts are integers, so a retraction is a decrement and the sketch of "insert A, insert
// B, retract B" is the sketch of A; merge is adding counts.
//
// The bucket index uses a cubic approximation of log2 read off the float's exponent and
// mantissa (DDSketch's "cubically interpolated mapping"), about 1% more buckets than exact
// logarithms for no call to log(). Each store is one contiguous array of counts with an
// offset; it keeps at most 2048 buckets (a value range of gamma^2048 ≈ 1e17 at a = 0.01). When a
// value would widen the range past that, the lowest values' buckets are folded into the lowest
// kept one: low quantiles lose accuracy, high ones (p99) keep it. Memory per state: 8 bytes per
// bucket between the smallest and largest value of each sign, at most 16 KB + 16 KB.
#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "weir/aggregate/sketches.h"
#include "weir/aggregate/state_io.h"

namespace weir::aggregate {
namespace {

constexpr double kAlpha = kPercentileRelativeAccuracy;
constexpr int32_t kMaxBuckets = kPercentileMaxBuckets;
// Indices of normal doubles stay within about +-36000 at a = 0.01; anything far outside is a
// corrupt state.
constexpr int64_t kMaxIndex = 1 << 20;

// log2(x) ≈ e + P(s) for x = 2^e * (1 + s), P(s) = A s^3 + B s^2 + C s (P(0) = 0, P(1) = 1).
// The derivative of the true log2 with respect to this approximation is at most
// 1 / (C ln 2) = 7 / (10 ln 2) (reached at s = 0 and s = 2/3), so buckets of width
// (10 / 7) ln(gamma) in approximate-log2 units are at most ln(gamma) wide in true log units.
constexpr double kA = 6.0 / 35.0, kB = -3.0 / 5.0, kC = 10.0 / 7.0;

inline double ApproxLog2(double x) {
  uint64_t bits = std::bit_cast<uint64_t>(x);
  int e = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  double s = std::bit_cast<double>((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL) - 1.0;
  return ((kA * s + kB) * s + kC) * s + e;
}

// Inverse of ApproxLog2 (only used when reading results).
double ApproxExp2(double y) {
  double e = std::floor(y);
  double f = y - e;
  double s = f;  // P is increasing and concave on [0, 1]; Newton converges in a few steps
  for (int i = 0; i < 8; ++i) {
    double p = ((kA * s + kB) * s + kC) * s;
    double dp = (3 * kA * s + 2 * kB) * s + kC;
    s = std::clamp(s - (p - f) / dp, 0.0, 1.0);
  }
  return std::ldexp(1.0 + s, static_cast<int>(e));
}

struct Mapping {
  double multiplier;
  Mapping() {
    const double gamma = (1 + kAlpha) / (1 - kAlpha);
    multiplier = 7.0 / (10.0 * std::log(gamma));
  }
  /// Bucket of a positive normal x.
  int32_t Index(double x) const { return static_cast<int32_t>(std::ceil(ApproxLog2(x) * multiplier)); }
  /// The point within relative distance kAlpha of every value of bucket i.
  double Representative(int32_t i) const {
    double lo = ApproxExp2((i - 1) / multiplier);
    // The top bucket reaches past the largest double, which bounds its values instead.
    double hi = std::min(ApproxExp2(i / multiplier), std::numeric_limits<double>::max());
    return std::min(lo * (2 / (1 + lo / hi)), hi);  // 2 lo hi / (lo + hi), without overflow
  }
};

const Mapping& TheMapping() {
  static const Mapping m;
  return m;
}

/// Counts of consecutive bucket indices in one array, capped at kMaxBuckets indices.
class Store {
 public:
  /// keep_high: when the range is too wide, fold the lowest indices (else the highest).
  explicit Store(bool keep_high) : keep_high_(keep_high) {}

  bool empty() const { return lo_ > hi_; }
  int32_t lo() const { return lo_; }
  int32_t hi() const { return hi_; }
  int64_t at(int32_t i) const { return counts_[i - base_]; }

  void Add(int32_t index, int64_t w) {
    if (index < lo_ || index > hi_) index = Extend(index);
    counts_[index - base_] = AddCount(counts_[index - base_], w);
  }

  /// First and last index with a non-zero count (lo > hi when there is none).
  std::pair<int32_t, int32_t> Used() const {
    int32_t a = lo_, b = hi_;
    while (a <= b && at(a) == 0) ++a;
    while (b >= a && at(b) == 0) --b;
    return {a, b};
  }

  void MergeFrom(const Store& o) {
    auto [a, b] = o.Used();
    if (a > b) return;
    // Widen once to the whole incoming range rather than bucket by bucket.
    if (keep_high_) {
      Add(b, 0);
      Add(a, 0);
    } else {
      Add(a, 0);
      Add(b, 0);
    }
    for (int32_t i = a; i <= b; ++i)
      if (int64_t c = o.at(i)) Add(i, c);
  }

 private:
  // Makes room for `index` and returns the index to count it under (a folded bucket when the
  // range would exceed kMaxBuckets).
  int32_t Extend(int32_t index) {
    if (empty()) {
      Reserve(index, index);
      lo_ = hi_ = index;
      return index;
    }
    int32_t nlo = std::min(lo_, index), nhi = std::max(hi_, index);
    if (nhi - nlo + 1 > kMaxBuckets) {
      // Buckets emptied by retractions do not count against the cap.
      auto [a, b] = Used();
      if (a > b) {
        lo_ = 1;
        hi_ = 0;
        return Extend(index);
      }
      lo_ = a;
      hi_ = b;
      nlo = std::min(lo_, index);
      nhi = std::max(hi_, index);
    }
    // Fold the buckets beyond the cap into the outermost kept one. Reserve copies only the part
    // of [lo_, hi_] inside the new range, so the zeroed folded slots need no further care.
    int64_t folded = 0;
    int32_t target = 0;
    if (nhi - nlo + 1 > kMaxBuckets) {
      if (keep_high_) {
        target = nhi - kMaxBuckets + 1;
        for (int32_t i = lo_; i < target && i <= hi_; ++i) folded = AddCount(folded, std::exchange(counts_[i - base_], 0));
        nlo = target;
        index = std::max(index, target);
      } else {
        target = nlo + kMaxBuckets - 1;
        for (int32_t i = hi_; i > target && i >= lo_; --i) folded = AddCount(folded, std::exchange(counts_[i - base_], 0));
        nhi = target;
        index = std::min(index, target);
      }
    }
    Reserve(nlo, nhi);
    lo_ = nlo;
    hi_ = nhi;
    if (folded) counts_[target - base_] = AddCount(counts_[target - base_], folded);
    return index;
  }

  // Makes [nlo, nhi] addressable, keeping the counts of [lo_, hi_] ∩ [nlo, nhi]. Slots outside
  // [lo_, hi_] are always zero. Grows geometrically so that a drifting range costs O(1) per add.
  void Reserve(int32_t nlo, int32_t nhi) {
    const int64_t size = static_cast<int64_t>(counts_.size());
    if (size > 0 && nlo >= base_ && nhi < base_ + size) return;
    const int64_t need = int64_t{nhi} - nlo + 1;
    const int64_t cap = std::max(need, std::min<int64_t>(kMaxBuckets, std::max<int64_t>(16, 2 * size)));
    const int32_t nbase = (size > 0 && nlo < base_) ? static_cast<int32_t>(nhi - cap + 1) : nlo;
    std::vector<int64_t> next(static_cast<size_t>(cap), 0);
    if (!empty())
      for (int32_t i = std::max(lo_, nlo); i <= std::min(hi_, nhi); ++i) next[i - nbase] = counts_[i - base_];
    counts_.swap(next);
    base_ = nbase;
  }

  std::vector<int64_t> counts_;
  int32_t base_ = 0;         // index of counts_[0]
  int32_t lo_ = 1, hi_ = 0;  // range in use (may have zero counts at the edges after retractions)
  bool keep_high_;
};

struct Sketch {
  int64_t zero = 0;
  Store pos{true};   // by index of x; folds the smallest x
  Store neg{false};  // by index of |x|; folds the largest |x|, i.e. the smallest x

  void Add(double x, int64_t w) {
    if (!std::isfinite(x)) return;
    constexpr double kMinNormal = std::numeric_limits<double>::min();
    if (x >= kMinNormal) {
      pos.Add(TheMapping().Index(x), w);
    } else if (x <= -kMinNormal) {
      neg.Add(TheMapping().Index(-x), w);
    } else {
      zero += w;
    }
  }
};

Sketch& Get(char* s) {
  Sketch*& p = *As<Sketch*>(s);
  if (!p) p = new Sketch();
  return *p;
}

// Serialized form: the accuracy (f64, checked on read), the zero count, then per store (negative
// first) the number of buckets n, and if n > 0 the first index and n counts, all varints.
void PutStore(std::string& out, const Store& st) {
  auto [a, b] = st.Used();
  if (a > b) return PutVarint(out, 0);
  PutVarint(out, static_cast<uint64_t>(b - a + 1));
  PutSignedVarint(out, a);
  for (int32_t i = a; i <= b; ++i) PutSignedVarint(out, st.at(i));
}

Status GetStore(std::string_view& in, Store& st) {
  uint64_t n = 0;
  WEIR_RETURN_IF_ERROR(GetVarint(in, &n));
  if (n == 0) return Ok();
  int64_t first = 0;
  WEIR_RETURN_IF_ERROR(GetSignedVarint(in, &first));
  if (n > in.size() || first < -kMaxIndex || first + static_cast<int64_t>(n) > kMaxIndex)
    return Fail("percentile state has a bad bucket range");
  for (uint64_t k = 0; k < n; ++k) {
    int64_t c = 0;
    WEIR_RETURN_IF_ERROR(GetSignedVarint(in, &c));
    if (c) st.Add(static_cast<int32_t>(first + static_cast<int64_t>(k)), c);
  }
  return Ok();
}

class Percentile final : public AggregateFunction {
 public:
  Percentile(std::string_view name, double q) : name_(name), q_(q) {}
  std::string_view name() const override { return name_; }
  uint32_t state_size() const override { return 8; }
  bool has_destructor() const override { return true; }
  void Init(char* s) const override { *As<Sketch*>(s) = nullptr; }
  void Destroy(char* s) const override {
    delete *As<Sketch*>(s);
    *As<Sketch*>(s) = nullptr;
  }

  void Update(const UpdateInput& in, uint32_t off) const override {
    const Value* x = in.args[0];
    for (size_t i = 0; i < in.n; ++i) {
      if (!in.rows[i]) continue;
      const Value& raw = x[i];
      double d;
      if (raw.is_double()) {
        d = raw.as_double();
      } else if (raw.is_int()) {
        d = static_cast<double>(raw.as_int());
      } else {
        Value v = Numeric(raw);
        if (v.is_null()) continue;
        d = v.to_double();
      }
      Get(in.rows[i] + off).Add(d, in.weights[i]);
    }
  }

  void Merge(char* d, const char* s) const override {
    const Sketch* b = *As<Sketch*>(s);
    if (!b) return;
    Sketch& a = Get(d);
    a.zero = AddCount(a.zero, b->zero);
    a.pos.MergeFrom(b->pos);
    a.neg.MergeFrom(b->neg);
  }

  Value Finalize(const char* s, Arena&) const override {
    const Sketch* sk = *As<Sketch*>(s);
    if (!sk) return Value::Null();
    // A count can be negative for a while when a retraction overtakes its insert; such buckets
    // hold nothing yet.
    auto live = [](int64_t c) { return c > 0 ? c : 0; };
    int64_t n = live(sk->zero);
    for (const Store* st : {&sk->neg, &sk->pos})
      if (!st->empty())
        for (int32_t i = st->lo(); i <= st->hi(); ++i) n += live(st->at(i));
    if (n == 0) return Value::Null();
    const double rank = q_ * static_cast<double>(n - 1);
    const Mapping& m = TheMapping();
    int64_t seen = 0;
    if (!sk->neg.empty())
      for (int32_t i = sk->neg.hi(); i >= sk->neg.lo(); --i)
        if ((seen += live(sk->neg.at(i))) > rank) return Value::Double(-m.Representative(i));
    if ((seen += live(sk->zero)) > rank) return Value::Double(0.0);
    if (!sk->pos.empty())
      for (int32_t i = sk->pos.lo(); i <= sk->pos.hi(); ++i)
        if ((seen += live(sk->pos.at(i))) > rank) return Value::Double(m.Representative(i));
    return Value::Null();  // unreachable: seen reaches n > rank
  }

  void Serialize(const char* s, std::string& out) const override {
    const Sketch* sk = *As<Sketch*>(s);
    PutF64(out, kAlpha);
    if (!sk) {
      PutVarint(out, 0);
      PutVarint(out, 0);
      PutVarint(out, 0);
      return;
    }
    PutSignedVarint(out, sk->zero);
    PutStore(out, sk->neg);
    PutStore(out, sk->pos);
  }

  Status Deserialize(char* s, std::string_view& in) const override {
    double alpha = 0;
    WEIR_RETURN_IF_ERROR(GetF64(in, &alpha));
    if (alpha != kAlpha)
      return Fail("percentile state was written with relative accuracy {}, this build uses {}", alpha, kAlpha);
    int64_t zero = 0;
    WEIR_RETURN_IF_ERROR(GetSignedVarint(in, &zero));
    Sketch& sk = Get(s);
    sk.zero = AddCount(sk.zero, zero);
    WEIR_RETURN_IF_ERROR(GetStore(in, sk.neg));
    return GetStore(in, sk.pos);
  }

 private:
  std::string_view name_;
  double q_;
};

}  // namespace

Result<AggregatePtr> MakePercentile(std::string_view name, const Value& q) {
  if (name == "median") return std::make_unique<Percentile>("median", 0.5);
  if (!q.is_number() || !(q.to_double() >= 0.0 && q.to_double() <= 1.0)) {
    std::string got;
    AppendJson(got, q);
    return Fail("percentile(x, q): q must be a number between 0 and 1, got {}", got);
  }
  return std::make_unique<Percentile>("percentile", q.to_double());
}

}  // namespace weir::aggregate
