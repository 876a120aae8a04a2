// The table of scalar functions and the list of aggregate names.
//
//   if (const FunctionDef* f = FindFunction("substr")) ...   // min_args 2, max_args 3
#include "weir/expr/functions.h"

#include <algorithm>

namespace weir::expr {
namespace {

constexpr ArgKind A = ArgKind::kAny;
constexpr ArgKind S = ArgKind::kString;
constexpr ArgKind N = ArgKind::kNumber;
constexpr ArgKind B = ArgKind::kBool;
constexpr ArgKind T = ArgKind::kTime;

constexpr FunctionDef kFunctions[] = {
    // strings
    {"lower", 1, 1, {S, S, S}, ResultRule::kFixed, Type::kString, FnLower, Special::kNone,
     "lower(s): s with ASCII letters in lower case"},
    {"upper", 1, 1, {S, S, S}, ResultRule::kFixed, Type::kString, FnUpper, Special::kNone,
     "upper(s): s with ASCII letters in upper case"},
    {"length", 1, 1, {S, S, S}, ResultRule::kFixed, Type::kInt, FnLength, Special::kNone,
     "length(s): number of characters (UTF-8 code points)"},
    {"trim", 1, 2, {S, S, S}, ResultRule::kFixed, Type::kString, FnTrim, Special::kNone,
     "trim(s[, chars]): s without leading and trailing whitespace (or any of chars)"},
    {"ltrim", 1, 2, {S, S, S}, ResultRule::kFixed, Type::kString, FnLtrim, Special::kNone,
     "ltrim(s[, chars]): s without leading whitespace (or any of chars)"},
    {"rtrim", 1, 2, {S, S, S}, ResultRule::kFixed, Type::kString, FnRtrim, Special::kNone,
     "rtrim(s[, chars]): s without trailing whitespace (or any of chars)"},
    {"substr", 2, 3, {S, N, N}, ResultRule::kFixed, Type::kString, FnSubstr, Special::kNone,
     "substr(s, start[, len]): len characters from the 1-based position start"},
    {"concat", 1, kVariadic, {A, A, A}, ResultRule::kFixed, Type::kString, FnConcat, Special::kNone,
     "concat(a, ...): the text of the arguments joined, NULLs skipped"},
    {"replace", 3, 3, {S, S, S}, ResultRule::kFixed, Type::kString, FnReplace, Special::kNone,
     "replace(s, from, to): s with every occurrence of from replaced by to"},
    {"starts_with", 2, 2, {S, S, S}, ResultRule::kFixed, Type::kBool, FnStartsWith, Special::kNone,
     "starts_with(s, prefix): whether s begins with prefix"},
    {"ends_with", 2, 2, {S, S, S}, ResultRule::kFixed, Type::kBool, FnEndsWith, Special::kNone,
     "ends_with(s, suffix): whether s ends with suffix"},
    {"contains", 2, 2, {S, S, S}, ResultRule::kFixed, Type::kBool, FnContains, Special::kNone,
     "contains(s, part): whether part occurs in s"},
    {"split_part", 3, 3, {S, S, N}, ResultRule::kFixed, Type::kString, FnSplitPart, Special::kNone,
     "split_part(s, delim, n): the n-th field of s split at delim (negative n counts from the end)"},
    // NULL handling
    {"coalesce", 1, kVariadic, {A, A, A}, ResultRule::kUnify, Type::kAny, nullptr, Special::kCoalesce,
     "coalesce(a, ...): the first argument that is not NULL"},
    {"nullif", 2, 2, {A, A, A}, ResultRule::kFirst, Type::kAny, FnNullif, Special::kNone,
     "nullif(a, b): NULL if a = b, else a"},
    {"if", 3, 3, {B, A, A}, ResultRule::kUnifyTail, Type::kAny, nullptr, Special::kIf,
     "if(cond, a, b): a when cond is TRUE, else b"},
    // math
    {"abs", 1, 1, {N, N, N}, ResultRule::kNumeric, Type::kNumber, FnAbs, Special::kNone,
     "abs(x): absolute value"},
    {"round", 1, 2, {N, N, N}, ResultRule::kRound, Type::kNumber, FnRound, Special::kNone,
     "round(x[, digits]): x rounded half away from zero to digits decimals (negative: tens, hundreds...)"},
    {"floor", 1, 1, {N, N, N}, ResultRule::kFloorCeil, Type::kNumber, FnFloor, Special::kNone,
     "floor(x): largest integral value not above x"},
    {"ceil", 1, 1, {N, N, N}, ResultRule::kFloorCeil, Type::kNumber, FnCeil, Special::kNone,
     "ceil(x): smallest integral value not below x"},
    {"sqrt", 1, 1, {N, N, N}, ResultRule::kFixed, Type::kDouble, FnSqrt, Special::kNone,
     "sqrt(x): square root; NULL for negative x"},
    {"ln", 1, 1, {N, N, N}, ResultRule::kFixed, Type::kDouble, FnLn, Special::kNone,
     "ln(x): natural logarithm; NULL for x <= 0"},
    {"log10", 1, 1, {N, N, N}, ResultRule::kFixed, Type::kDouble, FnLog10, Special::kNone,
     "log10(x): base-10 logarithm; NULL for x <= 0"},
    {"pow", 2, 2, {N, N, N}, ResultRule::kFixed, Type::kDouble, FnPow, Special::kNone,
     "pow(x, y): x to the power y; NULL when not a finite number"},
    {"greatest", 1, kVariadic, {A, A, A}, ResultRule::kUnify, Type::kAny, FnGreatest, Special::kNone,
     "greatest(a, ...): the largest argument, NULLs ignored"},
    {"least", 1, kVariadic, {A, A, A}, ResultRule::kUnify, Type::kAny, FnLeast, Special::kNone,
     "least(a, ...): the smallest argument, NULLs ignored"},
    // conversion
    {"to_number", 1, 1, {A, A, A}, ResultRule::kFixed, Type::kNumber, FnToNumber, Special::kNone,
     "to_number(x): x as a number (numeric strings parsed, booleans 1/0, timestamps epoch ms), else NULL"},
    {"to_string", 1, 1, {A, A, A}, ResultRule::kFixed, Type::kString, FnToString, Special::kNone,
     "to_string(x): the text form of x"},
    {"to_timestamp", 1, 1, {A, A, A}, ResultRule::kFixed, Type::kTimestamp, FnToTimestamp, Special::kNone,
     "to_timestamp(x): timestamp from an ISO-8601 string or epoch seconds/milliseconds, else NULL"},
    {"to_bool", 1, 1, {A, A, A}, ResultRule::kFixed, Type::kBool, FnToBool, Special::kNone,
     "to_bool(x): true/false from booleans, numbers (non-zero) and strings (true/false, yes/no, on/off, 1/0)"},
    // time
    {"year", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnYear, Special::kNone, "year(t): calendar year (UTC)"},
    {"month", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnMonth, Special::kNone, "month(t): 1..12"},
    {"day", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnDay, Special::kNone, "day(t): day of the month, 1..31"},
    {"hour", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnHour, Special::kNone, "hour(t): 0..23"},
    {"minute", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnMinute, Special::kNone, "minute(t): 0..59"},
    {"second", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnSecond, Special::kNone,
     "second(t): 0..59 (milliseconds dropped)"},
    {"day_of_week", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnDayOfWeek, Special::kNone,
     "day_of_week(t): 0 = Sunday .. 6 = Saturday"},
    {"day_of_year", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnDayOfYear, Special::kNone,
     "day_of_year(t): 1..366"},
    {"date_trunc", 2, 2, {S, T, T}, ResultRule::kFixed, Type::kTimestamp, FnDateTrunc, Special::kNone,
     "date_trunc(unit, t): t truncated to the start of its second/minute/hour/day/week/month/quarter/year"},
    {"epoch_ms", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kInt, FnEpochMs, Special::kNone,
     "epoch_ms(t): milliseconds since 1970-01-01T00:00:00Z"},
    {"format_date", 1, 1, {T, T, T}, ResultRule::kFixed, Type::kString, FnFormatDate, Special::kNone,
     "format_date(t): 'YYYY-MM-DD' (UTC)"},
};

constexpr std::string_view kAggregates[] = {"count", "sum",   "avg",  "min",            "max",
                                            "count_if", "sum_if", "first", "last", "count_distinct",
                                            "approx_distinct", "percentile", "top_k"};

}  // namespace

const FunctionDef* FindFunction(std::string_view name) {
  for (const FunctionDef& f : kFunctions)
    if (f.name == name) return &f;
  return nullptr;
}

std::span<const FunctionDef> AllFunctions() { return kFunctions; }

bool IsAggregateName(std::string_view name) {
  return std::find(std::begin(kAggregates), std::end(kAggregates), name) != std::end(kAggregates);
}

std::span<const std::string_view> AggregateNames() { return kAggregates; }

bool IsScalarFunction(std::string_view name) {
  if (name.size() > 32) return false;
  char lower[32];
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    lower[i] = c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return FindFunction(std::string_view(lower, name.size())) != nullptr;
}

}  // namespace weir::expr
