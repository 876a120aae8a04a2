// Run-time semantics of the expression language on Values (internal to weir::expr): comparison,
// arithmetic, concatenation, LIKE, and the conversions every operator and function shares.
//
//   Cmp c = CompareValues(Value::Int(1), Value::String("1.0"));   // Cmp::kEqual
//   Value v = AddValues(Value::Int(INT64_MAX), Value::Int(1));     // a double, no overflow
//
// The fast cases (two ints, two doubles) are inline; mixed types go to out-of-line helpers.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include "weir/base/arena.h"
#include "weir/base/time.h"
#include "weir/model/value.h"

namespace weir::expr {

/// Longest string an expression makes (||, concat, replace); longer results are NULL. Without a
/// bound, nested replace() calls multiply a string's length and one row could take gigabytes.
inline constexpr size_t kMaxStringBytes = size_t{16} << 20;

/// Outcome of an SQL comparison; kNull when either side is NULL or the types do not compare.
enum class Cmp : int8_t { kLess = -1, kEqual = 0, kGreater = 1, kNull = 2 };

/// Three-way compare of doubles where NaN equals NaN and sorts above every number (PostgreSQL).
inline Cmp CompareDoubles(double a, double b) {
  if (a < b) return Cmp::kLess;
  if (a > b) return Cmp::kGreater;
  if (a == b) return Cmp::kEqual;
  bool an = std::isnan(a), bn = std::isnan(b);
  return an && bn ? Cmp::kEqual : (an ? Cmp::kGreater : Cmp::kLess);
}

/// Exact comparison of an integer with a double (no rounding of large integers).
Cmp CompareIntDouble(int64_t i, double d);

inline Cmp CompareNumbers(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? Cmp::kLess : (x > y ? Cmp::kGreater : Cmp::kEqual);
  }
  if (a.is_double() && b.is_double()) return CompareDoubles(a.as_double(), b.as_double());
  if (a.is_int()) return CompareIntDouble(a.as_int(), b.as_double());
  Cmp c = CompareIntDouble(b.as_int(), a.as_double());
  return c == Cmp::kLess ? Cmp::kGreater : (c == Cmp::kGreater ? Cmp::kLess : c);
}

inline Cmp CompareStrings(std::string_view a, std::string_view b) {
  int c = a.compare(b);
  return c < 0 ? Cmp::kLess : (c > 0 ? Cmp::kGreater : Cmp::kEqual);
}

/// Compare of values of different or unusual types: strings as numbers or timestamps, etc.
Cmp CompareSlow(const Value& a, const Value& b);

/// SQL comparison: numbers by value, strings bytewise, a numeric string against a number as
/// that number, a timestamp against an ISO-8601 string as that time; NULL otherwise.
inline Cmp CompareValues(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b);
  if (a.is_string() && b.is_string()) return CompareStrings(a.as_string(), b.as_string());
  return CompareSlow(a, b);
}

/// A constant operand with its string interpretations worked out once at compile time.
struct ConstOperand {
  Value v;
  Value num;   ///< v as a number when v is a number or a numeric string; else NULL
  Value time;  ///< v as a timestamp when v is a timestamp or an ISO-8601 string; else NULL
  double dnum = 0;         ///< num as a double, when that is exact
  bool has_dnum = false;   ///< a double column compares with dnum directly
};
ConstOperand MakeConstOperand(const Value& v);

Cmp CompareToConstSlow(const Value& a, const ConstOperand& c);

/// CompareValues(a, c.v) without re-parsing c's string on every call.
inline Cmp CompareToConst(const Value& a, const ConstOperand& c) {
  // The common cases first: a number column against a number (or numeric string) constant.
  if (a.is_double() && c.has_dnum) return CompareDoubles(a.as_double(), c.dnum);
  if (a.is_int() && c.num.is_int()) {
    int64_t x = a.as_int(), y = c.num.as_int();
    return x < y ? Cmp::kLess : (x > y ? Cmp::kGreater : Cmp::kEqual);
  }
  if (a.is_string() && c.v.is_string()) return CompareStrings(a.as_string(), c.v.as_string());
  return CompareToConstSlow(a, c);
}

/// The items of a long constant IN list of plain strings (not numeric, not ISO-8601) or of
/// integers, sorted for binary search. Lookup gives what the item-by-item comparison would:
/// 1 for a match, 0 for none, -1 when every comparison would be NULL (wrong type).
struct InSet {
  enum Kind : uint8_t { kStrings, kInts } kind;
  uint32_t n;
  const std::string_view* strs;  ///< sorted, for kStrings
  const int64_t* ints;           ///< sorted, for kInts
  int Lookup(const Value& x) const;
};

/// Number for arithmetic: ints and doubles as they are, numeric strings parsed, else NULL.
Value ToNumber(const Value& v);

/// Timestamp from a timestamp, an ISO-8601 string, a numeric string or a number (epoch seconds
/// or milliseconds as weir::EpochNumberToTimestamp decides); nullopt otherwise.
std::optional<Timestamp> ToTimestamp(const Value& v);


Value ArithSlow(int op, const Value& a, const Value& b);
enum ArithOp : int { kArithAdd, kArithSub, kArithMul, kArithDiv, kArithMod };

inline Value AddValues(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    int64_t r;
    if (!__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return Value::Int(r);
    return Value::Double(static_cast<double>(a.as_int()) + static_cast<double>(b.as_int()));
  }
  if (a.is_number() && b.is_number()) return Value::Double(a.to_double() + b.to_double());
  return ArithSlow(kArithAdd, a, b);
}

inline Value SubValues(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    int64_t r;
    if (!__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) return Value::Int(r);
    return Value::Double(static_cast<double>(a.as_int()) - static_cast<double>(b.as_int()));
  }
  if (a.is_number() && b.is_number()) return Value::Double(a.to_double() - b.to_double());
  return ArithSlow(kArithSub, a, b);
}

inline Value MulValues(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    int64_t r;
    if (!__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) return Value::Int(r);
    return Value::Double(static_cast<double>(a.as_int()) * static_cast<double>(b.as_int()));
  }
  if (a.is_number() && b.is_number()) return Value::Double(a.to_double() * b.to_double());
  return ArithSlow(kArithMul, a, b);
}

inline Value DivValues(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    double d = b.to_double();
    if (d == 0) return Value::Null();
    return Value::Double(a.to_double() / d);
  }
  return ArithSlow(kArithDiv, a, b);
}

inline Value ModValues(const Value& a, const Value& b) {
  if (a.is_int() && b.is_int()) {
    int64_t d = b.as_int();
    if (d == 0) return Value::Null();
    if (d == -1) return Value::Int(0);  // INT64_MIN % -1 traps on x86
    return Value::Int(a.as_int() % d);
  }
  if (a.is_number() && b.is_number()) {
    double d = b.to_double();
    if (d == 0) return Value::Null();
    return Value::Double(std::fmod(a.to_double(), d));
  }
  return ArithSlow(kArithMod, a, b);
}

/// Unary minus; -INT64_MIN becomes a double.
Value NegValue(const Value& v);

/// Text form of a non-NULL scalar for || and to_string: strings as they are, numbers in their
/// shortest form, true/false, ISO-8601 timestamps. Writes into `buf` when it must format.
std::string_view TextOf(const Value& v, char (&buf)[48]);

/// a || b; NULL if either is NULL. The result lives in `arena` unless it is one of the inputs.
Value ConcatValues(const Value& a, const Value& b, Arena& arena);

/// SQL LIKE: '%' matches any run of characters, '_' one UTF-8 character, '\' escapes the next
/// pattern character.
bool LikeMatch(std::string_view s, std::string_view pattern);

/// A LIKE pattern known at compile time, reduced to a cheaper test where its shape allows.
struct LikePattern {
  enum Kind : uint8_t { kExact, kPrefix, kSuffix, kContains, kGeneric } kind;
  std::string_view needle;   ///< the literal part for kExact..kContains
  std::string_view pattern;  ///< the whole pattern for kGeneric
  bool Match(std::string_view s) const {
    switch (kind) {
      case kExact: return s == needle;
      case kPrefix: return s.starts_with(needle);
      case kSuffix: return s.ends_with(needle);
      case kContains: return s.find(needle) != std::string_view::npos;
      case kGeneric: break;
    }
    return LikeMatch(s, pattern);
  }
};
/// Analyses `pattern` (which must outlive the result).
LikePattern MakeLikePattern(std::string_view pattern);

/// Bytes of the UTF-8 character starting at s[i] (1 for stray continuation bytes).
inline size_t Utf8CharLen(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
  return std::min(n, s.size() - i);
}

}  // namespace weir::expr
