// Syntax tree of Weir's expression language (SQL's scalar grammar).
//
//   Result<NodePtr, ParseError> ast = Parse("lower(properties.currency) = 'usd'");
//
// Grammar, loosest binding first:
//   expr     := or
//   or       := and (OR and)*
//   and      := not (AND not)*
//   not      := NOT not | cmp
//   cmp      := add ( (= | == | != | <> | < | <= | > | >=) add
//                   | [NOT] IN '(' expr (',' expr)* ')'
//                   | [NOT] LIKE add
//                   | [NOT] BETWEEN add AND add
//                   | IS [NOT] NULL )?
//   add      := mul ((+ | - | '||') mul)*
//   mul      := unary ((* | / | %) unary)*
//   unary    := - unary | primary
//   primary  := literal | path | call | '(' expr ')' | CASE ... END
//   literal  := integer | decimal | 'string' ('' escapes a quote) | TRUE | FALSE | NULL
//               | INTERVAL 'duration'  (e.g. INTERVAL '5m' -> 300000, an integer of ms)
//   path     := ident ('.' ident)*         ident := [A-Za-z_][A-Za-z0-9_]* | `any text`
//   call     := ident '(' [expr (',' expr)*] ')'   (count(*) is count())
//   CASE WHEN c THEN v [WHEN ...] [ELSE v] END  |  CASE x WHEN v THEN r ... [ELSE r] END
// Keywords are case-insensitive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "weir/base/result.h"
#include "weir/model/value.h"

namespace weir::expr {

enum class NodeKind : uint8_t {
  kLiteral,   ///< literal (string bytes in `text`)
  kField,     ///< field path in `text` ("properties.amount")
  kCall,      ///< function call: name in `text` (lower-cased), arguments in `children`
  kUnary,     ///< `op` applied to children[0]
  kBinary,    ///< children[0] `op` children[1]
  kIn,        ///< children[0] IN (children[1..]); `negated` for NOT IN
  kIsNull,    ///< children[0] IS NULL; `negated` for IS NOT NULL
  kLike,      ///< children[0] LIKE children[1]; `negated`
  kBetween,   ///< children[0] BETWEEN children[1] AND children[2]; `negated`
  kCase,      ///< searched CASE: children = when0, then0, when1, then1, ..., [else]; has_else
};

enum class Op : uint8_t {
  kNone,
  kNeg, kNot,
  kAdd, kSub, kMul, kDiv, kMod, kConcat,
  kEq, kNe, kLt, kLe, kGt, kGe,
  kAnd, kOr,
};

struct Node;
using NodePtr = std::unique_ptr<Node>;

/// One node of the tree. `column` is the 1-based column in the expression text where the node
/// starts, for error messages.
struct Node {
  NodeKind kind;
  Op op = Op::kNone;
  bool negated = false;
  bool has_else = false;
  uint32_t column = 1;
  std::string text;  ///< field path, function name, or string literal bytes
  Value literal;     ///< for kLiteral; strings point into `text`
  std::vector<NodePtr> children;
};

/// Where and why parsing failed.
struct ParseError {
  std::string message;  ///< "expected ')' after arguments of 'round'"
  uint32_t column;      ///< 1-based column in the expression text
};

/// Parses `text`. A simple CASE (CASE x WHEN ...) is rewritten into a searched CASE.
std::expected<NodePtr, ParseError> Parse(std::string_view text);

/// Writes the node back as expression text (used in messages and for display).
std::string ToString(const Node& node);

}  // namespace weir::expr
