// Compiling and evaluating expressions over records.
//
//   struct MyScope : Scope { ... };                        // maps field paths to slots
//   auto program = Compile("amount * 1.2 > 100", scope);   // Result<Program, ParseError>
//   Value v = program->Eval(batch.row(i), arena);
//   program->EvalBatch(batch.values(), batch.width(), batch.size(), out, batch.arena());
//
// Semantics are SQL's: NULL propagates through arithmetic and comparisons; AND/OR use
// three-valued logic; a filter keeps a row only when its condition is TRUE. Integers stay
// integers under + - * % (overflow falls back to double); `/` always yields a double; division
// by zero yields NULL. A string that is wholly a number is taken as that number where a number
// is needed (CDC sources often send decimals as strings); otherwise a type mismatch at run time
// yields NULL. Type mismatches that are visible at compile time (`'a' * 2`, `NOT 5`,
// `lower(3)`, a wrong number of arguments, an unknown function) are compile errors that point
// at the column.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "weir/base/arena.h"
#include "weir/expr/ast.h"

namespace weir::expr {

/// Static type of an expression; kAny when only known at run time (fields).
enum class Type : uint8_t { kAny, kNull, kBool, kInt, kDouble, kNumber, kString, kTimestamp };
std::string_view TypeName(Type t);

/// Resolves names while compiling. Implemented by whoever owns the slots.
class Scope {
 public:
  virtual ~Scope() = default;
  /// Returns the slot holding `path` (and may create it), or an error message such as
  /// "unknown field 'amout'" when the name cannot be used here.
  virtual Result<uint32_t> ResolveField(std::string_view path) = 0;
  /// Called for every call node before function lookup, so that a scope can take over calls
  /// (a metric's select resolves aggregate calls such as sum(x) to the slot holding the
  /// aggregate's result). nullopt means "not mine, compile it as a scalar function".
  virtual Result<std::optional<uint32_t>> ResolveCall(const Node& call) { return std::nullopt; }
  /// Static type of a slot, if the scope knows it.
  virtual Type SlotType(uint32_t slot) { return Type::kAny; }
};

/// A compiled expression. Immutable after compilation; Eval may be called from many threads.
class Program {
 public:
  virtual ~Program() = default;
  /// Evaluates over one row (`row[slot]`). Strings made by the expression go into `arena`.
  virtual Value Eval(const Value* row, Arena& arena) const = 0;
  /// Evaluates over `n` rows laid out with `stride` Values each, writing out[i].
  virtual void EvalBatch(const Value* rows, size_t stride, size_t n, Value* out, Arena& arena) const;
  /// True when the value is TRUE (not NULL, not FALSE).
  virtual bool Test(const Value* row, Arena& arena) const {
    Value v = Eval(row, arena);
    return v.is_bool() && v.as_bool();
  }
  virtual Type type() const = 0;
  /// Slots read by the expression.
  virtual const std::vector<uint32_t>& slots() const = 0;
  /// True if the expression is a constant (no fields, no aggregate slots).
  virtual bool IsConstant() const = 0;
  /// The slot, when the expression is a bare field reference (`timestamp`); nullopt otherwise.
  virtual std::optional<uint32_t> FieldSlot() const { return std::nullopt; }
  /// For a filter of the shape `field = 'text'`: the field's slot and the text (owned by the
  /// program). Test is then true for a string value exactly when it equals the text; other
  /// values go through Test. nullopt for any other expression.
  virtual std::optional<std::pair<uint32_t, std::string_view>> FieldEqualsText() const { return std::nullopt; }
};

using ProgramPtr = std::unique_ptr<const Program>;

/// Parses and compiles `text`. Errors carry the 1-based column in `text`.
std::expected<ProgramPtr, ParseError> Compile(std::string_view text, Scope& scope);
/// Compiles an already parsed tree.
std::expected<ProgramPtr, ParseError> Compile(const Node& node, Scope& scope);

/// True if `name` is a scalar function the language knows.
bool IsScalarFunction(std::string_view name);

}  // namespace weir::expr
