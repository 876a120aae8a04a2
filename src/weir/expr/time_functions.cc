// Time functions: to_timestamp, calendar fields, date_trunc, epoch_ms, format_date (all UTC).
//
//   hour('2026-02-16T10:30:00Z') = 10; date_trunc('week', t) is the Monday 00:00 of t's week
//
// Every time argument may be a timestamp, an ISO-8601 string, or an epoch number (seconds or
// milliseconds, as weir::EpochNumberToTimestamp decides). Calendar fields need a year between
// 0 and 9999; outside that they are NULL.
#include <optional>

#include "weir/expr/functions.h"

namespace weir::expr {
namespace {

std::optional<CivilTime> CivilOf(const Value& v) {
  auto t = ToTimestamp(v);
  if (!t || !InCivilRange(*t)) return std::nullopt;
  return ToCivil(*t);
}

template <int CivilTime::*Field>
Value CivilField(const Value& v) {
  auto c = CivilOf(v);
  return c ? Value::Int((*c).*Field) : Value::Null();
}

bool UnitIs(std::string_view unit, std::string_view lower) {
  if (unit.size() != lower.size()) return false;
  for (size_t i = 0; i < unit.size(); ++i) {
    char c = unit[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != lower[i]) return false;
  }
  return true;
}

}  // namespace

std::optional<Timestamp> TruncateTime(std::string_view unit, Timestamp t) {
  constexpr int64_t kDay = 86400000;
  if (UnitIs(unit, "second")) return AlignDown(t, 1000);
  if (UnitIs(unit, "minute")) return AlignDown(t, 60000);
  if (UnitIs(unit, "hour")) return AlignDown(t, 3600000);
  if (UnitIs(unit, "day")) return AlignDown(t, kDay);
  if (UnitIs(unit, "week")) {
    // ISO weeks start on Monday; 1970-01-01 was a Thursday, three days after a Monday.
    return AlignDown(t + 3 * kDay, 7 * kDay) - 3 * kDay;
  }
  bool month = UnitIs(unit, "month"), quarter = UnitIs(unit, "quarter"), year = UnitIs(unit, "year");
  if (!month && !quarter && !year) return std::nullopt;
  CivilTime c = ToCivil(t);
  if (year) return FromCivil(c.year, 1, 1);
  if (quarter) return FromCivil(c.year, (c.month - 1) / 3 * 3 + 1, 1);
  return FromCivil(c.year, c.month, 1);
}

Value FnToTimestamp(const Value* a, uint32_t, Arena&) {
  auto t = ToTimestamp(a[0]);
  return t ? Value::Time(*t) : Value::Null();
}

Value FnYear(const Value* a, uint32_t, Arena&) { return CivilField<&CivilTime::year>(a[0]); }
Value FnMonth(const Value* a, uint32_t, Arena&) { return CivilField<&CivilTime::month>(a[0]); }
Value FnDay(const Value* a, uint32_t, Arena&) { return CivilField<&CivilTime::day>(a[0]); }
Value FnHour(const Value* a, uint32_t, Arena&) { return CivilField<&CivilTime::hour>(a[0]); }
Value FnMinute(const Value* a, uint32_t, Arena&) { return CivilField<&CivilTime::minute>(a[0]); }
Value FnSecond(const Value* a, uint32_t, Arena&) { return CivilField<&CivilTime::second>(a[0]); }
Value FnDayOfWeek(const Value* a, uint32_t, Arena&) { return CivilField<&CivilTime::day_of_week>(a[0]); }
Value FnDayOfYear(const Value* a, uint32_t, Arena&) { return CivilField<&CivilTime::day_of_year>(a[0]); }

Value FnDateTrunc(const Value* a, uint32_t, Arena&) {
  if (!a[0].is_string()) return Value::Null();
  auto t = ToTimestamp(a[1]);
  if (!t || !InCivilRange(*t)) return Value::Null();
  auto r = TruncateTime(a[0].as_string(), *t);
  return r ? Value::Time(*r) : Value::Null();
}

Value FnEpochMs(const Value* a, uint32_t, Arena&) {
  auto t = ToTimestamp(a[0]);
  return t ? Value::Int(*t) : Value::Null();
}

Value FnFormatDate(const Value* a, uint32_t, Arena& arena) {
  auto t = ToTimestamp(a[0]);
  if (!t || !InCivilRange(*t)) return Value::Null();
  char buf[24];
  FormatIso8601To(*t, buf);
  return Value::String(arena.Copy(std::string_view(buf, 10)));
}

}  // namespace weir::expr
