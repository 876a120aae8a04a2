// Tests of the lexer, parser and ToString: precedence, associativity, every construct, and
// every syntax error with its column.
#include <gtest/gtest.h>

#include "weir/expr/ast.h"
#include "weir/expr/lexer.h"

namespace weir::expr {
namespace {

std::string Canon(std::string_view text) {
  auto ast = Parse(text);
  if (!ast) return "ERROR: " + ast.error().message;
  return ToString(**ast);
}

// Fully parenthesized form, to see the tree shape independently of ToString's choices.
std::string Shape(const Node& n) {
  auto kids = [&](std::string_view sep) {
    std::string s;
    for (size_t i = 0; i < n.children.size(); ++i) {
      if (i) s += sep;
      s += Shape(*n.children[i]);
    }
    return s;
  };
  switch (n.kind) {
    case NodeKind::kLiteral:
    case NodeKind::kField: return ToString(n);
    case NodeKind::kCall: return n.text + "(" + kids(", ") + ")";
    case NodeKind::kUnary: return std::string(n.op == Op::kNot ? "NOT" : "-") + "{" + Shape(*n.children[0]) + "}";
    case NodeKind::kBinary: {
      static const char* kOps[] = {"", "", "", "+", "-", "*", "/", "%", "||", "=", "!=", "<", "<=", ">", ">=", "AND", "OR"};
      return "[" + Shape(*n.children[0]) + " " + kOps[static_cast<int>(n.op)] + " " + Shape(*n.children[1]) + "]";
    }
    case NodeKind::kIn: return std::string(n.negated ? "NOTIN" : "IN") + "(" + kids(", ") + ")";
    case NodeKind::kIsNull: return std::string(n.negated ? "NOTNULL" : "ISNULL") + "(" + kids(", ") + ")";
    case NodeKind::kLike: return std::string(n.negated ? "NOTLIKE" : "LIKE") + "(" + kids(", ") + ")";
    case NodeKind::kBetween: return std::string(n.negated ? "NOTBETWEEN" : "BETWEEN") + "(" + kids(", ") + ")";
    case NodeKind::kCase: return std::string("CASE") + (n.has_else ? "E" : "") + "(" + kids(", ") + ")";
  }
  return "?";
}

std::string ShapeOf(std::string_view text) {
  auto ast = Parse(text);
  if (!ast) return "ERROR: " + ast.error().message;
  return Shape(**ast);
}

TEST(Lexer, TokenKindsAndColumns) {
  auto toks = Tokenize("a.b >= 1.5e3 || 'it''s' <> `x y`");
  std::vector<Tok> kinds;
  for (const auto& t : toks) kinds.push_back(t.kind);
  EXPECT_EQ(kinds, (std::vector<Tok>{Tok::kIdent, Tok::kDot, Tok::kIdent, Tok::kGe, Tok::kDecimal, Tok::kConcat,
                                     Tok::kString, Tok::kNe, Tok::kQuotedIdent, Tok::kEnd}));
  EXPECT_EQ(toks[3].column, 5u);
  EXPECT_EQ(toks[4].value, "1.5e3");
  EXPECT_EQ(toks[6].value, "it's");
  EXPECT_EQ(toks[8].value, "x y");
  EXPECT_EQ(toks[8].column, 28u);
  EXPECT_EQ(toks[9].column, 33u);
}

TEST(Lexer, DotAfterNameIsNotADecimal) {
  auto toks = Tokenize("x.5 .5");
  EXPECT_EQ(toks[0].kind, Tok::kIdent);
  EXPECT_EQ(toks[1].kind, Tok::kDot);
  EXPECT_EQ(toks[2].kind, Tok::kInt);
  EXPECT_EQ(toks[3].kind, Tok::kDecimal);
}

TEST(Parser, Precedence) {
  struct Case {
    const char* text;
    const char* shape;
  } cases[] = {
      {"a + b * c", "[a + [b * c]]"},
      {"a * b + c", "[[a * b] + c]"},
      {"a - b - c", "[[a - b] - c]"},
      {"a / b / c", "[[a / b] / c]"},
      {"a - (b - c)", "[a - [b - c]]"},
      {"a || b || c", "[[a || b] || c]"},
      {"a + b || c", "[[a + b] || c]"},
      {"-a * b", "[-{a} * b]"},
      {"- - a", "-{-{a}}"},
      {"a % b * c", "[[a % b] * c]"},
      {"a = b + 1", "[a = [b + 1]]"},
      {"a OR b AND c", "[a OR [b AND c]]"},
      {"a AND b OR c", "[[a AND b] OR c]"},
      {"a OR b OR c", "[[a OR b] OR c]"},
      {"NOT a = b", "NOT{[a = b]}"},
      {"NOT a AND b", "[NOT{a} AND b]"},
      {"NOT NOT a", "NOT{NOT{a}}"},
      {"a < b AND c >= d", "[[a < b] AND [c >= d]]"},
      {"a + 1 IN (1, 2 + 3)", "IN([a + 1], 1, [2 + 3])"},
      {"a NOT IN (1)", "NOTIN(a, 1)"},
      {"a LIKE 'x%' || 'y'", "LIKE(a, ['x%' || 'y'])"},
      {"a NOT LIKE b", "NOTLIKE(a, b)"},
      {"a BETWEEN 1 AND 2 AND b", "[BETWEEN(a, 1, 2) AND b]"},
      {"a NOT BETWEEN b - 1 AND b + 1", "NOTBETWEEN(a, [b - 1], [b + 1])"},
      {"a IS NULL OR b IS NOT NULL", "[ISNULL(a) OR NOTNULL(b)]"},
      {"a + b IS NULL", "ISNULL([a + b])"},
      {"(a OR b) AND c", "[[a OR b] AND c]"},
      {"f(a, b + 1)", "f(a, [b + 1])"},
      {"count(*)", "count()"},
      {"count()", "count()"},
      {"CASE WHEN a THEN 1 WHEN b THEN 2 ELSE 3 END", "CASEE(a, 1, b, 2, 3)"},
      {"CASE WHEN a THEN 1 END", "CASE(a, 1)"},
      {"CASE x WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", "CASE([x = 1], 'one', [x = 2], 'two')"},
      {"CASE x + 1 WHEN 1 THEN 2 ELSE 3 END", "CASEE([[x + 1] = 1], 2, 3)"},
  };
  for (const auto& c : cases) EXPECT_EQ(ShapeOf(c.text), c.shape) << c.text;
}

TEST(Parser, Literals) {
  std::vector<decltype(Parse(""))> keep;  // a string literal points into its tree
  auto lit = [&keep](std::string_view text) -> Value {
    auto& ast = keep.emplace_back(Parse(text));
    EXPECT_TRUE(ast) << text;
    if (!ast) return Value();
    EXPECT_EQ((*ast)->kind, NodeKind::kLiteral) << text;
    return (*ast)->literal;
  };
  EXPECT_TRUE(lit("42").IdenticalTo(Value::Int(42)));
  EXPECT_TRUE(lit("007").IdenticalTo(Value::Int(7)));
  EXPECT_TRUE(lit("1.5").IdenticalTo(Value::Double(1.5)));
  EXPECT_TRUE(lit(".5").IdenticalTo(Value::Double(0.5)));
  EXPECT_TRUE(lit("2.").IdenticalTo(Value::Double(2.0)));
  EXPECT_TRUE(lit("1e3").IdenticalTo(Value::Double(1000)));
  EXPECT_TRUE(lit("2.5E-1").IdenticalTo(Value::Double(0.25)));
  EXPECT_TRUE(lit("9223372036854775807").IdenticalTo(Value::Int(INT64_MAX)));
  EXPECT_TRUE(lit("9223372036854775808").IdenticalTo(Value::Double(9223372036854775808.0)));
  EXPECT_TRUE(lit("-9223372036854775808").IdenticalTo(Value::Int(INT64_MIN)));
  EXPECT_EQ(lit("'it''s'").as_string(), "it's");
  EXPECT_EQ(lit("''").as_string(), "");
  EXPECT_TRUE(lit("TRUE").IdenticalTo(Value::Bool(true)));
  EXPECT_TRUE(lit("false").IdenticalTo(Value::Bool(false)));
  EXPECT_TRUE(lit("Null").is_null());
  EXPECT_TRUE(lit("INTERVAL '5m'").IdenticalTo(Value::Int(300000)));
  EXPECT_TRUE(lit("interval '1h30m'").IdenticalTo(Value::Int(5400000)));
  EXPECT_TRUE(lit("INTERVAL '250ms'").IdenticalTo(Value::Int(250)));
}

TEST(Parser, StringLiteralPointsIntoNodeText) {
  auto ast = Parse("'abc'");
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->literal.as_string().data(), (*ast)->text.data());
}

TEST(Parser, Paths) {
  auto ast = Parse("properties.amount");
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->kind, NodeKind::kField);
  EXPECT_EQ((*ast)->text, "properties.amount");
  ast = Parse("`user id`.`first-name`.x");
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->text, "user id.first-name.x");
  ast = Parse("a.end.count");  // any word may follow a dot
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->text, "a.end.count");
  ast = Parse("`select`");
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->text, "select");
  ast = Parse("`a``b`");
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->text, "a`b");
}

TEST(Parser, KeywordsAreCaseInsensitive) {
  EXPECT_EQ(ShapeOf("a and b Or not c"), "[[a AND b] OR NOT{c}]");
  EXPECT_EQ(ShapeOf("a iS nOt NuLl"), "NOTNULL(a)");
  EXPECT_EQ(ShapeOf("a not in (1) and b like 'x' and c between 1 and 2"),
            "[[NOTIN(a, 1) AND LIKE(b, 'x')] AND BETWEEN(c, 1, 2)]");
  EXPECT_EQ(ShapeOf("case when a then b else c end"), "CASEE(a, b, c)");
}

TEST(Parser, CallNamesAreLowerCased) {
  auto ast = Parse("LOWER(x)");
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->kind, NodeKind::kCall);
  EXPECT_EQ((*ast)->text, "lower");
  EXPECT_EQ((*ast)->column, 1u);
}

TEST(Parser, Columns) {
  auto ast = Parse("  a + lower(b)");
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->column, 3u);
  EXPECT_EQ((*ast)->children[0]->column, 3u);
  EXPECT_EQ((*ast)->children[1]->column, 7u);
  EXPECT_EQ((*ast)->children[1]->children[0]->column, 13u);
  ast = Parse("NOT x");
  ASSERT_TRUE(ast);
  EXPECT_EQ((*ast)->column, 1u);
  EXPECT_EQ((*ast)->children[0]->column, 5u);
}

TEST(Parser, ToStringRoundTrips) {
  const char* cases[] = {
      "a + b * c",
      "(a + b) * c",
      "a - (b - c)",
      "a - b - c",
      "-(a + b)",
      "-(-a)",
      "- -5",
      "NOT (a AND b)",
      "NOT a = b",
      "(a = b) = c",
      "a = (b = c)",
      "a || 'it''s'",
      "`user id` = 1 AND `select`.x = 2",
      "x IN (1, 'a', NULL)",
      "x NOT BETWEEN 1 AND (2 = 3)",
      "(a LIKE b) LIKE c",
      "(a IS NULL) IS NOT NULL",
      "CASE WHEN a > 1 THEN 'x' WHEN b THEN 'y' ELSE NULL END",
      "f(g(1, 2.5), TRUE, FALSE)",
      "2.0 * 1e300",
      "count(*) + sum(x)",
      "-9223372036854775808",
      "a / b % c * d",
  };
  for (const char* text : cases) {
    std::string once = Canon(text);
    ASSERT_EQ(once.rfind("ERROR", 0), std::string::npos) << text << ": " << once;
    EXPECT_EQ(Canon(once), once) << text;
    EXPECT_EQ(ShapeOf(once), ShapeOf(text)) << text;
  }
  EXPECT_EQ(Canon("a+b*c"), "a + b * c");
  EXPECT_EQ(Canon("(a+b)*c"), "(a + b) * c");
  EXPECT_EQ(Canon("a <> b"), "a != b");
  EXPECT_EQ(Canon("a == b"), "a = b");
  EXPECT_EQ(Canon("count(*)"), "count()");
  EXPECT_EQ(Canon("2."), "2.0");
  EXPECT_EQ(Canon("`a b`.c"), "`a b`.c");
  EXPECT_EQ(Canon("`end`"), "`end`");
  EXPECT_EQ(Canon("INTERVAL '1m'"), "60000");
  EXPECT_EQ(Canon("case x when 1 then 2 end"), "CASE WHEN x = 1 THEN 2 END");
  EXPECT_EQ(Canon("CASE a = b WHEN TRUE THEN 1 END"), "CASE WHEN (a = b) = TRUE THEN 1 END");
  EXPECT_EQ(Canon("- - a"), "- -a");
  EXPECT_EQ(Canon("-(a * b)"), "-(a * b)");
  EXPECT_EQ(Canon("-f(x)"), "-f(x)");
  EXPECT_EQ(Canon("`a.`"), "`a.`");
  EXPECT_EQ(Canon("`a..b`.c"), "`a..b.c`");
}

TEST(Parser, ToStringOfBuiltTrees) {
  Node lit;
  lit.kind = NodeKind::kLiteral;
  lit.literal = Value::Int(-5);
  EXPECT_EQ(ToString(lit), "-5");
  Node neg;
  neg.kind = NodeKind::kUnary;
  neg.op = Op::kNeg;
  neg.children.push_back(std::make_unique<Node>(std::move(lit)));
  EXPECT_EQ(ToString(neg), "- -5");
  Node t;
  t.kind = NodeKind::kLiteral;
  t.literal = Value::Time(0);
  EXPECT_EQ(ToString(t), "to_timestamp('1970-01-01T00:00:00.000Z')");
}

struct ErrorCase {
  const char* text;
  const char* message;
  uint32_t column;
};

TEST(Parser, Errors) {
  const ErrorCase cases[] = {
      {"", "empty expression", 1},
      {"   ", "empty expression", 1},
      {"a = 'abc", "unterminated string literal", 5},
      {"'it''s", "unterminated string literal", 1},
      {"`abc", "unterminated quoted name `...`", 1},
      {"``", "empty quoted name ``", 1},
      {"(a + b", "expected ')' to close '(' opened at column 1", 7},
      {"f((a + b) * 2", "expected ')' after arguments of 'f'", 14},
      {"x * (1 + (2 * 3)", "expected ')' to close '(' opened at column 5", 17},
      {"round(x 2)", "expected ')' after arguments of 'round'", 9},
      {"a FROM b", "unexpected 'FROM'", 3},
      {"a b", "unexpected 'b'", 3},
      {"a +", "unexpected end of expression", 4},
      {"a + * b", "unexpected '*'", 5},
      {"a = )", "unexpected ')'", 5},
      {"1 2", "unexpected number 2", 3},
      {"a 'x'", "unexpected string 'x'", 3},
      {"a = AND b", "unexpected 'AND'", 5},
      {"a = b = c", "comparisons cannot be chained; combine them with AND", 7},
      {"a < b IS NULL", "comparisons cannot be chained; combine them with AND", 7},
      {"a IN (1) IN (2)", "comparisons cannot be chained; combine them with AND", 10},
      {"a IN 1", "expected '(' after IN, found number 1", 6},
      {"a IN ()", "expected a value in the IN list", 7},
      {"a IN (1, 2", "expected ')' to close the IN list opened at column 6", 11},
      {"a NOT b", "expected IN, LIKE or BETWEEN after NOT, found 'b'", 7},
      {"a BETWEEN 1 OR 2", "expected AND after the lower bound of BETWEEN, found 'OR'", 13},
      {"a IS 5", "expected NULL after IS, found number 5", 6},
      {"a IS NOT TRUE", "expected NULL after IS NOT, found 'TRUE'", 10},
      {"CASE END", "expected WHEN in CASE, found 'END'", 6},
      {"CASE WHEN a 1 END", "expected THEN after the WHEN condition, found number 1", 13},
      {"CASE WHEN a THEN 1", "expected END to close CASE opened at column 1", 19},
      {"x + CASE WHEN a THEN 1 ELSE 2 x", "expected END to close CASE opened at column 5", 31},
      {"INTERVAL 5", "expected a duration in quotes after INTERVAL, such as INTERVAL '5m', found number 5", 10},
      {"INTERVAL 'parsecs'", "invalid INTERVAL: invalid duration 'parsecs'", 10},
      {"INTERVAL '5'", "invalid INTERVAL: duration '5' has no unit", 10},
      {"a.", "expected a name after '.', found end of expression", 3},
      {"a.5", "expected a name after '.', found number 5", 3},
      {"a.b(1)", "'a.b' cannot be called: function names have no '.'", 4},
      {"sum(*)", "'*' is only allowed in count(*)", 5},
      {"a # b", "unexpected character '#'", 3},
      {"a ! b", "unexpected '!'; use NOT for negation and != for inequality", 3},
      {"a | b", "unexpected '|'; use OR for logic and || to concatenate strings", 3},
      {"a && b", "unexpected '&'; use AND", 3},
      {"a = \"x\"", "unexpected '\"'; write strings in single quotes", 5},
      {"caf\xc3\xa9 = 1", "unexpected character '\\xc3'", 4},
      {"5m", "unexpected 'm' after number; write durations as INTERVAL '5m'", 2},
      {"1.2.3", "malformed number '1.2.'", 1},
      {"1e999", "number 1e999 is out of range", 1},
      {"a = END", "unexpected 'END'", 5},
      {"WHEN", "unexpected 'WHEN'", 1},
      {"(a = 1) (b)", "unexpected '('", 9},
      // A syntax error before a lexical one is reported first, and the other way round.
      {"a + + 'x", "unexpected '+'", 5},
      {"a = 'x + (", "unterminated string literal", 5},
  };
  for (const auto& c : cases) {
    auto ast = Parse(c.text);
    ASSERT_FALSE(ast) << c.text;
    EXPECT_EQ(ast.error().message.substr(0, std::string_view(c.message).size()), c.message) << c.text;
    EXPECT_EQ(ast.error().column, c.column) << c.text << ": " << ast.error().message;
  }
}

TEST(Parser, NestingIsBounded) {
  std::string deep(5000, '(');
  deep += "1";
  deep += std::string(5000, ')');
  auto ast = Parse(deep);
  ASSERT_FALSE(ast);
  EXPECT_EQ(ast.error().message, "expression is nested too deeply");

  std::string nots;
  for (int i = 0; i < 5000; ++i) nots += "NOT ";
  nots += "TRUE";
  EXPECT_FALSE(Parse(nots));
  EXPECT_FALSE(Parse(std::string(5000, '-') + "1"));

  // A long flat chain is fine up to the depth limit and refused beyond it.
  std::string chain = "x";
  for (int i = 0; i < 900; ++i) chain += " OR x";
  EXPECT_TRUE(Parse(chain));
  for (int i = 0; i < 200; ++i) chain += " OR x";
  auto long_chain = Parse(chain);
  ASSERT_FALSE(long_chain);
  EXPECT_EQ(long_chain.error().message, "expression is nested too deeply");

  // Moderate nesting works.
  std::string ok(100, '(');
  ok += "1";
  ok += std::string(100, ')');
  EXPECT_TRUE(Parse(ok));
}

TEST(Parser, SimpleCaseCopiesAreBounded) {
  // CASE x WHEN ... copies x into every WHEN; a huge operand times many WHENs is refused
  // instead of building millions of nodes.
  std::string x = "a";
  for (int i = 0; i < 500; ++i) x += " + a";
  std::string text = "CASE " + x;
  for (int i = 0; i < 500; ++i) text += " WHEN 1 THEN 2";
  text += " END";
  auto ast = Parse(text);
  ASSERT_FALSE(ast);
  EXPECT_EQ(ast.error().message, "expression is too large");
}

}  // namespace
}  // namespace weir::expr
