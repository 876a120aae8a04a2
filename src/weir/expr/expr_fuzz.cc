// libFuzzer target for the expression language: parses, prints, compiles and evaluates
// arbitrary text. It must never crash, and it traps when an invariant breaks:
//   - ToString of a parsed tree parses again (within the nesting limit), to the same text;
//   - EvalBatch agrees with Eval.
//
// Not built by CMake yet. It needs a clang whose C++23 mode provides std::expected with our
// libstdc++ (Debian 12's clang 14 does not). To run it, from the repository root:
//   clang++ -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined -Isrc -o expr_fuzz
//       src/weir/expr/expr_fuzz.cc src/weir/model/value.cc src/weir/base/time.cc
//       $(ls src/weir/expr/*.cc | grep -v -e _test -e _fuzz) -lfmt
//   ./expr_fuzz -max_len=512
// expr_fuzz_test.cc includes this file and feeds it generated input, so that it stays compiled.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "weir/base/hash.h"
#include "weir/expr/ast.h"
#include "weir/expr/expr.h"
#include "weir/model/value.h"

namespace weir::expr::fuzz {

/// Row width of the fuzz scope; the last two slots hold "aggregate" results.
inline constexpr uint32_t kWidth = 12;

/// Accepts every field (hashed onto a slot) except names starting with "no", and takes over
/// sum(...), count(...) and avg(...) as aggregate slots, as a metric's select would.
class PermissiveScope : public Scope {
 public:
  Result<uint32_t> ResolveField(std::string_view path) override {
    if (path.starts_with("no")) return Fail("unknown field '{}'", path);
    return static_cast<uint32_t>(Hash64(path) % (kWidth - 2));
  }
  Result<std::optional<uint32_t>> ResolveCall(const Node& call) override {
    if (call.text == "sum" || call.text == "avg") return std::optional<uint32_t>(kWidth - 2);
    if (call.text == "count") return std::optional<uint32_t>(kWidth - 1);
    return std::optional<uint32_t>();
  }
  Type SlotType(uint32_t slot) override { return slot == kWidth - 1 ? Type::kInt : Type::kAny; }
};

/// One value of every kind, including the awkward ones.
inline const Value* FixedRow() {
  static const Value row[kWidth] = {
      Value::Int(7),
      Value::Double(-2.5),
      Value::String("Hello, World"),
      Value::Null(),
      Value::Bool(true),
      Value::String("42"),
      Value::Time(1771237800123),
      Value::Int(INT64_MIN),
      Value::String("2026-02-16T10:30:00Z"),
      Value::Json("{\"a\":[1,2]}"),
      Value::Double(1e308),
      Value::Int(3),
  };
  return row;
}

inline bool Same(const Value& a, const Value& b) {
  if (a.is_double() && b.is_double() && a.as_double() != a.as_double() && b.as_double() != b.as_double())
    return true;  // NaN
  return a.IdenticalTo(b);
}

/// Runs one input through every stage; returns true if it compiled.
inline bool RunOne(std::string_view text) {
  auto ast = Parse(text);
  if (ast) {
    std::string printed = ToString(**ast);
    auto again = Parse(printed);
    // Printing may add parentheses the source did not need to write (CASE a = b WHEN ... is
    // printed as (a = b) = ...), which can cross the nesting limit; anything else must round-trip.
    if (!again ? again.error().message != "expression is nested too deeply" : ToString(**again) != printed)
      __builtin_trap();
  }
  PermissiveScope scope;
  auto program = Compile(text, scope);
  if (!program) return false;
  const Program& p = **program;
  Arena arena(4096);
  const Value* row = FixedRow();
  Value v = p.Eval(row, arena);
  (void)p.Test(row, arena);
  Value rows[3 * kWidth];
  for (size_t r = 0; r < 3; ++r)
    for (uint32_t c = 0; c < kWidth; ++c) rows[r * kWidth + c] = row[(c + r) % kWidth];
  Value out[3];
  p.EvalBatch(rows, kWidth, 3, out, arena);
  if (!Same(out[0], v)) __builtin_trap();
  for (size_t r = 1; r < 3; ++r)
    if (!Same(out[r], p.Eval(rows + r * kWidth, arena))) __builtin_trap();
  return true;
}

}  // namespace weir::expr::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  weir::expr::fuzz::RunOne(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
