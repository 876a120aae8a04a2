// The evaluator: a switch over instructions, per row (RunInstr) and per chunk of rows
// (RunInstrBatch, which evaluates each instruction for up to kBatchChunk rows at a time so that
// the dispatch and recursion are paid once per chunk instead of once per row).
//
//   Value v = program.Eval(row, arena);
//   program.EvalBatch(rows, width, n, out, arena);
#include <algorithm>
#include <cstring>
#include <vector>

#include "weir/expr/program.h"

namespace weir::expr {
namespace {

// `=` and `<>` of two strings: lengths first, as most unequal strings differ in length.
inline bool StringEquality(Code code, const Value& a, const Value& b, Value* out) {
  if ((code != Code::kEq && code != Code::kNe) || !a.is_string() || !b.is_string()) return false;
  std::string_view x = a.as_string(), y = b.as_string();
  bool eq = x.size() == y.size() && (x.empty() || std::memcmp(x.data(), y.data(), x.size()) == 0);
  *out = Value::Bool(code == Code::kEq ? eq : !eq);
  return true;
}

inline Value CmpToBool(Code code, Cmp c) {
  if (c == Cmp::kNull) return Value::Null();
  int x = static_cast<int>(c);
  switch (code) {
    case Code::kEq: return Value::Bool(x == 0);
    case Code::kNe: return Value::Bool(x != 0);
    case Code::kLt: return Value::Bool(x < 0);
    case Code::kLe: return Value::Bool(x <= 0);
    case Code::kGt: return Value::Bool(x > 0);
    default: return Value::Bool(x >= 0);
  }
}

inline bool IsFalse(const Value& v) { return v.is_bool() && !v.as_bool(); }
inline bool IsTrue(const Value& v) { return v.is_bool() && v.as_bool(); }

inline Value And3(const Value& a, const Value& b) {
  if (IsFalse(a) || IsFalse(b)) return Value::Bool(false);
  if (IsTrue(a) && IsTrue(b)) return Value::Bool(true);
  return Value::Null();
}

inline Value Or3(const Value& a, const Value& b) {
  if (IsTrue(a) || IsTrue(b)) return Value::Bool(true);
  if (IsFalse(a) && IsFalse(b)) return Value::Bool(false);
  return Value::Null();
}

inline Value Not3(const Value& v) { return v.is_bool() ? Value::Bool(!v.as_bool()) : Value::Null(); }

inline Value Negate(const Instr& in, Value v) { return (in.flags & kNegated) ? Not3(v) : v; }

inline Value LikeResult(const Instr& in, const Value& s, const Value& p) {
  if (!s.is_string()) return Value::Null();
  bool m;
  if (in.flags & kConstPattern) {
    m = static_cast<const LikePattern*>(in.aux)->Match(s.as_string());
  } else {
    if (!p.is_string()) return Value::Null();
    m = LikeMatch(s.as_string(), p.as_string());
  }
  return Value::Bool(m != ((in.flags & kNegated) != 0));
}

inline Value BetweenResult(const Instr& in, const Value& x, const Value& lo, const Value& hi) {
  auto cops = static_cast<const ConstOperand* const*>(in.aux);
  Cmp a = cops[0] ? CompareToConst(x, *cops[0]) : CompareValues(x, lo);
  Cmp b = cops[1] ? CompareToConst(x, *cops[1]) : CompareValues(x, hi);
  Value ge = a == Cmp::kNull ? Value::Null() : Value::Bool(a != Cmp::kLess);
  Value le = b == Cmp::kNull ? Value::Null() : Value::Bool(b != Cmp::kGreater);
  return Negate(in, And3(ge, le));
}

// Per-item comparison results of x IN (...): TRUE on a match, else NULL if any comparison was
// NULL, else FALSE.
struct InState {
  bool matched = false;
  bool saw_null = false;
  void Add(Cmp c) {
    if (c == Cmp::kEqual) matched = true;
    else if (c == Cmp::kNull) saw_null = true;
  }
  Value Result(const Instr& in) const {
    Value v = matched ? Value::Bool(true) : (saw_null ? Value::Null() : Value::Bool(false));
    return Negate(in, v);
  }
};

inline Value InSetResult(const Instr& in, const Value& x) {
  int r = static_cast<const InSet*>(in.aux)->Lookup(x);
  return Negate(in, r < 0 ? Value::Null() : Value::Bool(r == 1));
}

// Space for the arguments of a call: on the stack for the usual few, else in the arena.
inline Value* ArgSpace(Value (&local)[8], uint32_t n, Arena& arena) {
  if (n <= 8) return local;
  return static_cast<Value*>(arena.Allocate(sizeof(Value) * n, alignof(Value)));
}

Value CallRow(const Instr* code, const uint32_t* kids, const Instr& in, const Value* row, Arena& arena);

}  // namespace

Value RunInstr(const Instr* code, const uint32_t* kids, uint32_t i, const Value* row, Arena& arena) {
  const Instr& in = code[i];
  const uint32_t* k = kids + in.first;
  // Leaves (a field, a constant) are read here rather than through another call.
  auto run = [&](uint32_t j) {
    const Instr& c = code[k[j]];
    if (c.code == Code::kSlot) return row[c.slot];
    if (c.code == Code::kConst) return c.k;
    return RunInstr(code, kids, k[j], row, arena);
  };
  switch (in.code) {
    case Code::kConst: return in.k;
    case Code::kSlot: return row[in.slot];
    case Code::kNeg: return NegValue(run(0));
    case Code::kNot: return Not3(run(0));
    case Code::kAdd: return AddValues(run(0), run(1));
    case Code::kSub: return SubValues(run(0), run(1));
    case Code::kMul: return MulValues(run(0), run(1));
    case Code::kDiv: return DivValues(run(0), run(1));
    case Code::kMod: return ModValues(run(0), run(1));
    case Code::kConcat: {
      Value a = run(0);
      return ConcatValues(a, run(1), arena);
    }
    case Code::kEq:
    case Code::kNe:
    case Code::kLt:
    case Code::kLe:
    case Code::kGt:
    case Code::kGe: {
      Value a = run(0);
      Value eq;
      if (in.flags & kRightConst) {
        const ConstOperand& c = *static_cast<const ConstOperand*>(in.aux);
        if (StringEquality(in.code, a, c.v, &eq)) return eq;
        return CmpToBool(in.code, CompareToConst(a, c));
      }
      Value b = run(1);
      if (StringEquality(in.code, a, b, &eq)) return eq;
      return CmpToBool(in.code, CompareValues(a, b));
    }
    case Code::kAnd: {
      Value a = run(0);
      if (IsFalse(a)) return a;
      return And3(a, run(1));
    }
    case Code::kOr: {
      Value a = run(0);
      if (IsTrue(a)) return a;
      return Or3(a, run(1));
    }
    case Code::kIsNull: return Value::Bool(run(0).is_null());
    case Code::kIsNotNull: return Value::Bool(!run(0).is_null());
    case Code::kIn: {
      Value x = run(0);
      if (x.is_null()) return x;
      if (in.flags & kInSet) return InSetResult(in, x);
      auto cops = static_cast<const ConstOperand* const*>(in.aux);
      InState st;
      for (uint32_t j = 1; j < in.nkids && !st.matched; ++j)
        st.Add(cops[j - 1] ? CompareToConst(x, *cops[j - 1]) : CompareValues(x, run(j)));
      return st.Result(in);
    }
    case Code::kLike: {
      Value s = run(0);
      if (!s.is_string()) return Value::Null();
      return LikeResult(in, s, (in.flags & kConstPattern) ? Value() : run(1));
    }
    case Code::kBetween: {
      auto cops = static_cast<const ConstOperand* const*>(in.aux);
      Value x = run(0);
      if (x.is_null()) return x;
      Value lo = cops[0] ? Value() : run(1);
      Value hi = cops[1] ? Value() : run(2);
      return BetweenResult(in, x, lo, hi);
    }
    case Code::kCase: {
      uint32_t pairs = (in.nkids - ((in.flags & kHasElse) ? 1 : 0)) / 2;
      for (uint32_t j = 0; j < pairs; ++j)
        if (IsTrue(run(2 * j))) return run(2 * j + 1);
      return (in.flags & kHasElse) ? run(in.nkids - 1) : Value::Null();
    }
    case Code::kCoalesce:
      for (uint32_t j = 0; j < in.nkids; ++j) {
        Value v = run(j);
        if (!v.is_null()) return v;
      }
      return Value::Null();
    case Code::kCall: return CallRow(code, kids, in, row, arena);
  }
  return Value::Null();
}

namespace {
// Out of line so that RunInstr's frame, repeated at every level of a deep tree, stays small.
[[gnu::noinline]] Value CallRow(const Instr* code, const uint32_t* kids, const Instr& in, const Value* row,
                                Arena& arena) {
  Value local[8];
  Value* args = ArgSpace(local, in.nkids, arena);
  for (uint32_t j = 0; j < in.nkids; ++j) args[j] = RunInstr(code, kids, kids[in.first + j], row, arena);
  return in.fn(args, in.nkids, arena);
}
}  // namespace

// ---- batch evaluation ---------------------------------------------------------------------

namespace {

// Stores a Value computed in registers as two whole 8-byte words. A plain assignment lets GCC
// copy only the 13 meaningful bytes of a Value through a stack temporary with overlapping 8-byte
// moves, and the second, misaligned load cannot be forwarded from the stores that built the
// temporary: a store-forwarding stall on every row (measured 2-3x slower on `x + 1`).
inline void Put(Value* dst, const Value& v) {
  uint64_t w[2];
  std::memcpy(w, &v, sizeof w);
  std::memcpy(dst, w, sizeof w);
}
static_assert(sizeof(Value) == 16);

// Instructions whose batch form would evaluate work that the row form skips (branches of CASE,
// later COALESCE arguments) run row by row instead.
bool RowByRow(Code c) { return c == Code::kCase || c == Code::kCoalesce; }

// Kids that the batch form evaluates into buffers (constant operands are read from `aux`).
bool KidEvaluated(const Instr& in, uint32_t j) {
  switch (in.code) {
    case Code::kEq:
    case Code::kNe:
    case Code::kLt:
    case Code::kLe:
    case Code::kGt:
    case Code::kGe: return !(j == 1 && (in.flags & kRightConst));
    case Code::kLike: return !(j == 1 && (in.flags & kConstPattern));
    case Code::kIn:
      return j == 0 || (!(in.flags & kInSet) && static_cast<const ConstOperand* const*>(in.aux)[j - 1] == nullptr);
    case Code::kBetween: return j == 0 || static_cast<const ConstOperand* const*>(in.aux)[j - 1] == nullptr;
    default: return true;
  }
}

// Calls a function per row on arguments already evaluated into scratch buffers.
[[gnu::noinline]] void CallBatch(const Instr& in, const Value* scratch, size_t n, Value* out, Arena& arena) {
  Value local[8];
  Value* args = ArgSpace(local, in.nkids, arena);
  for (size_t r = 0; r < n; ++r) {
    for (uint32_t j = 0; j < in.nkids; ++j) args[j] = scratch[j * kBatchChunk + r];
    Put(&out[r], in.fn(args, in.nkids, arena));
  }
}

void ApplyBatch(const Instr& in, const Value* rows, size_t stride, size_t n, Value* out, Arena& arena,
                const Value* scratch);

}  // namespace

uint32_t BatchScratchNeed(const Instr* code, const uint32_t* kids, uint32_t i) {
  const Instr& in = code[i];
  if (RowByRow(in.code)) return 0;
  uint32_t need = 0;
  for (uint32_t j = 0; j < in.nkids; ++j)
    if (KidEvaluated(in, j)) need = std::max(need, j + 1 + BatchScratchNeed(code, kids, kids[in.first + j]));
  return need;
}

void RunInstrBatch(const Instr* code, const uint32_t* kids, uint32_t i, const Value* rows, size_t stride,
                   size_t n, Value* out, Arena& arena, Value* scratch) {
  const Instr& in = code[i];
  const uint32_t* k = kids + in.first;
  if (RowByRow(in.code)) {
    for (size_t r = 0; r < n; ++r) Put(&out[r], RunInstr(code, kids, i, rows + r * stride, arena));
    return;
  }
  // Kid j's values go to scratch buffer j; kid j evaluates with the scratch after the first
  // j + 1 buffers.
  for (uint32_t j = 0; j < in.nkids; ++j) {
    if (KidEvaluated(in, j))
      RunInstrBatch(code, kids, k[j], rows, stride, n, scratch + j * kBatchChunk, arena,
                    scratch + (j + 1) * kBatchChunk);
  }
  ApplyBatch(in, rows, stride, n, out, arena, scratch);
}

namespace {

// The per-instruction loops of RunInstrBatch, out of line so that the recursive frame stays
// small for deep trees.
[[gnu::noinline]] void ApplyBatch(const Instr& in, const Value* rows, size_t stride, size_t n, Value* out,
                                  Arena& arena, const Value* scratch) {
  auto buf = [&](uint32_t j) { return scratch + j * kBatchChunk; };
  const Value* a = in.nkids > 0 ? buf(0) : nullptr;
  const Value* b = in.nkids > 1 && KidEvaluated(in, 1) ? buf(1) : nullptr;
  switch (in.code) {
    case Code::kConst:
      std::fill(out, out + n, in.k);
      return;
    case Code::kSlot:
      for (size_t r = 0; r < n; ++r) Put(&out[r], rows[r * stride + in.slot]);
      return;
    case Code::kNeg:
      for (size_t r = 0; r < n; ++r) Put(&out[r], NegValue(a[r]));
      return;
    case Code::kNot:
      for (size_t r = 0; r < n; ++r) Put(&out[r], Not3(a[r]));
      return;
    case Code::kAdd:
      for (size_t r = 0; r < n; ++r) Put(&out[r], AddValues(a[r], b[r]));
      return;
    case Code::kSub:
      for (size_t r = 0; r < n; ++r) Put(&out[r], SubValues(a[r], b[r]));
      return;
    case Code::kMul:
      for (size_t r = 0; r < n; ++r) Put(&out[r], MulValues(a[r], b[r]));
      return;
    case Code::kDiv:
      for (size_t r = 0; r < n; ++r) Put(&out[r], DivValues(a[r], b[r]));
      return;
    case Code::kMod:
      for (size_t r = 0; r < n; ++r) Put(&out[r], ModValues(a[r], b[r]));
      return;
    case Code::kConcat:
      for (size_t r = 0; r < n; ++r) Put(&out[r], ConcatValues(a[r], b[r], arena));
      return;
    case Code::kEq:
    case Code::kNe:
    case Code::kLt:
    case Code::kLe:
    case Code::kGt:
    case Code::kGe:
      if (in.flags & kRightConst) {
        const ConstOperand& c = *static_cast<const ConstOperand*>(in.aux);
        for (size_t r = 0; r < n; ++r) {
          Value eq;
          Put(&out[r], StringEquality(in.code, a[r], c.v, &eq) ? eq : CmpToBool(in.code, CompareToConst(a[r], c)));
        }
      } else {
        for (size_t r = 0; r < n; ++r) {
          Value eq;
          Put(&out[r], StringEquality(in.code, a[r], b[r], &eq) ? eq : CmpToBool(in.code, CompareValues(a[r], b[r])));
        }
      }
      return;
    case Code::kAnd:
      for (size_t r = 0; r < n; ++r) Put(&out[r], And3(a[r], b[r]));
      return;
    case Code::kOr:
      for (size_t r = 0; r < n; ++r) Put(&out[r], Or3(a[r], b[r]));
      return;
    case Code::kIsNull:
      for (size_t r = 0; r < n; ++r) Put(&out[r], Value::Bool(a[r].is_null()));
      return;
    case Code::kIsNotNull:
      for (size_t r = 0; r < n; ++r) Put(&out[r], Value::Bool(!a[r].is_null()));
      return;
    case Code::kIn: {
      if (in.flags & kInSet) {
        for (size_t r = 0; r < n; ++r) Put(&out[r], a[r].is_null() ? Value::Null() : InSetResult(in, a[r]));
        return;
      }
      auto cops = static_cast<const ConstOperand* const*>(in.aux);
      for (size_t r = 0; r < n; ++r) {
        if (a[r].is_null()) {
          Put(&out[r], Value::Null());
          continue;
        }
        InState st;
        for (uint32_t j = 1; j < in.nkids && !st.matched; ++j)
          st.Add(cops[j - 1] ? CompareToConst(a[r], *cops[j - 1]) : CompareValues(a[r], buf(j)[r]));
        Put(&out[r], st.Result(in));
      }
      return;
    }
    case Code::kLike:
      if (in.flags & kConstPattern) {
        for (size_t r = 0; r < n; ++r) Put(&out[r], LikeResult(in, a[r], Value()));
      } else {
        for (size_t r = 0; r < n; ++r) Put(&out[r], LikeResult(in, a[r], b[r]));
      }
      return;
    case Code::kBetween: {
      auto cops = static_cast<const ConstOperand* const*>(in.aux);
      for (size_t r = 0; r < n; ++r) {
        if (a[r].is_null()) {
          Put(&out[r], Value::Null());
          continue;
        }
        Put(&out[r], BetweenResult(in, a[r], cops[0] ? Value() : buf(1)[r], cops[1] ? Value() : buf(2)[r]));
      }
      return;
    }
    case Code::kCall: return CallBatch(in, scratch, n, out, arena);
    case Code::kCase:
    case Code::kCoalesce: break;  // handled row by row in RunInstrBatch
  }
}

}  // namespace

void CompiledProgram::EvalBatch(const Value* rows, size_t stride, size_t n, Value* out, Arena& arena) const {
  const Instr& root = code_[root_];
  if (root.code == Code::kConst) {
    std::fill(out, out + n, root.k);
    return;
  }
  if (root.code == Code::kSlot) {
    for (size_t r = 0; r < n; ++r) out[r] = rows[r * stride + root.slot];
    return;
  }
  // One scratch area per thread, grown to the largest program it has run: no allocation per
  // batch once warm, and Eval* stays callable from many threads at once.
  thread_local std::vector<Value> scratch;
  size_t need = static_cast<size_t>(scratch_need_) * kBatchChunk;
  if (scratch.size() < need) scratch.resize(need);
  for (size_t done = 0; done < n; done += kBatchChunk) {
    size_t m = std::min(kBatchChunk, n - done);
    RunInstrBatch(code_.data(), kids_.data(), root_, rows + done * stride, stride, m, out + done, arena,
                  scratch.data());
  }
}

void Program::EvalBatch(const Value* rows, size_t stride, size_t n, Value* out, Arena& arena) const {
  for (size_t r = 0; r < n; ++r) out[r] = Eval(rows + r * stride, arena);
}

}  // namespace weir::expr
