// The scalar function library (internal to weir::expr): one table of definitions that the
// compiler type-checks calls against and the evaluator calls through.
//
//   const FunctionDef* f = FindFunction("lower");
//   Value v = f->fn(args, 1, arena);
//
// Functions are pure and never fail: a NULL or unusable argument gives NULL (concat and
// coalesce skip NULLs). New strings go into the caller's arena.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "weir/expr/program.h"

namespace weir::expr {

/// What an argument must be, checked at compile time against the argument's static type.
enum class ArgKind : uint8_t {
  kAny,
  kString,  ///< a string
  kNumber,  ///< a number or a numeric string
  kBool,
  kTime,  ///< a timestamp, an ISO-8601 string or an epoch number
};

/// How the result type follows from the argument types.
enum class ResultRule : uint8_t {
  kFixed,      ///< always `result`
  kNumeric,    ///< int stays int (may overflow to double), double stays double (abs)
  kRound,      ///< round(int) is int; round(int, d) a number; doubles stay doubles
  kFloorCeil,  ///< floor/ceil of an int is that int; else double
  kUnify,      ///< the common type of all arguments (coalesce, greatest, least)
  kUnifyTail,  ///< the common type of arguments 2.. (if)
  kFirst,      ///< the type of the first argument (nullif)
};

/// Special forms that the compiler builds as instructions rather than calls.
enum class Special : uint8_t { kNone, kCoalesce, kIf };

inline constexpr uint8_t kVariadic = 255;

/// One scalar function.
struct FunctionDef {
  std::string_view name;
  uint8_t min_args;
  uint8_t max_args;  ///< kVariadic for no limit
  ArgKind kinds[3];  ///< kind of argument i; arguments past the third use kinds[2]
  ResultRule rule;
  Type result;
  ScalarFn fn;
  Special special;
  std::string_view summary;  ///< one line for docs and error hints

  ArgKind kind(size_t i) const { return kinds[i < 2 ? i : 2]; }
};

/// The definition of `name` (lower-case), or nullptr.
const FunctionDef* FindFunction(std::string_view name);
/// Every scalar function, in documentation order.
std::span<const FunctionDef> AllFunctions();
/// True for the aggregate names a metric's select may use (sum, count, ...).
bool IsAggregateName(std::string_view name);
/// Every aggregate name.
std::span<const std::string_view> AggregateNames();

/// Units date_trunc accepts: returns the truncation of `t`, or nullopt for an unknown unit.
std::optional<Timestamp> TruncateTime(std::string_view unit, Timestamp t);

// Implementations, grouped by file.
// string_functions.cc
Value FnLower(const Value* a, uint32_t n, Arena& arena);
Value FnUpper(const Value* a, uint32_t n, Arena& arena);
Value FnLength(const Value* a, uint32_t n, Arena& arena);
Value FnTrim(const Value* a, uint32_t n, Arena& arena);
Value FnLtrim(const Value* a, uint32_t n, Arena& arena);
Value FnRtrim(const Value* a, uint32_t n, Arena& arena);
Value FnSubstr(const Value* a, uint32_t n, Arena& arena);
Value FnConcat(const Value* a, uint32_t n, Arena& arena);
Value FnReplace(const Value* a, uint32_t n, Arena& arena);
Value FnStartsWith(const Value* a, uint32_t n, Arena& arena);
Value FnEndsWith(const Value* a, uint32_t n, Arena& arena);
Value FnContains(const Value* a, uint32_t n, Arena& arena);
Value FnSplitPart(const Value* a, uint32_t n, Arena& arena);
Value FnToString(const Value* a, uint32_t n, Arena& arena);
// math_functions.cc
Value FnNullif(const Value* a, uint32_t n, Arena& arena);
Value FnAbs(const Value* a, uint32_t n, Arena& arena);
Value FnRound(const Value* a, uint32_t n, Arena& arena);
Value FnFloor(const Value* a, uint32_t n, Arena& arena);
Value FnCeil(const Value* a, uint32_t n, Arena& arena);
Value FnSqrt(const Value* a, uint32_t n, Arena& arena);
Value FnLn(const Value* a, uint32_t n, Arena& arena);
Value FnLog10(const Value* a, uint32_t n, Arena& arena);
Value FnPow(const Value* a, uint32_t n, Arena& arena);
Value FnGreatest(const Value* a, uint32_t n, Arena& arena);
Value FnLeast(const Value* a, uint32_t n, Arena& arena);
Value FnToNumber(const Value* a, uint32_t n, Arena& arena);
Value FnToBool(const Value* a, uint32_t n, Arena& arena);
/// round(x, digits) on a double, half away from zero on the decimal digits as written.
double RoundDouble(double x, int64_t digits);
// time_functions.cc
Value FnToTimestamp(const Value* a, uint32_t n, Arena& arena);
Value FnYear(const Value* a, uint32_t n, Arena& arena);
Value FnMonth(const Value* a, uint32_t n, Arena& arena);
Value FnDay(const Value* a, uint32_t n, Arena& arena);
Value FnHour(const Value* a, uint32_t n, Arena& arena);
Value FnMinute(const Value* a, uint32_t n, Arena& arena);
Value FnSecond(const Value* a, uint32_t n, Arena& arena);
Value FnDayOfWeek(const Value* a, uint32_t n, Arena& arena);
Value FnDayOfYear(const Value* a, uint32_t n, Arena& arena);
Value FnDateTrunc(const Value* a, uint32_t n, Arena& arena);
Value FnEpochMs(const Value* a, uint32_t n, Arena& arena);
Value FnFormatDate(const Value* a, uint32_t n, Arena& arena);

}  // namespace weir::expr
