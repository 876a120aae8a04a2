// Compiled form of an expression (internal to weir::expr): a flat array of instructions that
// form a tree, evaluated by a switch (RunInstr) one row at a time or a chunk of rows at a time.
//
//   // built by Compile() in compile.cc; evaluated in eval.cc
//   Value v = RunInstr(code, kids, root, row, arena);
//
// Everything an instruction points to (constant strings, LIKE patterns, pre-parsed constant
// operands) lives in the program's pool arena, so evaluation never allocates except for the
// strings an expression makes, which go into the caller's arena.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "weir/base/arena.h"
#include "weir/expr/expr.h"
#include "weir/expr/value_ops.h"

namespace weir::expr {

/// A scalar function: evaluated arguments in, result out; new strings go into `arena`.
using ScalarFn = Value (*)(const Value* args, uint32_t n, Arena& arena);

enum class Code : uint8_t {
  kConst,  ///< `k`
  kSlot,   ///< row[slot]
  kNeg,
  kNot,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kConcat,
  kEq,  ///< comparisons: with kRightConst, kid 1 is not evaluated; `aux` is its ConstOperand
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAnd,
  kOr,
  kIsNull,
  kIsNotNull,
  kIn,        ///< kid 0 IN kids 1..; `aux` is an array of ConstOperand* (null for non-constants),
              ///< or with kInSet an InSet (kids 1.. are not evaluated)
  kLike,      ///< with kConstPattern, `aux` is a LikePattern and kid 1 is not evaluated
  kBetween,   ///< `aux` is ConstOperand*[2] for the bounds (null for non-constants)
  kCase,      ///< when0, then0, ..., [else]
  kCoalesce,  ///< first non-NULL kid, evaluated lazily
  kCall,      ///< fn(kids...)
};

enum InstrFlag : uint8_t {
  kNegated = 1,
  kRightConst = 2,
  kHasElse = 4,
  kConstPattern = 8,
  kInSet = 16,
};

/// One instruction; its children are kids[first .. first + nkids).
struct Instr {
  Code code = Code::kConst;
  uint8_t flags = 0;
  uint32_t nkids = 0;
  uint32_t first = 0;
  uint32_t slot = 0;
  ScalarFn fn = nullptr;
  const void* aux = nullptr;
  Value k;
};

/// Evaluates instruction `i` over one row.
Value RunInstr(const Instr* code, const uint32_t* kids, uint32_t i, const Value* row, Arena& arena);

/// Rows evaluated together by RunInstrBatch.
inline constexpr size_t kBatchChunk = 256;

/// Scratch Values RunInstrBatch needs under instruction `i`, in units of kBatchChunk.
uint32_t BatchScratchNeed(const Instr* code, const uint32_t* kids, uint32_t i);

/// Evaluates instruction `i` over rows[r * stride] for r < n (n <= kBatchChunk) into out[r].
/// `scratch` holds BatchScratchNeed(i) * kBatchChunk Values.
void RunInstrBatch(const Instr* code, const uint32_t* kids, uint32_t i, const Value* rows, size_t stride,
                   size_t n, Value* out, Arena& arena, Value* scratch);

/// The Program that Compile returns.
class CompiledProgram final : public Program {
 public:
  Value Eval(const Value* row, Arena& arena) const override {
    return RunInstr(code_.data(), kids_.data(), root_, row, arena);
  }
  void EvalBatch(const Value* rows, size_t stride, size_t n, Value* out, Arena& arena) const override;
  /// A filter of the form `field = 'text'` (or `<>`) over a string value is tested directly.
  bool Test(const Value* row, Arena& arena) const override {
    if (eq_slot_ != kNoSlot && row[eq_slot_].is_string()) {
      std::string_view s = row[eq_slot_].as_string();
      bool eq = s.size() == eq_text_.size() && (s.empty() || std::memcmp(s.data(), eq_text_.data(), s.size()) == 0);
      return eq != eq_negated_;
    }
    Value v = Eval(row, arena);
    return v.is_bool() && v.as_bool();
  }
  std::optional<std::pair<uint32_t, std::string_view>> FieldEqualsText() const override {
    if (eq_slot_ == kNoSlot || eq_negated_) return std::nullopt;
    return std::pair<uint32_t, std::string_view>(eq_slot_, eq_text_);
  }
  /// Called once compiled: notes the `field = 'text'` shape for Test.
  void NoteShape();
  Type type() const override { return type_; }
  const std::vector<uint32_t>& slots() const override { return slots_; }
  bool IsConstant() const override { return code_[root_].code == Code::kConst; }
  std::optional<uint32_t> FieldSlot() const override {
    if (code_[root_].code != Code::kSlot) return std::nullopt;
    return code_[root_].slot;
  }

  std::vector<Instr> code_;
  std::vector<uint32_t> kids_;
  uint32_t root_ = 0;
  uint32_t scratch_need_ = 0;
  Type type_ = Type::kAny;
  std::vector<uint32_t> slots_;
  Arena pool_{4096};  ///< constant strings, patterns, pre-parsed operands
  static constexpr uint32_t kNoSlot = UINT32_MAX;
  uint32_t eq_slot_ = kNoSlot;  ///< `field = 'text'`: the field's slot (see Test)
  std::string_view eq_text_;    ///< … and the text (in pool_)
  bool eq_negated_ = false;     ///< `<>` rather than `=`
};

}  // namespace weir::expr
