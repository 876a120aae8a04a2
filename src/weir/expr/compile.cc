// The compiler: resolves names through the Scope, type-checks what is visible statically,
// folds constants, and lays the result out as a flat instruction array (program.h).
//
//   auto program = Compile("lower(currency) = 'usd' AND amount > 10", scope);
//   if (!program) report(program.error().message, program.error().column);
//
// Compilation goes through an intermediate tree (CExpr) so that folding can replace subtrees
// before anything is emitted; the emitted program holds only live instructions.
#include <algorithm>
#include <new>

#include <fmt/format.h>

#include "weir/expr/functions.h"
#include "weir/expr/program.h"

namespace weir::expr {

std::string_view TypeName(Type t) {
  switch (t) {
    case Type::kAny: return "any";
    case Type::kNull: return "null";
    case Type::kBool: return "boolean";
    case Type::kInt: return "integer";
    case Type::kDouble: return "double";
    case Type::kNumber: return "number";
    case Type::kString: return "string";
    case Type::kTimestamp: return "timestamp";
  }
  return "?";
}

namespace {

constexpr uint32_t kMaxCompileDepth = 1100;  // a little above the parser's limit

struct CExpr;
using CPtr = std::unique_ptr<CExpr>;

/// A node of the compile-time tree; becomes one Instr.
struct CExpr {
  Code code = Code::kConst;
  uint8_t flags = 0;
  Type type = Type::kAny;
  uint32_t column = 1;
  uint32_t slot = 0;
  Value k;
  ScalarFn fn = nullptr;
  const void* aux = nullptr;
  std::vector<CPtr> kids;
  bool is_const() const { return code == Code::kConst; }
};

Type TypeOf(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull: return Type::kNull;
    case ValueType::kBool: return Type::kBool;
    case ValueType::kInt: return Type::kInt;
    case ValueType::kDouble: return Type::kDouble;
    case ValueType::kString: return Type::kString;
    case ValueType::kTimestamp: return Type::kTimestamp;
    case ValueType::kJson: return Type::kAny;
  }
  return Type::kAny;
}

bool IsNumeric(Type t) { return t == Type::kInt || t == Type::kDouble || t == Type::kNumber; }
bool IsOpen(Type t) { return t == Type::kAny || t == Type::kNull; }

// The common type of values that may come out of several branches.
Type Unify(Type a, Type b) {
  if (a == Type::kNull) return b;
  if (b == Type::kNull || a == b) return a;
  if (IsNumeric(a) && IsNumeric(b)) return Type::kNumber;
  return Type::kAny;
}

std::string LiteralText(const Value& v) {
  if (v.is_null()) return "NULL";
  if (v.is_bool()) return v.as_bool() ? "TRUE" : "FALSE";
  if (v.is_string()) {
    std::string s = "'";
    std::string_view t = v.as_string();
    if (t.size() > 40) t = t.substr(0, 40);
    for (char c : t) {
      s += c;
      if (c == '\'') s += '\'';
    }
    return s + (v.as_string().size() > 40 ? "...'" : "'");
  }
  char buf[48];
  std::string_view t = TextOf(v, buf);
  return v.is_time() ? fmt::format("'{}'", t) : std::string(t);
}

// "string 'abc'", "integer 3", or just "boolean" for a non-constant.
std::string Describe(const CExpr& e) {
  if (e.is_const()) return e.k.is_null() ? "NULL" : fmt::format("{} {}", TypeName(e.type), LiteralText(e.k));
  return std::string(TypeName(e.type));
}

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kNeg: return "-";
    case Op::kNot: return "NOT";
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kMod: return "%";
    case Op::kConcat: return "||";
    case Op::kEq: return "=";
    case Op::kNe: return "!=";
    case Op::kLt: return "<";
    case Op::kLe: return "<=";
    case Op::kGt: return ">";
    case Op::kGe: return ">=";
    case Op::kAnd: return "AND";
    case Op::kOr: return "OR";
    case Op::kNone: break;
  }
  return "?";
}

Code CodeOf(Op op) {
  switch (op) {
    case Op::kNeg: return Code::kNeg;
    case Op::kNot: return Code::kNot;
    case Op::kAdd: return Code::kAdd;
    case Op::kSub: return Code::kSub;
    case Op::kMul: return Code::kMul;
    case Op::kDiv: return Code::kDiv;
    case Op::kMod: return Code::kMod;
    case Op::kConcat: return Code::kConcat;
    case Op::kEq: return Code::kEq;
    case Op::kNe: return Code::kNe;
    case Op::kLt: return Code::kLt;
    case Op::kLe: return Code::kLe;
    case Op::kGt: return Code::kGt;
    case Op::kGe: return Code::kGe;
    case Op::kAnd: return Code::kAnd;
    case Op::kOr: return Code::kOr;
    case Op::kNone: break;
  }
  return Code::kConst;
}

// a < b is b > a.
Code Mirror(Code c) {
  switch (c) {
    case Code::kLt: return Code::kGt;
    case Code::kLe: return Code::kGe;
    case Code::kGt: return Code::kLt;
    case Code::kGe: return Code::kLe;
    default: return c;
  }
}

bool IsComparison(Code c) { return c >= Code::kEq && c <= Code::kGe; }

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The function a misspelt or foreign name most likely meant, or "".
std::string Suggest(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kAliases[] = {
      {"substring", "substr"}, {"ceiling", "ceil"},    {"power", "pow"},         {"len", "length"},
      {"char_length", "length"}, {"ifnull", "coalesce"}, {"nvl", "coalesce"},    {"iif", "if"},
      {"lcase", "lower"},      {"ucase", "upper"},     {"date_format", "format_date"}, {"log", "ln"},
      {"strpos", "contains"},  {"instr", "contains"},  {"tostring", "to_string"}, {"cast", "to_number"},
  };
  for (auto [alias, target] : kAliases)
    if (name == alias) return std::string(target);
  size_t limit = name.size() <= 4 ? 1 : 2;
  std::string best;
  size_t best_d = limit + 1;
  auto consider = [&](std::string_view cand) {
    size_t d = EditDistance(name, cand);
    if (d < best_d) {
      best_d = d;
      best = std::string(cand);
    }
  };
  for (const FunctionDef& f : AllFunctions()) consider(f.name);
  for (std::string_view a : AggregateNames()) consider(a);
  return best;
}

std::string_view KindName(ArgKind k) {
  switch (k) {
    case ArgKind::kString: return "a string";
    case ArgKind::kNumber: return "a number";
    case ArgKind::kBool: return "a boolean";
    case ArgKind::kTime: return "a timestamp, an ISO-8601 string or an epoch number";
    case ArgKind::kAny: break;
  }
  return "a value";
}

/// Turns a Node tree into a CompiledProgram; one instance per Compile call.
class Compiler {
 public:
  Compiler(Scope& scope, CompiledProgram& prog) : scope_(scope), prog_(prog) {}

  ParseError error{"", 1};

  // The recursion is kept to this function and CompileKids, with small frames: the checks and
  // messages (large frames, more so under sanitizers) live in non-inlined builders that run
  // after the children are compiled. A 1000-level tree must fit comfortably in a thread's stack.
  CPtr Compile(const Node& n, uint32_t depth) {
    if (depth > kMaxCompileDepth) return Fail("expression is nested too deeply", n.column);
    if (n.kind == NodeKind::kLiteral) return Const(n.literal, n.column);
    if (n.kind == NodeKind::kField) return Field(n);
    const FunctionDef* def = nullptr;
    if (n.kind == NodeKind::kCall) {
      CPtr taken;
      if (!PrepareCall(n, taken, def)) return nullptr;
      if (taken) return taken;
    } else if (!ShapeOk(n)) {
      return Fail("malformed expression tree", n.column);
    }
    std::vector<CPtr> kids;
    if (!CompileKids(n, depth, kids)) return nullptr;
    return Build(n, def, std::move(kids));
  }

  // Lays `e` out in the program; returns its instruction index.
  uint32_t Emit(const CExpr& e) {
    std::vector<uint32_t> kid_idx;
    kid_idx.reserve(e.kids.size());
    for (const auto& k : e.kids) kid_idx.push_back(Emit(*k));
    Instr in;
    in.code = e.code;
    in.flags = e.flags;
    in.nkids = static_cast<uint32_t>(kid_idx.size());
    in.first = static_cast<uint32_t>(prog_.kids_.size());
    in.slot = e.slot;
    in.fn = e.fn;
    in.aux = e.aux;
    in.k = e.k;
    prog_.kids_.insert(prog_.kids_.end(), kid_idx.begin(), kid_idx.end());
    prog_.code_.push_back(in);
    if (e.code == Code::kSlot && std::find(prog_.slots_.begin(), prog_.slots_.end(), e.slot) == prog_.slots_.end())
      prog_.slots_.push_back(e.slot);
    return static_cast<uint32_t>(prog_.code_.size() - 1);
  }

 private:
  [[gnu::noinline]] CPtr Fail(std::string message, uint32_t column) {
    error = ParseError{std::move(message), column};
    return nullptr;
  }

  CPtr Make(Code code, Type type, uint32_t column) {
    auto e = std::make_unique<CExpr>();
    e->code = code;
    e->type = type;
    e->column = column;
    return e;
  }

  // A constant; strings are copied into the program's pool.
  [[gnu::noinline]] CPtr Const(const Value& v, uint32_t column) {
    auto e = Make(Code::kConst, TypeOf(v), column);
    e->k = v.is_string() ? Value::String(prog_.pool_.Copy(v.as_string()))
                         : (v.is_json() ? Value::Json(prog_.pool_.Copy(v.as_string())) : v);
    return e;
  }

  template <class T>
  T* PoolNew(const T& value) {
    void* p = prog_.pool_.Allocate(sizeof(T), alignof(T));
    return new (p) T(value);
  }

  const ConstOperand* Operand(const CExpr& e) { return e.is_const() ? PoolNew(MakeConstOperand(e.k)) : nullptr; }

  // Replaces a node whose kids are all constants by its value, computed by the evaluator itself
  // so that folding cannot disagree with run time.
  CPtr FoldIfConstant(CPtr e) {
    for (const auto& k : e->kids)
      if (!k->is_const()) return e;
    if (e->code == Code::kConst || e->code == Code::kSlot) return e;
    std::vector<Instr> code;
    std::vector<uint32_t> kids;
    for (const auto& k : e->kids) {
      Instr c;
      c.code = Code::kConst;
      c.k = k->k;
      kids.push_back(static_cast<uint32_t>(code.size()));
      code.push_back(c);
    }
    Instr in;
    in.code = e->code;
    in.flags = e->flags;
    in.nkids = static_cast<uint32_t>(kids.size());
    in.first = 0;
    in.fn = e->fn;
    in.aux = e->aux;
    in.k = e->k;
    code.push_back(in);
    Value v = RunInstr(code.data(), kids.data(), static_cast<uint32_t>(code.size() - 1), nullptr, prog_.pool_);
    return Const(v, e->column);
  }

  [[gnu::noinline]] CPtr Field(const Node& n) {
    auto slot = scope_.ResolveField(n.text);
    if (!slot) return Fail(slot.error().message, n.column);
    auto e = Make(Code::kSlot, scope_.SlotType(*slot), n.column);
    e->slot = *slot;
    return e;
  }

  bool CompileKids(const Node& n, uint32_t depth, std::vector<CPtr>& out) {
    out.reserve(n.children.size());
    for (const auto& c : n.children) {
      if (!c) {
        Fail("malformed expression tree", n.column);
        return false;
      }
      CPtr k = Compile(*c, depth + 1);
      if (!k) return false;
      out.push_back(std::move(k));
    }
    return true;
  }

  // Whether a node has the children its kind needs (trees not made by Parse may not).
  [[gnu::noinline]] static bool ShapeOk(const Node& n) {
    size_t k = n.children.size();
    switch (n.kind) {
      case NodeKind::kUnary:
      case NodeKind::kIsNull: return k == 1;
      case NodeKind::kBinary:
      case NodeKind::kLike: return k == 2;
      case NodeKind::kBetween: return k == 3;
      case NodeKind::kIn: return k >= 2;
      case NodeKind::kCase: {
        size_t e = n.has_else ? 1 : 0;
        return k > e && (k - e) % 2 == 0;
      }
      default: return true;
    }
  }

  [[gnu::noinline]] CPtr Build(const Node& n, const FunctionDef* def, std::vector<CPtr> kids) {
    switch (n.kind) {
      case NodeKind::kCall: return Call(n, *def, std::move(kids));
      case NodeKind::kUnary: return Unary(n, std::move(kids));
      case NodeKind::kBinary: return Binary(n, std::move(kids));
      case NodeKind::kIn: return In(n, std::move(kids));
      case NodeKind::kIsNull: return IsNull(n, std::move(kids));
      case NodeKind::kLike: return Like(n, std::move(kids));
      case NodeKind::kBetween: return Between(n, std::move(kids));
      case NodeKind::kCase: return Case(n, std::move(kids));
      default: break;
    }
    return Fail("malformed expression tree", n.column);
  }

  // ---- operand checks ----

  // A string constant where a number is needed: numeric text becomes the number now.
  bool NumericOperand(CExpr& e, std::string_view op_desc) {
    if (e.type == Type::kBool) {
      Fail(fmt::format("{} expects numbers, got {}", op_desc, Describe(e)), e.column);
      return false;
    }
    if (e.type == Type::kString && e.is_const()) {
      auto num = ParseNumber(e.k.as_string());
      if (!num) {
        Fail(fmt::format("{} expects numbers, got {}", op_desc, Describe(e)), e.column);
        return false;
      }
      e.k = *num;
      e.type = TypeOf(*num);
    }
    return true;
  }

  bool BoolOperand(const CExpr& e, std::string_view what) {
    if (IsOpen(e.type) || e.type == Type::kBool) return true;
    Fail(fmt::format("{} expects a boolean, got {}", what, Describe(e)), e.column);
    return false;
  }

  // Whether values of these static types can be compared; the error points at the constant.
  bool Comparable(const CExpr& a, const CExpr& b) {
    Type ta = a.type, tb = b.type;
    if (IsOpen(ta) || IsOpen(tb) || ta == tb || (IsNumeric(ta) && IsNumeric(tb))) return true;
    auto string_ok = [](const CExpr& s, Type other) {
      if (!s.is_const()) return true;
      if (IsNumeric(other)) return ParseNumber(s.k.as_string()).has_value();
      return ParseIso8601(s.k.as_string()).has_value();  // other is a timestamp
    };
    if (ta == Type::kString && (IsNumeric(tb) || tb == Type::kTimestamp) && string_ok(a, tb)) return true;
    if (tb == Type::kString && (IsNumeric(ta) || ta == Type::kTimestamp) && string_ok(b, ta)) return true;
    uint32_t col = (a.is_const() && !b.is_const()) ? a.column : b.column;
    Fail(fmt::format("cannot compare {} with {}", Describe(a), Describe(b)), col);
    return false;
  }

  // ---- node kinds ----

  static bool IsNullConst(const CPtr& e) { return e->is_const() && e->k.is_null(); }

  CPtr Unary(const Node& n, std::vector<CPtr> kids) {
    CExpr& x = *kids[0];
    CPtr e;
    if (n.op == Op::kNot) {
      if (!BoolOperand(x, "NOT")) return nullptr;
      e = Make(Code::kNot, Type::kBool, n.column);
    } else if (n.op == Op::kNeg) {
      if (x.type == Type::kTimestamp) return Fail("unary '-' cannot be applied to a timestamp", x.column);
      if (!NumericOperand(x, "unary '-'")) return nullptr;
      e = Make(Code::kNeg, x.type == Type::kDouble ? Type::kDouble : Type::kNumber, n.column);
    } else {
      return Fail("malformed expression tree", n.column);
    }
    if (IsNullConst(kids[0])) return Const(Value::Null(), n.column);
    e->kids = std::move(kids);
    return FoldIfConstant(std::move(e));
  }

  CPtr Binary(const Node& n, std::vector<CPtr> kids) {
    Code code = CodeOf(n.op);
    CExpr& a = *kids[0];
    CExpr& b = *kids[1];
    Type type;
    switch (code) {
      case Code::kAdd:
      case Code::kSub:
      case Code::kMul:
      case Code::kDiv:
      case Code::kMod: {
        auto t = ArithType(code, n.op, a, b);
        if (!t) return nullptr;
        type = *t;
        break;
      }
      case Code::kConcat: type = Type::kString; break;
      case Code::kEq:
      case Code::kNe:
      case Code::kLt:
      case Code::kLe:
      case Code::kGt:
      case Code::kGe:
        if (!Comparable(a, b)) return nullptr;
        type = Type::kBool;
        break;
      case Code::kAnd:
      case Code::kOr: {
        if (!BoolOperand(a, OpName(n.op)) || !BoolOperand(b, OpName(n.op))) return nullptr;
        // FALSE AND x is FALSE and TRUE OR x is TRUE whatever x is; TRUE AND x is x when x
        // is boolean (a non-boolean x would have made the AND NULL).
        bool is_and = code == Code::kAnd;
        for (int side = 0; side < 2; ++side) {
          CPtr& s = kids[side];
          CPtr& other = kids[1 - side];
          if (!s->is_const() || !s->k.is_bool()) continue;
          if (s->k.as_bool() != is_and) return Const(Value::Bool(!is_and), n.column);
          if (other->type == Type::kBool) return std::move(other);
        }
        type = Type::kBool;
        break;
      }
      default: return Fail("malformed expression tree", n.column);
    }
    // NULL in arithmetic, || or a comparison makes the result NULL whatever the other side is.
    if (code != Code::kAnd && code != Code::kOr && (IsNullConst(kids[0]) || IsNullConst(kids[1])))
      return Const(Value::Null(), n.column);
    auto e = Make(code, type, n.column);
    e->kids = std::move(kids);
    if (IsComparison(code)) {
      if (e->kids[0]->is_const() && !e->kids[1]->is_const()) {
        std::swap(e->kids[0], e->kids[1]);
        e->code = Mirror(code);
      }
      if (e->kids[1]->is_const()) {
        e->flags |= kRightConst;
        e->aux = Operand(*e->kids[1]);
      }
    }
    return FoldIfConstant(std::move(e));
  }

  std::optional<Type> ArithType(Code code, Op op, CExpr& a, CExpr& b) {
    std::string desc = fmt::format("operator '{}'", OpName(op));
    bool ta = a.type == Type::kTimestamp, tb = b.type == Type::kTimestamp;
    if (ta || tb) {
      // timestamp + number, number + timestamp, timestamp - number, timestamp - timestamp.
      // A field (static type any) may hold a timestamp too, so `field - timestamp` is fine.
      bool ok = (code == Code::kAdd && !(ta && tb)) || (code == Code::kSub && (ta || IsOpen(a.type)));
      if (!ok) {
        Fail(fmt::format("{} cannot be applied to {} and {}", desc, Describe(a), Describe(b)), ta ? a.column : b.column);
        return std::nullopt;
      }
      if (code == Code::kSub && tb) return Type::kInt;  // timestamp - timestamp (or NULL)
      CExpr& other = ta ? b : a;
      if (!NumericOperand(other, desc)) return std::nullopt;
      if (other.type == Type::kAny && code == Code::kSub) return Type::kAny;  // may be timestamp - timestamp
      return Type::kTimestamp;
    }
    if (!NumericOperand(a, desc) || !NumericOperand(b, desc)) return std::nullopt;
    if (a.type == Type::kNull || b.type == Type::kNull) return Type::kNull;
    if (code == Code::kDiv) return Type::kDouble;
    // A field may hold a timestamp, which + and - accept.
    if ((a.type == Type::kAny || b.type == Type::kAny) && (code == Code::kAdd || code == Code::kSub))
      return Type::kAny;
    if (a.type == Type::kDouble || b.type == Type::kDouble) return Type::kDouble;
    if (a.type == Type::kInt && b.type == Type::kInt) return code == Code::kMod ? Type::kInt : Type::kNumber;
    return Type::kNumber;
  }

  CPtr In(const Node& n, std::vector<CPtr> kids) {
    for (size_t i = 1; i < kids.size(); ++i)
      if (!Comparable(*kids[0], *kids[i])) return nullptr;
    if (IsNullConst(kids[0])) return Const(Value::Null(), n.column);
    auto e = Make(Code::kIn, Type::kBool, n.column);
    if (n.negated) e->flags |= kNegated;
    if (const InSet* set = MakeInSet(kids)) {
      e->flags |= kInSet;
      e->aux = set;
      e->kids = std::move(kids);
      return FoldIfConstant(std::move(e));
    }
    auto ops = static_cast<const ConstOperand**>(
        prog_.pool_.Allocate(sizeof(const ConstOperand*) * (kids.size() - 1), alignof(const ConstOperand*)));
    for (size_t i = 1; i < kids.size(); ++i) ops[i - 1] = Operand(*kids[i]);
    e->aux = ops;
    e->kids = std::move(kids);
    return FoldIfConstant(std::move(e));
  }

  // A long list of constants that are all plain strings or all integers becomes a sorted set;
  // for such lists, lookup and item-by-item comparison agree (see InSet).
  const InSet* MakeInSet(const std::vector<CPtr>& kids) {
    constexpr size_t kMinItems = 8;
    size_t n = kids.size() - 1;
    if (n < kMinItems) return nullptr;
    bool strings = true, ints = true;
    for (size_t i = 1; i < kids.size(); ++i) {
      const CExpr& k = *kids[i];
      if (!k.is_const()) return nullptr;
      ints = ints && k.k.is_int();
      strings = strings && k.k.is_string() && !ParseNumber(k.k.as_string()) && !ParseIso8601(k.k.as_string());
    }
    if (!strings && !ints) return nullptr;
    InSet set{strings ? InSet::kStrings : InSet::kInts, static_cast<uint32_t>(n), nullptr, nullptr};
    if (strings) {
      auto* a = static_cast<std::string_view*>(prog_.pool_.Allocate(sizeof(std::string_view) * n, alignof(std::string_view)));
      for (size_t i = 0; i < n; ++i) new (a + i) std::string_view(kids[i + 1]->k.as_string());
      std::sort(a, a + n);
      set.strs = a;
    } else {
      auto* a = static_cast<int64_t*>(prog_.pool_.Allocate(sizeof(int64_t) * n, alignof(int64_t)));
      for (size_t i = 0; i < n; ++i) a[i] = kids[i + 1]->k.as_int();
      std::sort(a, a + n);
      set.ints = a;
    }
    return PoolNew(set);
  }

  CPtr IsNull(const Node& n, std::vector<CPtr> kids) {
    auto e = Make(n.negated ? Code::kIsNotNull : Code::kIsNull, Type::kBool, n.column);
    e->kids = std::move(kids);
    return FoldIfConstant(std::move(e));
  }

  CPtr Like(const Node& n, std::vector<CPtr> kids) {
    for (const auto& k : kids)
      if (!IsOpen(k->type) && k->type != Type::kString)
        return Fail(fmt::format("LIKE expects strings, got {}", Describe(*k)), k->column);
    if (IsNullConst(kids[0]) || IsNullConst(kids[1])) return Const(Value::Null(), n.column);
    auto e = Make(Code::kLike, Type::kBool, n.column);
    if (n.negated) e->flags |= kNegated;
    if (kids[1]->is_const() && kids[1]->k.is_string()) {
      e->flags |= kConstPattern;
      e->aux = PoolNew(MakeLikePattern(kids[1]->k.as_string()));
    }
    e->kids = std::move(kids);
    return FoldIfConstant(std::move(e));
  }

  CPtr Between(const Node& n, std::vector<CPtr> kids) {
    if (!Comparable(*kids[0], *kids[1]) || !Comparable(*kids[0], *kids[2])) return nullptr;
    if (IsNullConst(kids[0])) return Const(Value::Null(), n.column);
    auto e = Make(Code::kBetween, Type::kBool, n.column);
    if (n.negated) e->flags |= kNegated;
    auto ops = static_cast<const ConstOperand**>(prog_.pool_.Allocate(sizeof(const ConstOperand*) * 2,
                                                                       alignof(const ConstOperand*)));
    ops[0] = Operand(*kids[1]);
    ops[1] = Operand(*kids[2]);
    e->aux = ops;
    e->kids = std::move(kids);
    return FoldIfConstant(std::move(e));
  }

  CPtr Case(const Node& n, std::vector<CPtr> kids) {
    size_t pairs = (kids.size() - (n.has_else ? 1 : 0)) / 2;
    for (size_t i = 0; i < pairs; ++i)
      if (!BoolOperand(*kids[2 * i], "WHEN")) return nullptr;
    return BuildCase(std::move(kids), n.has_else, n.column);
  }

  // CASE with constant conditions drops the branches that cannot be taken.
  CPtr BuildCase(std::vector<CPtr> kids, bool has_else, uint32_t column) {
    size_t pairs = (kids.size() - (has_else ? 1 : 0)) / 2;
    Type type = Type::kNull;
    for (size_t i = 0; i < pairs; ++i) type = Unify(type, kids[2 * i + 1]->type);
    if (has_else) type = Unify(type, kids.back()->type);
    std::vector<CPtr> live;
    bool closed = false;  // a constant TRUE condition ended the CASE early
    for (size_t i = 0; i < pairs && !closed; ++i) {
      CPtr& cond = kids[2 * i];
      if (cond->is_const()) {
        if (!(cond->k.is_bool() && cond->k.as_bool())) continue;  // never taken
        if (live.empty()) return std::move(kids[2 * i + 1]);     // always taken
        // Taken whenever reached: it becomes the ELSE.
        live.push_back(std::move(kids[2 * i + 1]));
        has_else = true;
        closed = true;
        continue;
      }
      live.push_back(std::move(cond));
      live.push_back(std::move(kids[2 * i + 1]));
    }
    if (has_else && !closed) live.push_back(std::move(kids.back()));
    if (live.size() <= 1) return live.empty() ? Const(Value::Null(), column) : std::move(live[0]);
    auto e = Make(Code::kCase, type, column);
    if (has_else) e->flags |= kHasElse;
    e->kids = std::move(live);
    return e;
  }

  // Before the arguments are compiled: the scope may take the call (then `taken` is set and
  // the arguments are the scope's business), else the function must exist with this arity.
  [[gnu::noinline]] bool PrepareCall(const Node& n, CPtr& taken, const FunctionDef*& def) {
    auto slot = scope_.ResolveCall(n);
    if (!slot) {
      Fail(slot.error().message, n.column);
      return false;
    }
    if (*slot) {
      taken = Make(Code::kSlot, scope_.SlotType(**slot), n.column);
      taken->slot = **slot;
      return true;
    }
    std::string name = n.text;
    for (char& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    def = FindFunction(name);
    if (!def) {
      if (IsAggregateName(name)) {
        std::string hint;
        if ((name == "min" || name == "max") && n.children.size() >= 2)
          hint = fmt::format("; to compare values use {}(...)", name == "min" ? "least" : "greatest");
        Fail(fmt::format("aggregate function '{}' is not allowed here{}", name, hint), n.column);
        return false;
      }
      std::string s = Suggest(name);
      if (s.empty()) Fail(fmt::format("unknown function '{}'", name), n.column);
      else Fail(fmt::format("unknown function '{}'; did you mean '{}'?", name, s), n.column);
      return false;
    }
    size_t argc = n.children.size();
    if (argc < def->min_args || (def->max_args != kVariadic && argc > def->max_args)) {
      std::string want;
      if (def->max_args == kVariadic) want = fmt::format("at least {}", def->min_args);
      else if (def->min_args == def->max_args) want = fmt::format("{}", def->min_args);
      else want = fmt::format("{} or {}", def->min_args, def->max_args);
      bool plural = !(def->min_args == 1 && (def->max_args == 1 || def->max_args == kVariadic));
      Fail(fmt::format("function '{}' takes {} argument{}, got {}", name, want, plural ? "s" : "", argc), n.column);
      return false;
    }
    return true;
  }

  CPtr Call(const Node& n, const FunctionDef& def, std::vector<CPtr> kids) {
    for (size_t i = 0; i < kids.size(); ++i)
      if (!ArgOk(def, i, *kids[i])) return nullptr;
    if (!ExtraChecks(def, kids)) return nullptr;
    Type type = ResultType(def, kids);
    if (def.special == Special::kIf) return BuildCase(std::move(kids), true, n.column);
    if (def.special == Special::kCoalesce) return Coalesce(std::move(kids), type, n.column);
    auto e = Make(Code::kCall, type, n.column);
    e->fn = def.fn;
    e->kids = std::move(kids);
    return FoldIfConstant(std::move(e));
  }

  bool ArgOk(const FunctionDef& def, size_t i, const CExpr& arg) {
    ArgKind kind = def.kind(i);
    Type t = arg.type;
    bool ok = true;
    switch (kind) {
      case ArgKind::kAny: break;
      case ArgKind::kString: ok = IsOpen(t) || t == Type::kString; break;
      case ArgKind::kBool: ok = IsOpen(t) || t == Type::kBool; break;
      case ArgKind::kNumber:
        ok = IsOpen(t) || IsNumeric(t) ||
             (t == Type::kString && (!arg.is_const() || ParseNumber(arg.k.as_string()).has_value()));
        break;
      case ArgKind::kTime:
        ok = IsOpen(t) || IsNumeric(t) || t == Type::kTimestamp ||
             (t == Type::kString && (!arg.is_const() || ToTimestamp(arg.k).has_value()));
        break;
    }
    if (ok) return true;
    Fail(fmt::format("argument {} of '{}' must be {}, got {}", i + 1, def.name, KindName(kind), Describe(arg)),
         arg.column);
    return false;
  }

  bool ExtraChecks(const FunctionDef& def, const std::vector<CPtr>& kids) {
    if (def.name == "date_trunc" && kids[0]->is_const() && kids[0]->k.is_string() &&
        !TruncateTime(kids[0]->k.as_string(), 0)) {
      Fail(fmt::format("unknown date_trunc unit {}; expected 'second', 'minute', 'hour', 'day', 'week', 'month', "
                       "'quarter' or 'year'",
                       LiteralText(kids[0]->k)),
           kids[0]->column);
      return false;
    }
    if (def.name == "nullif" || def.name == "greatest" || def.name == "least") {
      for (size_t i = 1; i < kids.size(); ++i)
        if (!Comparable(*kids[0], *kids[i])) return false;
    }
    return true;
  }

  Type ResultType(const FunctionDef& def, const std::vector<CPtr>& kids) {
    Type a0 = kids.empty() ? Type::kAny : kids[0]->type;
    switch (def.rule) {
      case ResultRule::kFixed: return def.result;
      case ResultRule::kNumeric: return a0 == Type::kDouble ? Type::kDouble : Type::kNumber;
      case ResultRule::kRound:
        if (a0 == Type::kDouble) return Type::kDouble;
        return a0 == Type::kInt && kids.size() == 1 ? Type::kInt : Type::kNumber;
      case ResultRule::kFloorCeil:
        return a0 == Type::kInt ? Type::kInt : (a0 == Type::kDouble ? Type::kDouble : Type::kNumber);
      case ResultRule::kUnify:
      case ResultRule::kUnifyTail: {
        Type t = Type::kNull;
        for (size_t i = def.rule == ResultRule::kUnifyTail ? 1 : 0; i < kids.size(); ++i) t = Unify(t, kids[i]->type);
        return t;
      }
      case ResultRule::kFirst: return a0;
    }
    return Type::kAny;
  }

  // coalesce without the arguments that cannot matter: NULL constants, and everything after
  // the first constant that is not NULL.
  CPtr Coalesce(std::vector<CPtr> kids, Type type, uint32_t column) {
    std::vector<CPtr> live;
    for (auto& k : kids) {
      if (k->is_const() && k->k.is_null()) continue;
      bool stop = k->is_const();
      live.push_back(std::move(k));
      if (stop) break;
    }
    if (live.empty()) return Const(Value::Null(), column);
    if (live.size() == 1) return std::move(live[0]);
    auto e = Make(Code::kCoalesce, type, column);
    e->kids = std::move(live);
    return e;
  }

  Scope& scope_;
  CompiledProgram& prog_;
};

}  // namespace

void CompiledProgram::NoteShape() {
  const Instr& r = code_[root_];
  if ((r.code != Code::kEq && r.code != Code::kNe) || !(r.flags & kRightConst)) return;
  const Instr& field = code_[kids_[r.first]];
  const ConstOperand& c = *static_cast<const ConstOperand*>(r.aux);
  if (field.code != Code::kSlot || !c.v.is_string()) return;
  eq_slot_ = field.slot;
  eq_text_ = c.v.as_string();
  eq_negated_ = r.code == Code::kNe;
}

std::expected<ProgramPtr, ParseError> Compile(const Node& node, Scope& scope) {
  auto prog = std::make_unique<CompiledProgram>();
  Compiler compiler(scope, *prog);
  CPtr root = compiler.Compile(node, 0);
  if (!root) return std::unexpected(std::move(compiler.error));
  prog->root_ = compiler.Emit(*root);
  prog->type_ = root->type;
  prog->scratch_need_ = BatchScratchNeed(prog->code_.data(), prog->kids_.data(), prog->root_);
  prog->NoteShape();
  return ProgramPtr(std::move(prog));
}

std::expected<ProgramPtr, ParseError> Compile(std::string_view text, Scope& scope) {
  auto ast = Parse(text);
  if (!ast) return std::unexpected(std::move(ast.error()));
  return Compile(**ast, scope);
}

}  // namespace weir::expr
