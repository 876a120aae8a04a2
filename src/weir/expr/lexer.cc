// Lexer of the expression language: turns text into Tokens with 1-based byte columns.
//
//   auto toks = Tokenize("a >= 1.5");  // kIdent, kGe, kDecimal, kEnd
#include "weir/expr/lexer.h"

#include <fmt/format.h>

namespace weir::expr {
namespace {

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || (c >= '0' && c <= '9'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

// A character as it should appear in a message: printable ASCII as is, the rest as \xNN.
std::string Printable(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  return fmt::format("\\x{:02x}", u);
}

/// Splits text into tokens; stops at the first lexical error.
class Lexer {
 public:
  explicit Lexer(std::string_view text) : s_(text) {}

  std::vector<Token> Run() {
    std::vector<Token> out;
    while (true) {
      while (p_ < s_.size() && IsSpace(s_[p_])) ++p_;
      Token t;
      t.column = static_cast<uint32_t>(p_ + 1);
      if (p_ >= s_.size()) {
        t.kind = Tok::kEnd;
        out.push_back(std::move(t));
        return out;
      }
      size_t start = p_;
      bool after_name = !out.empty() && (out.back().kind == Tok::kIdent || out.back().kind == Tok::kQuotedIdent);
      LexOne(t, after_name);
      t.raw = s_.substr(start, p_ - start);
      bool stop = t.kind == Tok::kError;
      out.push_back(std::move(t));
      if (stop) return out;
    }
  }

 private:
  void Error(Token& t, std::string message, size_t at) {
    t.kind = Tok::kError;
    t.column = static_cast<uint32_t>(at + 1);
    t.value = std::move(message);
  }

  void LexOne(Token& t, bool after_name) {
    char c = s_[p_];
    char n = p_ + 1 < s_.size() ? s_[p_ + 1] : '\0';
    if (IsDigit(c) || (c == '.' && IsDigit(n) && !after_name)) return LexNumber(t);
    if (IsIdentStart(c)) {
      size_t b = p_;
      while (p_ < s_.size() && IsIdentChar(s_[p_])) ++p_;
      t.kind = Tok::kIdent;
      t.value = std::string(s_.substr(b, p_ - b));
      return;
    }
    if (c == '\'') return LexQuoted(t, '\'', Tok::kString);
    if (c == '`') return LexQuoted(t, '`', Tok::kQuotedIdent);
    size_t at = p_;
    auto one = [&](Tok k) {
      t.kind = k;
      p_ += 1;
    };
    auto two = [&](Tok k) {
      t.kind = k;
      p_ += 2;
    };
    switch (c) {
      case '(': return one(Tok::kLParen);
      case ')': return one(Tok::kRParen);
      case ',': return one(Tok::kComma);
      case '.': return one(Tok::kDot);
      case '*': return one(Tok::kStar);
      case '+': return one(Tok::kPlus);
      case '-': return one(Tok::kMinus);
      case '/': return one(Tok::kSlash);
      case '%': return one(Tok::kPercent);
      case '=': return n == '=' ? two(Tok::kEq) : one(Tok::kEq);
      case '<':
        if (n == '=') return two(Tok::kLe);
        if (n == '>') return two(Tok::kNe);
        return one(Tok::kLt);
      case '>': return n == '=' ? two(Tok::kGe) : one(Tok::kGt);
      case '!':
        if (n == '=') return two(Tok::kNe);
        return Error(t, "unexpected '!'; use NOT for negation and != for inequality", at);
      case '|':
        if (n == '|') return two(Tok::kConcat);
        return Error(t, "unexpected '|'; use OR for logic and || to concatenate strings", at);
      case '&': return Error(t, "unexpected '&'; use AND", at);
      case '"':
        return Error(t, "unexpected '\"'; write strings in single quotes ('text') and quote field names "
                        "with backquotes (`name`)", at);
      default: break;
    }
    if (static_cast<unsigned char>(c) >= 0x80) {
      return Error(t, fmt::format("unexpected character '{}'; quote names containing other characters "
                                  "with backquotes (`name`)", Printable(c)), at);
    }
    Error(t, fmt::format("unexpected character '{}'", Printable(c)), at);
  }

  void LexNumber(Token& t) {
    size_t b = p_;
    bool decimal = false;
    while (p_ < s_.size() && IsDigit(s_[p_])) ++p_;
    if (p_ < s_.size() && s_[p_] == '.') {
      decimal = true;
      ++p_;
      while (p_ < s_.size() && IsDigit(s_[p_])) ++p_;
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      size_t q = p_ + 1;
      if (q < s_.size() && (s_[q] == '+' || s_[q] == '-')) ++q;
      if (q < s_.size() && IsDigit(s_[q])) {
        decimal = true;
        p_ = q;
        while (p_ < s_.size() && IsDigit(s_[p_])) ++p_;
      }
    }
    if (p_ < s_.size() && (IsIdentChar(s_[p_]) || s_[p_] == '.')) {
      size_t e = p_;
      while (e < s_.size() && IsIdentChar(s_[e])) ++e;
      std::string_view word = s_.substr(b, e - b);
      if (s_[p_] == '.')
        return Error(t, fmt::format("malformed number '{}'", s_.substr(b, p_ - b + 1)), b);
      return Error(t, fmt::format("unexpected '{}' after number; write durations as INTERVAL '{}'",
                                  s_.substr(p_, e - p_), word), p_);
    }
    t.kind = decimal ? Tok::kDecimal : Tok::kInt;
    t.value = std::string(s_.substr(b, p_ - b));
  }

  // Quoted text; a doubled quote stands for one quote character.
  void LexQuoted(Token& t, char q, Tok kind) {
    size_t open = p_;
    ++p_;
    std::string v;
    while (true) {
      size_t close = s_.find(q, p_);
      if (close == std::string_view::npos) {
        return Error(t, kind == Tok::kString ? "unterminated string literal" : "unterminated quoted name `...`",
                     open);
      }
      v.append(s_.substr(p_, close - p_));
      p_ = close + 1;
      if (p_ < s_.size() && s_[p_] == q) {
        v.push_back(q);
        ++p_;
        continue;
      }
      break;
    }
    if (kind == Tok::kQuotedIdent && v.empty()) return Error(t, "empty quoted name ``", open);
    t.kind = kind;
    t.value = std::move(v);
  }

  std::string_view s_;
  size_t p_ = 0;
};

}  // namespace

std::vector<Token> Tokenize(std::string_view text) { return Lexer(text).Run(); }

bool KeywordIs(std::string_view word, std::string_view kw) {
  if (word.size() != kw.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != kw[i]) return false;
  }
  return true;
}

bool IsReservedWord(std::string_view word) {
  static constexpr std::string_view kReserved[] = {"AND",  "OR",   "NOT",  "IN",   "LIKE", "BETWEEN",
                                                   "IS",   "NULL", "TRUE", "FALSE", "CASE", "WHEN",
                                                   "THEN", "ELSE", "END",  "INTERVAL"};
  for (std::string_view kw : kReserved)
    if (KeywordIs(word, kw)) return true;
  return false;
}

}  // namespace weir::expr
