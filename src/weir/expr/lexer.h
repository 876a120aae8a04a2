// Tokens of the expression language (internal to weir::expr; the parser's only input).
//
//   std::vector<Token> toks = Tokenize("lower(`user id`) = 'x'");
//   // kIdent "lower", kLParen, kQuotedIdent "user id", kRParen, kEq, kString "x", kEnd
//
// The whole text is tokenized up front. A lexical error (an unterminated string, a stray
// character) becomes a final kError token, so the parser reports whichever error comes first
// in the text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::expr {

enum class Tok : uint8_t {
  kEnd,
  kError,        ///< `value` holds the message
  kInt,          ///< digits only; `value` holds the digits
  kDecimal,      ///< digits with '.' or an exponent
  kString,       ///< 'text'; `value` holds the bytes with '' unescaped
  kIdent,        ///< bare word; keywords are bare words compared case-insensitively
  kQuotedIdent,  ///< `any text`; `value` holds the name
  kLParen,
  kRParen,
  kComma,
  kDot,
  kStar,
  kPlus,
  kMinus,
  kSlash,
  kPercent,
  kConcat,  ///< ||
  kEq,      ///< = or ==
  kNe,      ///< != or <>
  kLt,
  kLe,
  kGt,
  kGe,
};

/// One token with where it starts (1-based byte column) and its raw spelling.
struct Token {
  Tok kind = Tok::kEnd;
  uint32_t column = 1;
  std::string_view raw;  ///< the token as written
  std::string value;     ///< decoded text for strings, quoted names, numbers, error messages
};

/// Splits `text` into tokens; the last token is kEnd or kError.
std::vector<Token> Tokenize(std::string_view text);

/// True if `word` equals the upper-case keyword `kw` ignoring ASCII case.
bool KeywordIs(std::string_view word, std::string_view kw);

/// True if `word` is a reserved word that cannot be used as a bare field name.
bool IsReservedWord(std::string_view word);

}  // namespace weir::expr
