// count, count_if, sum, sum_if, avg, min, max, first, last.
#include <map>

#include "weir/aggregate/basic.h"
#include "weir/aggregate/state_io.h"

namespace weir::aggregate {
namespace {

// ---- count / count_if ------------------------------------------------------------------------

class Count final : public AggregateFunction {
 public:
  explicit Count(bool conditional) : conditional_(conditional) {}
  std::string_view name() const override { return conditional_ ? "count_if" : "count"; }
  uint32_t state_size() const override { return 8; }
  void Init(char* s) const override { *As<int64_t>(s) = 0; }
  void Update(const UpdateInput& in, uint32_t off) const override {
    if (conditional_) {
      const Value* c = in.args[0];
      for (size_t i = 0; i < in.n; ++i)
        if (in.rows[i] && c[i].is_bool() && c[i].as_bool()) *As<int64_t>(in.rows[i] + off) += in.weights[i];
    } else {
      for (size_t i = 0; i < in.n; ++i)
        if (in.rows[i]) *As<int64_t>(in.rows[i] + off) += in.weights[i];
    }
  }
  void Merge(char* d, const char* s) const override { *As<int64_t>(d) = AddCount(*As<int64_t>(d), *As<int64_t>(s)); }
  Value Finalize(const char* s, Arena&) const override { return Value::Int(*As<int64_t>(s)); }
  void Serialize(const char* s, std::string& out) const override { PutI64(out, *As<int64_t>(s)); }
  Status Deserialize(char* s, std::string_view& in) const override { return GetI64(in, As<int64_t>(s)); }

 private:
  bool conditional_;
};

// ---- sum / sum_if / avg ----------------------------------------------------------------------

// Integers are summed exactly in isum; doubles (and integer overflow) in dsum.
struct SumState {
  int64_t isum;
  double dsum;
  int64_t n;        // net number of non-null inputs
  int64_t ndouble;  // net number of double inputs (result is a double if any)
};

inline void AddNumber(SumState& st, const Value& raw, int8_t w) {
  Value v = Numeric(raw);
  if (v.is_null()) return;
  st.n += w;
  if (v.is_int()) {
    int64_t x = v.as_int();
    int64_t r;
    if (w > 0 ? __builtin_add_overflow(st.isum, x, &r) : __builtin_sub_overflow(st.isum, x, &r)) {
      st.dsum += w > 0 ? static_cast<double>(x) : -static_cast<double>(x);
    } else {
      st.isum = r;
    }
  } else {
    st.dsum += w > 0 ? v.as_double() : -v.as_double();
    st.ndouble += w;
  }
}

class Sum final : public AggregateFunction {
 public:
  enum Kind { kSum, kSumIf, kAvg };
  explicit Sum(Kind kind) : kind_(kind) {}
  std::string_view name() const override { return kind_ == kSum ? "sum" : kind_ == kSumIf ? "sum_if" : "avg"; }
  uint32_t state_size() const override { return sizeof(SumState); }
  void Init(char* s) const override { *As<SumState>(s) = SumState{0, 0.0, 0, 0}; }
  void Update(const UpdateInput& in, uint32_t off) const override {
    const Value* x = in.args[0];
    if (kind_ == kSumIf) {
      const Value* c = in.args[1];
      for (size_t i = 0; i < in.n; ++i)
        if (in.rows[i] && c[i].is_bool() && c[i].as_bool())
          AddNumber(*As<SumState>(in.rows[i] + off), x[i], in.weights[i]);
      return;
    }
    for (size_t i = 0; i < in.n; ++i)
      if (in.rows[i]) AddNumber(*As<SumState>(in.rows[i] + off), x[i], in.weights[i]);
  }
  void Merge(char* d, const char* s) const override {
    SumState& a = *As<SumState>(d);
    const SumState& b = *As<SumState>(s);
    int64_t r;
    if (__builtin_add_overflow(a.isum, b.isum, &r)) {
      a.dsum += static_cast<double>(b.isum);
    } else {
      a.isum = r;
    }
    a.dsum += b.dsum;
    a.n = AddCount(a.n, b.n);
    a.ndouble = AddCount(a.ndouble, b.ndouble);
  }
  Value Finalize(const char* s, Arena&) const override {
    const SumState& st = *As<SumState>(s);
    if (st.n <= 0) return Value::Null();
    if (kind_ == kAvg) return Value::Double((static_cast<double>(st.isum) + st.dsum) / static_cast<double>(st.n));
    if (st.ndouble <= 0 && st.dsum == 0) return Value::Int(st.isum);
    return Value::Double(static_cast<double>(st.isum) + st.dsum);
  }
  void Serialize(const char* s, std::string& out) const override {
    const SumState& st = *As<SumState>(s);
    PutI64(out, st.isum);
    PutF64(out, st.dsum);
    PutI64(out, st.n);
    PutI64(out, st.ndouble);
  }
  Status Deserialize(char* s, std::string_view& in) const override {
    SumState& st = *As<SumState>(s);
    WEIR_RETURN_IF_ERROR(GetI64(in, &st.isum));
    WEIR_RETURN_IF_ERROR(GetF64(in, &st.dsum));
    WEIR_RETURN_IF_ERROR(GetI64(in, &st.n));
    return GetI64(in, &st.ndouble);
  }

 private:
  Kind kind_;
};

// ---- min / max -------------------------------------------------------------------------------

// Insert-only inputs keep the current extreme; inputs that may retract keep every value with
// its count, so that retracting the extreme reveals the next one. What sum/avg read as a number
// (numbers, and strings that are wholly a number, as CDC decimals arrive) is compared, kept and
// returned as that number: max("20.00", "5.50", "100.00") is 100. Other values keep the key
// order (null < bool < numbers < strings).
struct ExtremeState {
  OwnedValue best;
  std::map<std::string, int64_t>* counts;  // key encoding -> count; null when insert-only
  // Insert-only: `best` as a double when it is a number, so that numbers compare without being
  // encoded first (a number strictly above or below it as a double is so in key order too).
  double number;
  bool is_number;

  void SetBest(std::string_view key, const Value& v) {
    best.SetKey(key);
    is_number = v.is_number();
    number = v.to_double();
  }
};

class Extreme final : public AggregateFunction {
 public:
  Extreme(bool is_max, bool insert_only) : max_(is_max), insert_only_(insert_only) {}
  std::string_view name() const override { return max_ ? "max" : "min"; }
  uint32_t state_size() const override { return (sizeof(ExtremeState) + 7) & ~7u; }
  bool has_destructor() const override { return true; }
  void Init(char* s) const override {
    auto* st = new (s) ExtremeState{};
    st->counts = insert_only_ ? nullptr : new std::map<std::string, int64_t>();
  }
  void Destroy(char* s) const override {
    auto* st = As<ExtremeState>(s);
    delete st->counts;
    st->~ExtremeState();
  }
  bool Better(std::string_view a, std::string_view b) const { return max_ ? a > b : a < b; }

  void Update(const UpdateInput& in, uint32_t off) const override {
    const Value* x = in.args[0];
    std::string key;
    for (size_t i = 0; i < in.n; ++i) {
      if (!in.rows[i] || x[i].is_null()) continue;
      auto* st = As<ExtremeState>(in.rows[i] + off);
      Value v = x[i];
      if (v.is_string()) {
        if (Value n = Numeric(v); !n.is_null()) v = n;
      }
      if (!st->counts && st->is_number && v.is_number()) {
        const double d = v.to_double();
        if (max_ ? d < st->number : d > st->number) continue;  // worse: nothing to do
        // Better, or equal (or NaN): decided on keys below.
      }
      key.clear();
      EncodeKey(v, key);
      if (!st->counts) {
        if (st->best.empty() || Better(key, st->best.key())) st->SetBest(key, v);
        continue;
      }
      int64_t& c = (*st->counts)[key];
      c += in.weights[i];
      if (c == 0) st->counts->erase(key);
    }
  }
  void Merge(char* d, const char* s) const override {
    auto* a = As<ExtremeState>(d);
    const auto* b = As<ExtremeState>(s);
    if (a->counts && b->counts) {
      for (const auto& [k, c] : *b->counts) {
        int64_t& t = (*a->counts)[k];
        t += c;
        if (t == 0) a->counts->erase(k);
      }
    } else if (!b->best.empty() && (a->best.empty() || Better(b->best.key(), a->best.key()))) {
      a->best.SetKey(b->best.key());
      a->is_number = b->is_number;
      a->number = b->number;
    }
  }
  Value Finalize(const char* s, Arena& arena) const override {
    const auto* st = As<ExtremeState>(s);
    if (st->counts) {
      // Keys order as values; skip entries with a net negative count (retraction ahead of its insert).
      if (max_) {
        for (auto it = st->counts->rbegin(); it != st->counts->rend(); ++it)
          if (it->second > 0) return Decode(it->first, arena);
      } else {
        for (const auto& [k, c] : *st->counts)
          if (c > 0) return Decode(k, arena);
      }
      return Value::Null();
    }
    return st->best.empty() ? Value::Null() : st->best.Get(arena);
  }
  static Value Decode(const std::string& k, Arena& arena) {
    OwnedValue o;
    o.SetKey(k);
    return o.Get(arena);
  }
  void Serialize(const char* s, std::string& out) const override {
    const auto* st = As<ExtremeState>(s);
    if (st->counts) {
      PutU64(out, st->counts->size());
      for (const auto& [k, c] : *st->counts) {
        PutBytes(out, k);
        PutI64(out, c);
      }
    } else {
      PutBytes(out, st->best.key());
    }
  }
  Status Deserialize(char* s, std::string_view& in) const override {
    auto* st = As<ExtremeState>(s);
    if (st->counts) {
      uint64_t n;
      WEIR_RETURN_IF_ERROR(GetU64(in, &n));
      for (uint64_t i = 0; i < n; ++i) {
        std::string_view k;
        int64_t c;
        WEIR_RETURN_IF_ERROR(GetBytes(in, &k));
        WEIR_RETURN_IF_ERROR(GetI64(in, &c));
        int64_t& slot = (*st->counts)[std::string(k)];
        slot = AddCount(slot, c);
      }
      return Ok();
    }
    std::string_view k;
    WEIR_RETURN_IF_ERROR(GetBytes(in, &k));
    std::string_view rest = k;
    st->SetBest(k, k.empty() ? Value::Null() : DecodeKey(rest));
    return Ok();
  }

 private:
  bool max_;
  bool insert_only_;
};

// ---- first / last (by event time; ties by arrival) -------------------------------------------

struct EdgeState {
  Timestamp t;
  bool set;
  OwnedValue value;
};

class Edge final : public AggregateFunction {
 public:
  explicit Edge(bool last) : last_(last) {}
  std::string_view name() const override { return last_ ? "last" : "first"; }
  uint32_t state_size() const override { return (sizeof(EdgeState) + 7) & ~7u; }
  bool retractable() const override { return false; }
  bool has_destructor() const override { return true; }
  void Init(char* s) const override { new (s) EdgeState{0, false, {}}; }
  void Destroy(char* s) const override { As<EdgeState>(s)->~EdgeState(); }
  bool Takes(const EdgeState& st, Timestamp t) const { return !st.set || (last_ ? t >= st.t : t < st.t); }
  void Update(const UpdateInput& in, uint32_t off) const override {
    const Value* x = in.args[0];
    for (size_t i = 0; i < in.n; ++i) {
      if (!in.rows[i] || x[i].is_null() || in.weights[i] < 0) continue;
      auto* st = As<EdgeState>(in.rows[i] + off);
      if (Takes(*st, in.times[i])) {
        st->t = in.times[i];
        st->set = true;
        st->value.Set(x[i]);
      }
    }
  }
  void Merge(char* d, const char* s) const override {
    auto* a = As<EdgeState>(d);
    const auto* b = As<EdgeState>(s);
    if (b->set && Takes(*a, b->t)) {
      a->t = b->t;
      a->set = true;
      a->value.SetKey(b->value.key());
    }
  }
  Value Finalize(const char* s, Arena& arena) const override {
    const auto* st = As<EdgeState>(s);
    return st->set ? st->value.Get(arena) : Value::Null();
  }
  void Serialize(const char* s, std::string& out) const override {
    const auto* st = As<EdgeState>(s);
    PutI64(out, st->set ? 1 : 0);
    PutI64(out, st->t);
    PutBytes(out, st->value.key());
  }
  Status Deserialize(char* s, std::string_view& in) const override {
    auto* st = As<EdgeState>(s);
    int64_t set;
    std::string_view k;
    WEIR_RETURN_IF_ERROR(GetI64(in, &set));
    WEIR_RETURN_IF_ERROR(GetI64(in, &st->t));
    WEIR_RETURN_IF_ERROR(GetBytes(in, &k));
    st->set = set != 0;
    st->value.SetKey(k);
    return Ok();
  }

 private:
  bool last_;
};

}  // namespace

AggregatePtr MakeCount(bool conditional) { return std::make_unique<Count>(conditional); }
AggregatePtr MakeSum() { return std::make_unique<Sum>(Sum::kSum); }
AggregatePtr MakeSumIf() { return std::make_unique<Sum>(Sum::kSumIf); }
AggregatePtr MakeAvg() { return std::make_unique<Sum>(Sum::kAvg); }
AggregatePtr MakeExtreme(bool is_max, bool insert_only) { return std::make_unique<Extreme>(is_max, insert_only); }
AggregatePtr MakeEdge(bool last) { return std::make_unique<Edge>(last); }

}  // namespace weir::aggregate
