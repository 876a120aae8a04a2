// A dynamically typed scalar, 16 bytes, that does not own its bytes.
//
// Strings and raw JSON point into memory owned by something longer-lived: the batch's input
// buffer or arena, an expression's constant pool, a window's key store. Copying a Value is
// copying 16 bytes.
//
//   Value v = Value::Int(42);
//   if (v.is_number()) total += v.to_double();
//   std::string out; AppendJson(out, v);   // 42
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "weir/base/time.h"

namespace weir {

enum class ValueType : uint8_t {
  kNull = 0,
  kBool,
  kInt,
  kDouble,
  kString,
  kTimestamp,  ///< ms since epoch; written as an ISO-8601 string
  kJson,       ///< raw JSON text of an object or array
};

std::string_view TypeName(ValueType t);

/// A scalar of any JSON type, or a timestamp. Trivially copyable; does not own string bytes.
class Value {
 public:
  constexpr Value() : i_(0), len_(0), type_(ValueType::kNull) {}

  static constexpr Value Null() { return Value(); }
  static Value Bool(bool b) {
    Value v;
    v.type_ = ValueType::kBool;
    v.i_ = b ? 1 : 0;
    return v;
  }
  static Value Int(int64_t i) {
    Value v;
    v.type_ = ValueType::kInt;
    v.i_ = i;
    return v;
  }
  static Value Double(double d) {
    Value v;
    v.type_ = ValueType::kDouble;
    v.d_ = d;
    return v;
  }
  static Value String(std::string_view s) {
    Value v;
    v.type_ = ValueType::kString;
    v.s_ = s.data();
    v.len_ = static_cast<uint32_t>(s.size());
    return v;
  }
  static Value Time(Timestamp t) {
    Value v;
    v.type_ = ValueType::kTimestamp;
    v.i_ = t;
    return v;
  }
  static Value Json(std::string_view raw) {
    Value v;
    v.type_ = ValueType::kJson;
    v.s_ = raw.data();
    v.len_ = static_cast<uint32_t>(raw.size());
    return v;
  }

  ValueType type() const { return type_; }
  bool is_null() const { return type_ == ValueType::kNull; }
  bool is_bool() const { return type_ == ValueType::kBool; }
  bool is_int() const { return type_ == ValueType::kInt; }
  bool is_double() const { return type_ == ValueType::kDouble; }
  bool is_number() const { return type_ == ValueType::kInt || type_ == ValueType::kDouble; }
  bool is_string() const { return type_ == ValueType::kString; }
  bool is_time() const { return type_ == ValueType::kTimestamp; }
  bool is_json() const { return type_ == ValueType::kJson; }

  bool as_bool() const { return i_ != 0; }
  int64_t as_int() const { return i_; }
  double as_double() const { return d_; }
  Timestamp as_time() const { return i_; }
  std::string_view as_string() const { return {s_, len_}; }  ///< for kString and kJson
  /// Asks the CPU to bring a string's first bytes into cache (input bytes a batch points into
  /// have usually left it by the time an aggregate reads them); a no-op for other types.
  void PrefetchBytes() const {
    if (type_ == ValueType::kString) __builtin_prefetch(s_);
  }

  /// Int or double as double; anything else 0.
  double to_double() const {
    return type_ == ValueType::kDouble ? d_ : type_ == ValueType::kInt ? static_cast<double>(i_) : 0.0;
  }

  /// Exact identity: same type and same bits (strings by content). NaN equals NaN here.
  bool IdenticalTo(const Value& o) const;

 private:
  union {
    int64_t i_;
    double d_;
    const char* s_;
  };
  uint32_t len_;
  ValueType type_;
};

static_assert(sizeof(Value) == 16);

/// SQL-style equality for grouping and IN: ints and doubles compare by numeric value; strings
/// by bytes; null equals null (as GROUP BY treats it).
bool GroupEquals(const Value& a, const Value& b);
/// Hash consistent with GroupEquals (an integral double hashes as the integer).
uint64_t GroupHash(const Value& v);

/// Total order for sorting: null < bool < numbers < timestamps < strings < json.
/// Numbers compare by value across int and double.
int CompareTotal(const Value& a, const Value& b);

/// Appends the JSON form: null, true, 42, 1.5, "text" (escaped), "2026-01-01T00:00:00.000Z",
/// raw JSON as is. Non-finite doubles are written as null.
void AppendJson(std::string& out, const Value& v);
/// Appends s as a quoted, escaped JSON string.
void AppendJsonString(std::string& out, std::string_view s);
/// Appends a double in the shortest form that reads back to the same value.
void AppendDouble(std::string& out, double d);
/// Text form for CSV, logs, keys: strings unquoted, the rest as in JSON.
std::string ToText(const Value& v);

/// Reads a number from text ("12", "-3.5", "1e3"); nullopt if the whole text is not a number.
std::optional<Value> ParseNumber(std::string_view s);

/// A record's event time from its event-time field: a timestamp, an ISO-8601 string, or epoch
/// seconds or milliseconds (EpochNumberToTimestamp). nullopt for anything else, and for times
/// outside years 0000–9999 (a number in the wrong unit, garbage), one of which would otherwise
/// move a watermark to the end of time, or before all others.
std::optional<Timestamp> EventTimeOf(const Value& v);

}  // namespace weir
