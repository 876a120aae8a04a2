// Out-of-line parts of the expression semantics: mixed-type comparison and arithmetic, text
// conversion, LIKE matching. See value_ops.h.
#include "weir/expr/value_ops.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>

namespace weir::expr {
namespace {


// A number of milliseconds from a number operand of timestamp arithmetic.
std::optional<int64_t> Millis(const Value& n) {
  if (n.is_int()) return n.as_int();
  if (n.is_double()) {
    double d = n.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9e18) return std::nullopt;
    return std::llround(d);
  }
  return std::nullopt;
}

Value TimeArith(int op, const Value& a, const Value& b) {
  int64_t r;
  if (op == kArithAdd) {
    const Value& t = a.is_time() ? a : b;
    const Value& n = a.is_time() ? b : a;
    if (n.is_time()) return Value::Null();
    auto ms = Millis(ToNumber(n));
    if (!ms || __builtin_add_overflow(t.as_time(), *ms, &r)) return Value::Null();
    return Value::Time(r);
  }
  if (op == kArithSub && a.is_time()) {
    if (b.is_time()) {
      if (__builtin_sub_overflow(a.as_time(), b.as_time(), &r)) return Value::Null();
      return Value::Int(r);
    }
    auto ms = Millis(ToNumber(b));
    if (!ms || __builtin_sub_overflow(a.as_time(), *ms, &r)) return Value::Null();
    return Value::Time(r);
  }
  return Value::Null();
}

}  // namespace

Cmp CompareIntDouble(int64_t i, double d) {
  if (std::isnan(d)) return Cmp::kLess;
  if (d >= 9223372036854775808.0) return Cmp::kLess;
  if (d < -9223372036854775808.0) return Cmp::kGreater;
  auto t = static_cast<int64_t>(d);  // exact: |d| < 2^63 and truncation is representable
  if (i < t) return Cmp::kLess;
  if (i > t) return Cmp::kGreater;
  double frac = d - static_cast<double>(t);
  return frac > 0 ? Cmp::kLess : (frac < 0 ? Cmp::kGreater : Cmp::kEqual);
}

Cmp CompareSlow(const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return Cmp::kNull;
  if (a.is_number() && b.is_string()) {
    auto n = ParseNumber(b.as_string());
    return n ? CompareNumbers(a, *n) : Cmp::kNull;
  }
  if (a.is_string() && b.is_number()) {
    auto n = ParseNumber(a.as_string());
    return n ? CompareNumbers(*n, b) : Cmp::kNull;
  }
  auto cmp_int = [](int64_t x, int64_t y) { return x < y ? Cmp::kLess : (x > y ? Cmp::kGreater : Cmp::kEqual); };
  if (a.is_time() || b.is_time()) {
    std::optional<Timestamp> x = a.is_time() ? std::optional<Timestamp>(a.as_time())
                                             : (a.is_string() ? ParseIso8601(a.as_string()) : std::nullopt);
    std::optional<Timestamp> y = b.is_time() ? std::optional<Timestamp>(b.as_time())
                                             : (b.is_string() ? ParseIso8601(b.as_string()) : std::nullopt);
    if (!x || !y) return Cmp::kNull;
    return cmp_int(*x, *y);
  }
  if (a.is_bool() && b.is_bool()) return cmp_int(a.as_bool(), b.as_bool());
  if (a.is_json() && b.is_json()) return CompareStrings(a.as_string(), b.as_string());
  return Cmp::kNull;
}

ConstOperand MakeConstOperand(const Value& v) {
  ConstOperand c{v, Value::Null(), Value::Null()};
  if (v.is_number()) c.num = v;
  if (v.is_time()) c.time = v;
  if (v.is_string()) {
    if (auto n = ParseNumber(v.as_string())) c.num = *n;
    if (auto t = ParseIso8601(v.as_string())) c.time = Value::Time(*t);
  }
  // An integer up to 2^53 converts to a double exactly, so double columns compare as doubles.
  if (c.num.is_double() || (c.num.is_int() && c.num.as_int() >= -(1LL << 53) && c.num.as_int() <= (1LL << 53))) {
    c.dnum = c.num.to_double();
    c.has_dnum = true;
  }
  return c;
}

Cmp CompareToConstSlow(const Value& a, const ConstOperand& c) {
  if (c.v.is_string()) {
    if (a.is_string()) return CompareStrings(a.as_string(), c.v.as_string());
    if (a.is_number()) return c.num.is_null() ? Cmp::kNull : CompareNumbers(a, c.num);
    if (a.is_time()) {
      if (c.time.is_null()) return Cmp::kNull;
      return a.as_time() < c.time.as_time() ? Cmp::kLess
                                             : (a.as_time() > c.time.as_time() ? Cmp::kGreater : Cmp::kEqual);
    }
    return Cmp::kNull;
  }
  return CompareValues(a, c.v);
}

int InSet::Lookup(const Value& x) const {
  if (kind == kStrings) {
    if (!x.is_string()) return -1;  // only strings compare with plain strings
    return std::binary_search(strs, strs + n, x.as_string()) ? 1 : 0;
  }
  Value v = ToNumber(x);  // numbers, and strings that are numbers
  if (v.is_int()) return std::binary_search(ints, ints + n, v.as_int()) ? 1 : 0;
  if (v.is_double()) {
    double d = v.as_double();
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) || d != std::trunc(d)) return 0;
    return std::binary_search(ints, ints + n, static_cast<int64_t>(d)) ? 1 : 0;
  }
  return -1;
}

Value ToNumber(const Value& v) {
  if (v.is_number()) return v;
  if (v.is_string()) {
    if (auto n = ParseNumber(v.as_string())) return *n;
  }
  return Value::Null();
}

std::optional<Timestamp> ToTimestamp(const Value& v) {
  Value n;
  switch (v.type()) {
    case ValueType::kTimestamp: return v.as_time();
    case ValueType::kString: {
      if (auto t = ParseIso8601(v.as_string())) return t;
      auto parsed = ParseNumber(v.as_string());
      if (!parsed) return std::nullopt;
      n = *parsed;
      break;
    }
    case ValueType::kInt:
    case ValueType::kDouble: n = v; break;
    default: return std::nullopt;
  }
  double d = n.to_double();
  if (!std::isfinite(d) || std::fabs(d) >= 9e18) return std::nullopt;
  return EpochNumberToTimestamp(d);
}


Value ArithSlow(int op, const Value& a, const Value& b) {
  if (a.is_null() || b.is_null()) return Value::Null();
  if (a.is_time() || b.is_time()) return TimeArith(op, a, b);
  Value x = ToNumber(a), y = ToNumber(b);
  if (x.is_null() || y.is_null()) return Value::Null();
  switch (op) {
    case kArithAdd: return AddValues(x, y);
    case kArithSub: return SubValues(x, y);
    case kArithMul: return MulValues(x, y);
    case kArithDiv: return DivValues(x, y);
    default: return ModValues(x, y);
  }
}

Value NegValue(const Value& v) {
  if (v.is_int()) {
    if (v.as_int() == std::numeric_limits<int64_t>::min()) return Value::Double(9223372036854775808.0);
    return Value::Int(-v.as_int());
  }
  if (v.is_double()) return Value::Double(-v.as_double());
  if (v.is_string()) {
    Value n = ToNumber(v);
    return n.is_null() ? n : NegValue(n);
  }
  return Value::Null();
}

std::string_view TextOf(const Value& v, char (&buf)[48]) {
  switch (v.type()) {
    case ValueType::kString:
    case ValueType::kJson: return v.as_string();
    case ValueType::kNull: return {};
    case ValueType::kBool: return v.as_bool() ? "true" : "false";
    case ValueType::kInt: {
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
      return {buf, static_cast<size_t>(r.ptr - buf)};
    }
    case ValueType::kDouble: {
      double d = v.as_double();
      if (std::isnan(d)) return "NaN";
      if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      return {buf, static_cast<size_t>(r.ptr - buf)};
    }
    case ValueType::kTimestamp: {
      if (InCivilRange(v.as_time())) {
        char* e = FormatIso8601To(v.as_time(), buf);
        return {buf, static_cast<size_t>(e - buf)};
      }
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_time());
      return {buf, static_cast<size_t>(r.ptr - buf)};
    }
  }
  return {};
}

Value ConcatValues(const Value& a, const Value& b, Arena& arena) {
  if (a.is_null() || b.is_null()) return Value::Null();
  char ba[48], bb[48];
  std::string_view x = TextOf(a, ba), y = TextOf(b, bb);
  if (y.empty() && a.is_string()) return a;
  if (x.empty() && b.is_string()) return b;
  size_t n = x.size() + y.size();
  if (n > kMaxStringBytes) return Value::Null();
  if (n == 0) return Value::String({});
  char* p = arena.AllocateChars(n);
  if (!x.empty()) std::memcpy(p, x.data(), x.size());
  if (!y.empty()) std::memcpy(p + x.size(), y.data(), y.size());
  return Value::String({p, n});
}

bool LikeMatch(std::string_view s, std::string_view p) {
  constexpr size_t kNone = std::string_view::npos;
  size_t si = 0, pi = 0, star_p = kNone, star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      char c = p[pi];
      if (c == '%') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (c == '_') {
        si += Utf8CharLen(s, si);
        ++pi;
        continue;
      }
      size_t step = 1;
      if (c == '\\' && pi + 1 < p.size()) {
        c = p[pi + 1];
        step = 2;
      }
      if (s[si] == c) {
        ++si;
        pi += step;
        continue;
      }
    }
    // Mismatch: let the last '%' swallow one more character and retry from there.
    if (star_p == kNone) return false;
    star_s += Utf8CharLen(s, star_s);
    si = star_s;
    pi = star_p;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

LikePattern MakeLikePattern(std::string_view pattern) {
  LikePattern lp{LikePattern::kGeneric, {}, pattern};
  if (pattern.find_first_of("_\\") != std::string_view::npos) return lp;
  size_t lead = 0;
  while (lead < pattern.size() && pattern[lead] == '%') ++lead;
  size_t trail = 0;
  while (trail < pattern.size() - lead && pattern[pattern.size() - 1 - trail] == '%') ++trail;
  std::string_view mid = pattern.substr(lead, pattern.size() - lead - trail);
  if (mid.find('%') != std::string_view::npos) return lp;
  lp.needle = mid;
  if (lead == 0 && trail == 0) lp.kind = LikePattern::kExact;
  else if (lead == 0) lp.kind = LikePattern::kPrefix;
  else if (trail == 0) lp.kind = LikePattern::kSuffix;
  else lp.kind = LikePattern::kContains;
  return lp;
}

}  // namespace weir::expr
