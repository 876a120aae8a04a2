// Math, comparison and conversion functions: abs, round, floor, ceil, sqrt, ln, log10, pow,
// greatest, least, nullif, to_number, to_bool.
//
//   round(2.5) = 3.0; round(-2.5) = -3.0; round(1.005, 2) = 1.01; round(1250, -2) = 1300
//
// Arguments accept numbers and numeric strings. Results that are not finite numbers (sqrt(-1),
// pow(0, -1)) are NULL.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "weir/expr/functions.h"

namespace weir::expr {
namespace {

Value FiniteOrNull(double d) { return std::isfinite(d) ? Value::Double(d) : Value::Null(); }

// Integer digits argument, clamped to a range where every rounding is already decided.
std::optional<int64_t> DigitsArg(const Value& v) {
  Value n = ToNumber(v);
  if (n.is_int()) return std::clamp<int64_t>(n.as_int(), -400, 400);
  if (n.is_double() && !std::isnan(n.as_double())) return static_cast<int64_t>(std::clamp(n.as_double(), -400.0, 400.0));
  return std::nullopt;
}

// round(x, digits) for an integer x and digits < 0: to the nearest multiple of 10^-digits.
Value RoundInt(int64_t x, int64_t digits) {
  if (digits >= 0) return Value::Int(x);
  if (digits < -38) return Value::Int(0);
  __int128 p = 1;
  for (int64_t i = 0; i < -digits; ++i) p *= 10;
  __int128 v = x;
  __int128 q = v / p, r = v % p;
  if (2 * (r < 0 ? -r : r) >= p) q += v < 0 ? -1 : 1;
  __int128 res = q * p;
  if (res >= std::numeric_limits<int64_t>::min() && res <= std::numeric_limits<int64_t>::max())
    return Value::Int(static_cast<int64_t>(res));
  return Value::Double(static_cast<double>(res));
}

Value Extreme(const Value* a, uint32_t n, Cmp wanted) {
  const Value* best = nullptr;
  for (uint32_t i = 0; i < n; ++i) {
    if (a[i].is_null()) continue;
    if (!best) {
      best = &a[i];
      continue;
    }
    Cmp c = CompareValues(a[i], *best);
    if (c == Cmp::kNull) return Value::Null();  // values that do not compare have no maximum
    if (c == wanted) best = &a[i];
  }
  return best ? *best : Value::Null();
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  constexpr std::string_view kWs = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(kWs);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(kWs);
  return s.substr(b, e - b + 1);
}

}  // namespace

// Rounds the shortest decimal form of x (what a user reads and writes), so 1.005 rounds to
// 1.01 although the double nearest 1.005 is slightly below it.
double RoundDouble(double x, int64_t digits) {
  if (!std::isfinite(x) || x == 0) return x;
  if (digits > 400) return x;
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, std::fabs(x), std::chars_format::scientific);
  std::string_view s(buf, r.ptr - buf);  // "d.ddde+XX"
  size_t e_pos = s.find('e');
  std::string mant;
  for (char c : s.substr(0, e_pos))
    if (c != '.') mant.push_back(c);
  int exp10 = 0;
  std::string_view es = s.substr(e_pos + 1);
  if (!es.empty() && es[0] == '+') es.remove_prefix(1);
  std::from_chars(es.data(), es.data() + es.size(), exp10);
  // mant[i] has place value 10^(exp10 - i); keep the places >= 10^-digits.
  int64_t keep = exp10 + digits + 1;
  if (keep >= static_cast<int64_t>(mant.size())) return x;
  if (keep < 0) return 0.0;
  bool up = mant[keep] >= '5';
  std::string kept = mant.substr(0, keep);
  if (up) {
    int i = static_cast<int>(kept.size()) - 1;
    while (i >= 0 && kept[i] == '9') kept[i--] = '0';
    if (i >= 0) kept[i]++;
    else kept.insert(kept.begin(), '1');
  }
  if (kept.empty()) return 0.0;
  // The value is kept * 10^(exp10 - keep + 1); a carry that added a leading digit does not
  // change the unit of the last digit.
  std::string text = kept + "e" + std::to_string(exp10 - keep + 1);
  double out = 0;
  auto res = std::from_chars(text.data(), text.data() + text.size(), out);
  if (res.ec != std::errc()) out = std::numeric_limits<double>::infinity();  // rounded past DBL_MAX
  return x < 0 ? -out : out;
}

Value FnNullif(const Value* a, uint32_t, Arena&) {
  return CompareValues(a[0], a[1]) == Cmp::kEqual ? Value::Null() : a[0];
}

Value FnAbs(const Value* a, uint32_t, Arena&) {
  Value x = ToNumber(a[0]);
  if (x.is_int()) {
    if (x.as_int() == std::numeric_limits<int64_t>::min()) return Value::Double(9223372036854775808.0);
    return Value::Int(x.as_int() < 0 ? -x.as_int() : x.as_int());
  }
  if (x.is_double()) return Value::Double(std::fabs(x.as_double()));
  return Value::Null();
}

Value FnRound(const Value* a, uint32_t n, Arena&) {
  Value x = ToNumber(a[0]);
  if (x.is_null()) return x;
  int64_t digits = 0;
  if (n > 1) {
    auto d = DigitsArg(a[1]);
    if (!d) return Value::Null();
    digits = *d;
  }
  if (x.is_int()) return RoundInt(x.as_int(), digits);
  if (n == 1) return Value::Double(std::round(x.as_double()));
  return FiniteOrNull(RoundDouble(x.as_double(), digits));
}

Value FnFloor(const Value* a, uint32_t, Arena&) {
  Value x = ToNumber(a[0]);
  return x.is_double() ? Value::Double(std::floor(x.as_double())) : x;
}

Value FnCeil(const Value* a, uint32_t, Arena&) {
  Value x = ToNumber(a[0]);
  return x.is_double() ? Value::Double(std::ceil(x.as_double())) : x;
}

Value FnSqrt(const Value* a, uint32_t, Arena&) {
  Value x = ToNumber(a[0]);
  if (x.is_null() || x.to_double() < 0) return Value::Null();
  return FiniteOrNull(std::sqrt(x.to_double()));
}

Value FnLn(const Value* a, uint32_t, Arena&) {
  Value x = ToNumber(a[0]);
  if (x.is_null() || !(x.to_double() > 0)) return Value::Null();
  return FiniteOrNull(std::log(x.to_double()));
}

Value FnLog10(const Value* a, uint32_t, Arena&) {
  Value x = ToNumber(a[0]);
  if (x.is_null() || !(x.to_double() > 0)) return Value::Null();
  return FiniteOrNull(std::log10(x.to_double()));
}

Value FnPow(const Value* a, uint32_t, Arena&) {
  Value x = ToNumber(a[0]), y = ToNumber(a[1]);
  if (x.is_null() || y.is_null()) return Value::Null();
  return FiniteOrNull(std::pow(x.to_double(), y.to_double()));
}

Value FnGreatest(const Value* a, uint32_t n, Arena&) { return Extreme(a, n, Cmp::kGreater); }
Value FnLeast(const Value* a, uint32_t n, Arena&) { return Extreme(a, n, Cmp::kLess); }

Value FnToNumber(const Value* a, uint32_t, Arena&) {
  const Value& v = a[0];
  switch (v.type()) {
    case ValueType::kInt:
    case ValueType::kDouble: return v;
    case ValueType::kString: {
      auto n = ParseNumber(TrimSpace(v.as_string()));
      return n ? *n : Value::Null();
    }
    case ValueType::kBool: return Value::Int(v.as_bool() ? 1 : 0);
    case ValueType::kTimestamp: return Value::Int(v.as_time());
    default: return Value::Null();
  }
}

Value FnToBool(const Value* a, uint32_t, Arena&) {
  const Value& v = a[0];
  switch (v.type()) {
    case ValueType::kBool: return v;
    case ValueType::kInt: return Value::Bool(v.as_int() != 0);
    case ValueType::kDouble: return Value::Bool(v.as_double() != 0);
    case ValueType::kString: {
      std::string_view s = TrimSpace(v.as_string());
      for (std::string_view t : {"true", "t", "yes", "y", "on", "1"})
        if (EqualsIgnoreCase(s, t)) return Value::Bool(true);
      for (std::string_view f : {"false", "f", "no", "n", "off", "0"})
        if (EqualsIgnoreCase(s, f)) return Value::Bool(false);
      return Value::Null();
    }
    default: return Value::Null();
  }
}

}  // namespace weir::expr
