// Recursive-descent parser of the expression language (grammar in ast.h) and ToString.
//
//   auto ast = Parse("a + 1 > 2 AND NOT b");
//   if (!ast) fmt::print("{} at column {}", ast.error().message, ast.error().column);
//
// The parser bounds recursion and tree size so that hostile input (thousands of nested
// parentheses or a 100 000-term sum) fails with an error instead of exhausting the stack of the
// compiler, the evaluator or the tree's destructor.
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "weir/base/time.h"
#include "weir/expr/ast.h"
#include "weir/expr/lexer.h"

namespace weir::expr {
namespace {

constexpr uint32_t kMaxDepth = 1000;   // deepest tree (long AND/OR chains count one per term)
constexpr int kMaxNesting = 128;       // parentheses, NOT, unary minus, calls, CASE
constexpr size_t kMaxNodes = 200000;   // simple CASE copies its operand per WHEN

NodePtr NewNode(NodeKind kind, uint32_t column) {
  auto n = std::make_unique<Node>();
  n->kind = kind;
  n->column = column;
  return n;
}

// Copies a tree; string literals are re-pointed at the copy's own text.
NodePtr Clone(const Node& n) {
  auto c = NewNode(n.kind, n.column);
  c->op = n.op;
  c->negated = n.negated;
  c->has_else = n.has_else;
  c->text = n.text;
  c->literal = n.literal.is_string() && n.kind == NodeKind::kLiteral ? Value::String(c->text) : n.literal;
  c->children.reserve(n.children.size());
  for (const auto& ch : n.children) c->children.push_back(Clone(*ch));
  return c;
}

size_t CountNodes(const Node& n) {
  size_t k = 1;
  for (const auto& ch : n.children) k += CountNodes(*ch);
  return k;
}

// Display form of a token for "unexpected ..." messages.
std::string Describe(const Token& t) {
  auto clip = [](std::string_view s) {
    return s.size() > 24 ? fmt::format("{}...", s.substr(0, 24)) : std::string(s);
  };
  switch (t.kind) {
    case Tok::kEnd: return "end of expression";
    case Tok::kString: return fmt::format("string {}", clip(t.raw));
    case Tok::kInt:
    case Tok::kDecimal: return fmt::format("number {}", clip(t.raw));
    default: return fmt::format("'{}'", clip(t.raw));
  }
}

/// Recursive-descent parser over the token vector; one instance per Parse call.
class Parser {
 public:
  explicit Parser(std::string_view text) : toks_(Tokenize(text)) {}

  std::expected<NodePtr, ParseError> Run() {
    if (toks_.size() == 1 && toks_[0].kind == Tok::kEnd) return std::unexpected(ParseError{"empty expression", 1});
    Sub e;
    if (!ParseExpr(e)) return std::unexpected(std::move(err_));
    if (cur().kind == Tok::kError) return std::unexpected(ParseError{cur().value, cur().column});
    if (cur().kind != Tok::kEnd) {
      if (IsCmpStart()) Fail("comparisons cannot be chained; combine them with AND");
      else FailUnexpected();
      return std::unexpected(std::move(err_));
    }
    return std::move(e.node);
  }

 private:
  struct Sub {
    NodePtr node;
    uint32_t depth = 0;
  };

  const Token& cur() const { return toks_[pos_]; }
  const Token& peek(size_t k = 1) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  void advance() {
    if (pos_ + 1 < toks_.size()) ++pos_;
  }
  bool IsKw(std::string_view kw, size_t ahead = 0) const {
    const Token& t = peek(ahead);
    return t.kind == Tok::kIdent && KeywordIs(t.raw, kw);
  }
  bool Accept(Tok k) {
    if (cur().kind != k) return false;
    advance();
    return true;
  }
  bool AcceptKw(std::string_view kw) {
    if (!IsKw(kw)) return false;
    advance();
    return true;
  }

  // Error helpers stay out of line: the parser recurses through its Parse* functions once per
  // nesting level, and message formatting would otherwise bloat every one of those frames.

  // Records an error at the current token (a pending lexical error wins: it is what stopped us).
  [[gnu::noinline]] bool Fail(std::string message) { return FailAt(std::move(message), cur().column); }
  template <class... Args>
  [[gnu::noinline]] bool Failf(fmt::format_string<Args...> f, Args&&... args) {
    return Fail(fmt::format(f, std::forward<Args>(args)...));
  }
  /// "<expected>, found <current token>"
  [[gnu::noinline]] bool FailFound(std::string_view expected) {
    return Fail(fmt::format("{}, found {}", expected, Describe(cur())));
  }
  [[gnu::noinline]] bool FailUnexpected() { return Fail(fmt::format("unexpected {}", Describe(cur()))); }
  [[gnu::noinline]] bool FailAt(std::string message, uint32_t column) {
    if (cur().kind == Tok::kError && column >= cur().column) {
      err_ = ParseError{cur().value, cur().column};
    } else {
      err_ = ParseError{std::move(message), column};
    }
    return false;
  }

  bool IsCmpStart() const {
    switch (cur().kind) {
      case Tok::kEq:
      case Tok::kNe:
      case Tok::kLt:
      case Tok::kLe:
      case Tok::kGt:
      case Tok::kGe: return true;
      default: break;
    }
    return IsKw("IN") || IsKw("LIKE") || IsKw("BETWEEN") || IsKw("IS") ||
           (IsKw("NOT") && (IsKw("IN", 1) || IsKw("LIKE", 1) || IsKw("BETWEEN", 1)));
  }

  // Makes a node over `kids`, enforcing the depth and size limits.
  bool Make(NodeKind kind, Op op, uint32_t column, std::vector<Sub> kids, Sub& out, bool negated = false) {
    uint32_t depth = 0;
    for (auto& k : kids) depth = std::max(depth, k.depth);
    if (depth + 1 > kMaxDepth) return FailAt("expression is nested too deeply", column);
    if (++nodes_ > kMaxNodes) return FailAt("expression is too large", column);
    auto n = NewNode(kind, column);
    n->op = op;
    n->negated = negated;
    n->children.reserve(kids.size());
    for (auto& k : kids) n->children.push_back(std::move(k.node));
    out.node = std::move(n);
    out.depth = depth + 1;
    return true;
  }

  bool Leaf(NodePtr n, Sub& out) {
    if (++nodes_ > kMaxNodes) return FailAt("expression is too large", n->column);
    out.node = std::move(n);
    out.depth = 1;
    return true;
  }

  // Guards recursion that does not necessarily add a tree level (parentheses).
  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) { ++p.nesting_; }
    ~Nest() { --p.nesting_; }
    bool ok() {
      if (p.nesting_ <= kMaxNesting) return true;
      return p.Fail("expression is nested too deeply");
    }
  };

  bool ParseExpr(Sub& out) { return ParseOr(out); }

  bool ParseOr(Sub& out) {
    if (!ParseAnd(out)) return false;
    while (IsKw("OR")) {
      advance();
      Sub r;
      if (!ParseAnd(r)) return false;
      uint32_t col = out.node->column;
      if (!Make(NodeKind::kBinary, Op::kOr, col, Two(out, r), out)) return false;
    }
    return true;
  }

  bool ParseAnd(Sub& out) {
    if (!ParseNot(out)) return false;
    while (IsKw("AND")) {
      advance();
      Sub r;
      if (!ParseNot(r)) return false;
      uint32_t col = out.node->column;
      if (!Make(NodeKind::kBinary, Op::kAnd, col, Two(out, r), out)) return false;
    }
    return true;
  }

  bool ParseNot(Sub& out) {
    if (!IsKw("NOT")) return ParseCmp(out);
    uint32_t col = cur().column;
    advance();
    Nest nest(*this);
    if (!nest.ok()) return false;
    Sub operand;
    if (!ParseNot(operand)) return false;
    return Make(NodeKind::kUnary, Op::kNot, col, One(operand), out);
  }

  static std::vector<Sub> One(Sub& a) {
    std::vector<Sub> v;
    v.push_back(std::move(a));
    return v;
  }
  static std::vector<Sub> Two(Sub& a, Sub& b) {
    std::vector<Sub> v;
    v.push_back(std::move(a));
    v.push_back(std::move(b));
    return v;
  }

  bool ParseCmp(Sub& out) {
    if (!ParseAdd(out)) return false;
    if (!IsCmpStart() && !IsKw("NOT")) return true;
    return ParseCmpTail(out);
  }

  // The comparison after its left operand, out of line to keep ParseCmp's frame small.
  [[gnu::noinline]] bool ParseCmpTail(Sub& out) {
    uint32_t col = out.node->column;
    Op op = Op::kNone;
    switch (cur().kind) {
      case Tok::kEq: op = Op::kEq; break;
      case Tok::kNe: op = Op::kNe; break;
      case Tok::kLt: op = Op::kLt; break;
      case Tok::kLe: op = Op::kLe; break;
      case Tok::kGt: op = Op::kGt; break;
      case Tok::kGe: op = Op::kGe; break;
      default: break;
    }
    if (op != Op::kNone) {
      advance();
      Sub r;
      if (!ParseAdd(r)) return false;
      if (!Make(NodeKind::kBinary, op, col, Two(out, r), out)) return false;
      return NoChain();
    }
    bool negated = false;
    if (IsKw("NOT")) {
      if (!IsKw("IN", 1) && !IsKw("LIKE", 1) && !IsKw("BETWEEN", 1)) {
        advance();
        return FailFound("expected IN, LIKE or BETWEEN after NOT");
      }
      negated = true;
      advance();
    }
    if (AcceptKw("IN")) {
      if (cur().kind != Tok::kLParen) return FailFound("expected '(' after IN");
      uint32_t open = cur().column;
      advance();
      if (cur().kind == Tok::kRParen) return Fail("expected a value in the IN list");
      std::vector<Sub> kids;
      kids.push_back(std::move(out));
      while (true) {
        Sub item;
        if (!ParseExpr(item)) return false;
        kids.push_back(std::move(item));
        if (Accept(Tok::kComma)) continue;
        if (Accept(Tok::kRParen)) break;
        return Failf("expected ')' to close the IN list opened at column {}", open);
      }
      if (!Make(NodeKind::kIn, Op::kNone, col, std::move(kids), out, negated)) return false;
      return NoChain();
    }
    if (AcceptKw("LIKE")) {
      Sub pattern;
      if (!ParseAdd(pattern)) return false;
      if (!Make(NodeKind::kLike, Op::kNone, col, Two(out, pattern), out, negated)) return false;
      return NoChain();
    }
    if (AcceptKw("BETWEEN")) {
      Sub lo, hi;
      if (!ParseAdd(lo)) return false;
      if (!AcceptKw("AND"))
        return FailFound("expected AND after the lower bound of BETWEEN");
      if (!ParseAdd(hi)) return false;
      std::vector<Sub> kids;
      kids.push_back(std::move(out));
      kids.push_back(std::move(lo));
      kids.push_back(std::move(hi));
      if (!Make(NodeKind::kBetween, Op::kNone, col, std::move(kids), out, negated)) return false;
      return NoChain();
    }
    if (AcceptKw("IS")) {
      bool is_not = AcceptKw("NOT");
      if (!AcceptKw("NULL"))
        return FailFound(is_not ? "expected NULL after IS NOT" : "expected NULL after IS");
      if (!Make(NodeKind::kIsNull, Op::kNone, col, One(out), out, is_not)) return false;
      return NoChain();
    }
    return true;
  }

  bool NoChain() {
    if (IsCmpStart()) return Fail("comparisons cannot be chained; combine them with AND");
    return true;
  }

  bool ParseAdd(Sub& out) {
    if (!ParseMul(out)) return false;
    while (true) {
      Op op;
      switch (cur().kind) {
        case Tok::kPlus: op = Op::kAdd; break;
        case Tok::kMinus: op = Op::kSub; break;
        case Tok::kConcat: op = Op::kConcat; break;
        default: return true;
      }
      advance();
      Sub r;
      if (!ParseMul(r)) return false;
      uint32_t col = out.node->column;
      if (!Make(NodeKind::kBinary, op, col, Two(out, r), out)) return false;
    }
  }

  bool ParseMul(Sub& out) {
    if (!ParseUnary(out)) return false;
    while (true) {
      Op op;
      switch (cur().kind) {
        case Tok::kStar: op = Op::kMul; break;
        case Tok::kSlash: op = Op::kDiv; break;
        case Tok::kPercent: op = Op::kMod; break;
        default: return true;
      }
      advance();
      Sub r;
      if (!ParseUnary(r)) return false;
      uint32_t col = out.node->column;
      if (!Make(NodeKind::kBinary, op, col, Two(out, r), out)) return false;
    }
  }

  bool ParseUnary(Sub& out) {
    if (cur().kind != Tok::kMinus) return ParsePrimary(out);
    uint32_t col = cur().column;
    advance();
    // -9223372036854775808 is the smallest integer, although 9223372036854775808 alone is not one.
    if (cur().kind == Tok::kInt && cur().value.find_first_not_of('0') != std::string::npos &&
        cur().value.substr(cur().value.find_first_not_of('0')) == "9223372036854775808") {
      advance();
      auto n = NewNode(NodeKind::kLiteral, col);
      n->literal = Value::Int(std::numeric_limits<int64_t>::min());
      return Leaf(std::move(n), out);
    }
    Nest nest(*this);
    if (!nest.ok()) return false;
    Sub operand;
    if (!ParseUnary(operand)) return false;
    return Make(NodeKind::kUnary, Op::kNeg, col, One(operand), out);
  }

  // Parentheses are the recursive case and stay here; everything else is out of line.
  bool ParsePrimary(Sub& out) {
    if (cur().kind != Tok::kLParen) return ParseAtom(out);
    uint32_t col = cur().column;
    Nest nest(*this);
    if (!nest.ok()) return false;
    advance();
    if (!ParseExpr(out)) return false;
    if (!Accept(Tok::kRParen)) return Failf("expected ')' to close '(' opened at column {}", col);
    return true;
  }

  [[gnu::noinline]] bool ParseAtom(Sub& out) {
    const Token& t = cur();
    uint32_t col = t.column;
    switch (t.kind) {
      case Tok::kError: return FailAt(t.value, t.column);
      case Tok::kEnd: return Fail("unexpected end of expression");
      case Tok::kInt:
      case Tok::kDecimal: {
        auto n = NewNode(NodeKind::kLiteral, col);
        if (!NumberLiteral(t, n->literal)) return false;
        advance();
        return Leaf(std::move(n), out);
      }
      case Tok::kString: {
        auto n = NewNode(NodeKind::kLiteral, col);
        n->text = t.value;
        n->literal = Value::String(n->text);
        advance();
        return Leaf(std::move(n), out);
      }
      case Tok::kQuotedIdent: return ParsePath(out);
      case Tok::kIdent: break;
      default: return FailUnexpected();
    }
    if (KeywordIs(t.raw, "NULL") || KeywordIs(t.raw, "TRUE") || KeywordIs(t.raw, "FALSE")) {
      auto n = NewNode(NodeKind::kLiteral, col);
      if (!KeywordIs(t.raw, "NULL")) n->literal = Value::Bool(KeywordIs(t.raw, "TRUE"));
      advance();
      return Leaf(std::move(n), out);
    }
    if (KeywordIs(t.raw, "CASE")) return ParseCase(out);
    if (KeywordIs(t.raw, "INTERVAL")) return ParseInterval(out);
    if (IsReservedWord(t.raw)) return FailUnexpected();
    if (peek().kind == Tok::kLParen) return ParseCall(out);
    return ParsePath(out);
  }

  [[gnu::noinline]] bool NumberLiteral(const Token& t, Value& v) {
    const std::string& s = t.value;
    if (t.kind == Tok::kInt) {
      int64_t i;
      auto r = std::from_chars(s.data(), s.data() + s.size(), i);
      if (r.ec == std::errc() && r.ptr == s.data() + s.size()) {
        v = Value::Int(i);
        return true;
      }
    }
    // std::from_chars needs a leading digit; ".5" is written "0.5" for it.
    std::string d = s[0] == '.' ? "0" + s : s;
    double x;
    auto r = std::from_chars(d.data(), d.data() + d.size(), x);
    if (r.ec != std::errc() || r.ptr != d.data() + d.size() || !std::isfinite(x))
      return Failf("number {} is out of range", t.raw);
    v = Value::Double(x);
    return true;
  }

  [[gnu::noinline]] bool ParseInterval(Sub& out) {
    uint32_t col = cur().column;
    advance();
    if (cur().kind != Tok::kString)
      return FailFound("expected a duration in quotes after INTERVAL, such as INTERVAL '5m'");
    auto d = ParseDuration(cur().value);
    if (!d) return Failf("invalid INTERVAL: {}", d.error().message);
    advance();
    auto n = NewNode(NodeKind::kLiteral, col);
    n->literal = Value::Int(*d);
    return Leaf(std::move(n), out);
  }

  // ident ('.' ident)*; any word may follow a dot, keywords included.
  [[gnu::noinline]] bool ParsePath(Sub& out) {
    uint32_t col = cur().column;
    std::string path = cur().kind == Tok::kQuotedIdent ? cur().value : std::string(cur().raw);
    advance();
    while (cur().kind == Tok::kDot) {
      advance();
      if (cur().kind == Tok::kIdent) {
        path += '.';
        path += cur().raw;
      } else if (cur().kind == Tok::kQuotedIdent) {
        path += '.';
        path += cur().value;
      } else {
        return FailFound("expected a name after '.'");
      }
      advance();
    }
    if (cur().kind == Tok::kLParen && path.find('.') != std::string::npos)
      return Failf("'{}' cannot be called: function names have no '.'", path);
    auto n = NewNode(NodeKind::kField, col);
    n->text = std::move(path);
    return Leaf(std::move(n), out);
  }

  [[gnu::noinline]] bool ParseCall(Sub& out) {
    uint32_t col = cur().column;
    std::string name(cur().raw);
    for (char& c : name)
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    advance();  // name
    advance();  // (
    Nest nest(*this);
    if (!nest.ok()) return false;
    std::vector<Sub> args;
    if (cur().kind == Tok::kStar && peek().kind == Tok::kRParen) {
      if (name != "count") return Fail("'*' is only allowed in count(*)");
      advance();
      advance();
    } else if (!Accept(Tok::kRParen)) {
      while (true) {
        Sub a;
        if (!ParseExpr(a)) return false;
        args.push_back(std::move(a));
        if (Accept(Tok::kComma)) continue;
        if (Accept(Tok::kRParen)) break;
        return Failf("expected ')' after arguments of '{}'", name);
      }
    }
    if (args.empty()) {
      auto n = NewNode(NodeKind::kCall, col);
      n->text = std::move(name);
      return Leaf(std::move(n), out);
    }
    if (!Make(NodeKind::kCall, Op::kNone, col, std::move(args), out)) return false;
    out.node->text = std::move(name);
    return true;
  }

  [[gnu::noinline]] bool ParseCase(Sub& out) {
    uint32_t col = cur().column;
    advance();
    Nest nest(*this);
    if (!nest.ok()) return false;
    std::optional<Sub> operand;
    if (IsKw("END") || IsKw("THEN") || IsKw("ELSE") || cur().kind == Tok::kEnd)
      return FailFound("expected WHEN in CASE");
    if (!IsKw("WHEN")) {
      Sub x;
      if (!ParseExpr(x)) return false;
      operand = std::move(x);
    }
    if (!IsKw("WHEN"))
      return FailFound("expected WHEN in CASE");
    std::vector<Sub> kids;
    while (AcceptKw("WHEN")) {
      Sub cond;
      if (!ParseExpr(cond)) return false;
      if (operand) {
        // CASE x WHEN v THEN ... is CASE WHEN x = v THEN ...
        Sub x{Clone(*operand->node), operand->depth};
        nodes_ += CountNodes(*x.node);
        uint32_t vcol = cond.node->column;
        if (!Make(NodeKind::kBinary, Op::kEq, vcol, Two(x, cond), cond)) return false;
      }
      if (!AcceptKw("THEN")) return FailFound("expected THEN after the WHEN condition");
      Sub value;
      if (!ParseExpr(value)) return false;
      kids.push_back(std::move(cond));
      kids.push_back(std::move(value));
    }
    bool has_else = false;
    if (AcceptKw("ELSE")) {
      Sub e;
      if (!ParseExpr(e)) return false;
      kids.push_back(std::move(e));
      has_else = true;
    }
    if (!AcceptKw("END")) return Failf("expected END to close CASE opened at column {}", col);
    if (!Make(NodeKind::kCase, Op::kNone, col, std::move(kids), out)) return false;
    out.node->has_else = has_else;
    return true;
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int nesting_ = 0;
  size_t nodes_ = 0;
  ParseError err_{"", 1};
};

// ---- ToString -------------------------------------------------------------------------------

// Binding strength, loosest first; a child that binds more loosely than its slot needs parens.
enum Prec : int { kPOr = 1, kPAnd, kPNot, kPCmp, kPAdd, kPMul, kPUnary, kPPrimary };

int PrecOf(const Node& n) {
  switch (n.kind) {
    case NodeKind::kUnary: return n.op == Op::kNot ? kPNot : kPUnary;
    case NodeKind::kBinary:
      switch (n.op) {
        case Op::kOr: return kPOr;
        case Op::kAnd: return kPAnd;
        case Op::kAdd:
        case Op::kSub:
        case Op::kConcat: return kPAdd;
        case Op::kMul:
        case Op::kDiv:
        case Op::kMod: return kPMul;
        default: return kPCmp;
      }
    case NodeKind::kIn:
    case NodeKind::kIsNull:
    case NodeKind::kLike:
    case NodeKind::kBetween: return kPCmp;
    case NodeKind::kLiteral:
      // A negative number prints with a leading '-', which binds like unary minus.
      if ((n.literal.is_int() && n.literal.as_int() < 0) ||
          (n.literal.is_double() && std::signbit(n.literal.as_double())))
        return kPUnary;
      return kPPrimary;
    default: return kPPrimary;
  }
}

std::string_view OpText(Op op) {
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

void AppendQuoted(std::string& out, std::string_view s, char q) {
  out.push_back(q);
  for (char c : s) {
    out.push_back(c);
    if (c == q) out.push_back(q);
  }
  out.push_back(q);
}

bool IsPlainName(std::string_view s) {
  if (s.empty() || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

[[gnu::noinline]] void AppendLiteral(std::string& out, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull: out += "NULL"; break;
    case ValueType::kBool: out += v.as_bool() ? "TRUE" : "FALSE"; break;
    case ValueType::kInt: out += fmt::format("{}", v.as_int()); break;
    case ValueType::kDouble: {
      double d = v.as_double();
      if (!std::isfinite(d)) {
        out += std::isnan(d) ? "sqrt(-1)" : (d > 0 ? "pow(10, 400)" : "-pow(10, 400)");
        break;
      }
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      std::string_view s(buf, r.ptr - buf);
      out += s;
      // Keep it a decimal when read back: 2.0 must not turn into the integer 2.
      if (s.find_first_of(".e") == std::string_view::npos) out += ".0";
      break;
    }
    case ValueType::kString: AppendQuoted(out, v.as_string(), '\''); break;
    case ValueType::kTimestamp:
      out += "to_timestamp(";
      AppendQuoted(out, FormatIso8601(v.as_time()), '\'');
      out += ")";
      break;
    case ValueType::kJson: AppendQuoted(out, v.as_string(), '\''); break;
  }
}

// Write recurses once per tree level; the leaf and rare cases are out of line to keep its frame
// small (a 1000-level tree must print within a modest stack, sanitizers included).
void Write(std::string& out, const Node& n);

void WriteChild(std::string& out, const Node& child, int min_prec) {
  bool parens = PrecOf(child) < min_prec;
  if (parens) out += '(';
  Write(out, child);
  if (parens) out += ')';
}

void WriteKid(std::string& out, const Node& n, size_t i, int min_prec) {
  if (i < n.children.size() && n.children[i]) WriteChild(out, *n.children[i], min_prec);
  else out += "NULL";
}

[[gnu::noinline]] void WriteField(std::string& out, std::string_view path) {
  // A quoted name with an empty segment ("a." or "a..b") cannot be written part by part.
  if (path.empty() || path.front() == '.' || path.back() == '.' || path.find("..") != std::string_view::npos) {
    AppendQuoted(out, path, '`');
    return;
  }
  bool first = true;
  while (true) {
    size_t dot = path.find('.');
    std::string_view part = path.substr(0, dot);
    if (!first) out += '.';
    if (IsPlainName(part) && !IsReservedWord(part)) out += part;
    else AppendQuoted(out, part, '`');
    first = false;
    if (dot == std::string_view::npos) break;
    path.remove_prefix(dot + 1);
  }
}

[[gnu::noinline]] void WriteNeg(std::string& out, const Node& n) {
  out += '-';
  const Node* k = n.children.empty() ? nullptr : n.children[0].get();
  if (k && PrecOf(*k) >= kPUnary) {
    // "- -x", not "--x", which SQL tools read as a comment (and not "-(-x)", which would add a
    // nesting level that the source did not have).
    std::string operand;
    Write(operand, *k);
    if (!operand.empty() && operand[0] == '-') out += ' ';
    out += operand;
  } else {
    out += '(';
    if (k) Write(out, *k);
    out += ')';
  }
}

void WriteList(std::string& out, const Node& n, size_t from) {
  for (size_t i = from; i < n.children.size(); ++i) {
    if (i > from) out += ", ";
    if (n.children[i]) Write(out, *n.children[i]);
  }
}

[[gnu::noinline]] void WriteCase(std::string& out, const Node& n) {
  const auto& c = n.children;
  out += "CASE";
  size_t pairs = (c.size() - (n.has_else && !c.empty() ? 1 : 0)) / 2;
  for (size_t i = 0; i < pairs; ++i) {
    out += " WHEN ";
    WriteKid(out, n, 2 * i, 0);
    out += " THEN ";
    WriteKid(out, n, 2 * i + 1, 0);
  }
  if (n.has_else && !c.empty()) {
    out += " ELSE ";
    WriteKid(out, n, c.size() - 1, 0);
  }
  out += " END";
}

void Write(std::string& out, const Node& n) {
  switch (n.kind) {
    case NodeKind::kLiteral: AppendLiteral(out, n.literal); return;
    case NodeKind::kField: WriteField(out, n.text); return;
    case NodeKind::kCall:
      out += n.text;
      out += '(';
      WriteList(out, n, 0);
      out += ')';
      return;
    case NodeKind::kUnary:
      if (n.op != Op::kNot) return WriteNeg(out, n);
      out += "NOT ";
      WriteKid(out, n, 0, kPNot);
      return;
    case NodeKind::kBinary: {
      int p = PrecOf(n);
      // Left-associative: the right operand needs parens at equal strength; comparisons do
      // not chain, so both of their operands must bind tighter.
      WriteKid(out, n, 0, p == kPCmp ? kPAdd : p);
      out += ' ';
      out += OpText(n.op);
      out += ' ';
      WriteKid(out, n, 1, p == kPCmp ? kPAdd : p + 1);
      return;
    }
    case NodeKind::kIn:
      WriteKid(out, n, 0, kPAdd);
      out += n.negated ? " NOT IN (" : " IN (";
      WriteList(out, n, 1);
      out += ')';
      return;
    case NodeKind::kIsNull:
      WriteKid(out, n, 0, kPAdd);
      out += n.negated ? " IS NOT NULL" : " IS NULL";
      return;
    case NodeKind::kLike:
      WriteKid(out, n, 0, kPAdd);
      out += n.negated ? " NOT LIKE " : " LIKE ";
      WriteKid(out, n, 1, kPAdd);
      return;
    case NodeKind::kBetween:
      WriteKid(out, n, 0, kPAdd);
      out += n.negated ? " NOT BETWEEN " : " BETWEEN ";
      WriteKid(out, n, 1, kPAdd);
      out += " AND ";
      WriteKid(out, n, 2, kPAdd);
      return;
    case NodeKind::kCase: WriteCase(out, n); return;
  }
}

}  // namespace

std::expected<NodePtr, ParseError> Parse(std::string_view text) { return Parser(text).Run(); }

std::string ToString(const Node& node) {
  std::string out;
  Write(out, node);
  return out;
}

}  // namespace weir::expr
