// Robustness: thousands of generated and mutated expressions (deterministic seed) go through
// the fuzz target's RunOne — parse, print, re-parse, compile, Eval, EvalBatch — which traps on
// a broken invariant. Run under -DWEIR_SANITIZE=ON to also catch memory and UB errors.
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "weir/expr/functions.h"

// The fuzz target is not a library source (CMake skips *_fuzz.cc); compiling it here keeps it
// building and lets this test drive its entry point.
#include "weir/expr/expr_fuzz.cc"

namespace weir::expr {
namespace {

/// Random expressions from the grammar, and mutations of them (deterministic per seed).
class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  std::string Expr(int depth) {
    if (depth <= 0) return Leaf();
    switch (Pick(16)) {
      case 0:
      case 1:
      case 2: return Expr(depth - 1) + " " + BinaryOp() + " " + Expr(depth - 1);
      case 3: return "(" + Expr(depth - 1) + ")";
      case 4: return "NOT " + Expr(depth - 1);
      case 5: return "-" + Expr(depth - 1);
      case 6:
      case 7: return Call(depth);
      case 8: {
        std::string s = Expr(depth - 1) + (Pick(2) ? " NOT IN (" : " IN (");
        int n = 1 + Pick(4);
        for (int i = 0; i < n; ++i) s += (i ? ", " : "") + Expr(depth - 2);
        return s + ")";
      }
      case 9: return Expr(depth - 1) + (Pick(2) ? " LIKE " : " NOT LIKE ") + Pattern();
      case 10: return Expr(depth - 1) + (Pick(2) ? " BETWEEN " : " NOT BETWEEN ") + Expr(depth - 2) + " AND " +
                      Expr(depth - 2);
      case 11: return Expr(depth - 1) + (Pick(2) ? " IS NULL" : " IS NOT NULL");
      case 12: {
        std::string s = "CASE";
        int n = 1 + Pick(3);
        for (int i = 0; i < n; ++i) s += " WHEN " + Expr(depth - 1) + " THEN " + Expr(depth - 1);
        if (Pick(2)) s += " ELSE " + Expr(depth - 1);
        return s + " END";
      }
      case 13: {
        std::string s = "CASE " + Expr(depth - 1);
        int n = 1 + Pick(3);
        for (int i = 0; i < n; ++i) s += " WHEN " + Leaf() + " THEN " + Expr(depth - 1);
        if (Pick(2)) s += " ELSE " + Expr(depth - 1);
        return s + " END";
      }
      default: return Leaf();
    }
  }

  std::string Mutate(std::string s) {
    static const std::string kChars = "()',.`*+-/%|=<>!\"# \taZ09_eE\xc3\xa9";
    int edits = 1 + Pick(4);
    for (int e = 0; e < edits; ++e) {
      size_t at = s.empty() ? 0 : rng_() % (s.size() + 1);
      switch (Pick(5)) {
        case 0:
          if (!s.empty() && at < s.size()) s.erase(at, 1 + rng_() % std::min<size_t>(8, s.size() - at));
          break;
        case 1: s.insert(at, 1, kChars[rng_() % kChars.size()]); break;
        case 2:
          if (!s.empty()) {
            size_t from = rng_() % s.size();
            s.insert(at, s.substr(from, 1 + rng_() % 12));
          }
          break;
        case 3: s.resize(at); break;
        default:
          if (s.size() > 1) std::swap(s[rng_() % s.size()], s[rng_() % s.size()]);
          break;
      }
    }
    return s;
  }

  std::string RandomBytes() {
    std::string s(rng_() % 40, ' ');
    for (char& c : s) c = static_cast<char>(rng_() % 256);
    return s;
  }

 private:
  int Pick(int n) { return static_cast<int>(rng_() % static_cast<uint32_t>(n)); }

  std::string Leaf() {
    static const char* kLeaves[] = {
        "i", "d", "s", "n", "b", "ns", "t", "small", "iso", "json", "huge", "three", "`user id`", "a.b.c",
        "nosuch", "0", "1", "-1", "7", "2.5", "1e308", "9223372036854775807", "-9223372036854775808",
        "0.0", "'abc'", "'42'", "'2026-02-16T10:30:00Z'", "''", "'it''s'", "TRUE", "FALSE", "NULL",
        "INTERVAL '5m'", "count(*)", "sum(x)", "'%'", "'\xc3\xa9'",
    };
    return kLeaves[Pick(sizeof kLeaves / sizeof *kLeaves)];
  }

  std::string Pattern() {
    static const char* kPatterns[] = {"'%'", "'a%'", "'%a'", "'%a%'", "'_'", "'a\\%'", "'%a%b%'", "s", "NULL"};
    return kPatterns[Pick(sizeof kPatterns / sizeof *kPatterns)];
  }

  std::string BinaryOp() {
    static const char* kOps[] = {"+", "-", "*", "/", "%", "||", "=", "!=", "<", "<=", ">", ">=", "AND", "OR"};
    return kOps[Pick(sizeof kOps / sizeof *kOps)];
  }

  std::string Call(int depth) {
    auto fns = AllFunctions();
    std::string name;
    int argc;
    if (Pick(10) == 0) {
      name = Pick(2) ? "sum" : "nosuchfn";
      argc = Pick(3);
    } else {
      const FunctionDef& f = fns[rng_() % fns.size()];
      name = std::string(f.name);
      int max = f.max_args == kVariadic ? f.min_args + 4 : f.max_args;
      argc = f.min_args + Pick(max - f.min_args + 1);
      if (Pick(20) == 0) argc = Pick(5);  // sometimes the wrong number
      if (name == "date_trunc" && argc == 2 && Pick(3)) {
        static const char* kUnits[] = {"'second'", "'minute'", "'hour'", "'day'", "'week'", "'month'", "'quarter'",
                                       "'year'"};
        return "date_trunc(" + std::string(kUnits[Pick(8)]) + ", " + Expr(depth - 1) + ")";
      }
    }
    std::string s = name + "(";
    for (int a = 0; a < argc; ++a) s += (a ? ", " : "") + Expr(depth - 1);
    return s + ")";
  }

  std::mt19937 rng_;
};

TEST(Fuzz, GeneratedExpressionsNeverCrash) {
  Generator gen(20260216);
  int compiled = 0;
  const int kCount = 2500;
  for (int k = 0; k < kCount; ++k) {
    std::string text = gen.Expr(1 + k % 5);
    if (fuzz::RunOne(text)) ++compiled;
  }
  // Most generated expressions are well typed; enough of them must reach evaluation for this
  // test to mean something.
  EXPECT_GT(compiled, kCount / 5);
}

TEST(Fuzz, MutatedExpressionsNeverCrash) {
  Generator gen(777);
  int parsed = 0;
  for (int k = 0; k < 2500; ++k) {
    std::string text = gen.Mutate(gen.Expr(1 + k % 4));
    if (Parse(text)) ++parsed;
    fuzz::RunOne(text);
  }
  EXPECT_GT(parsed, 100);
}

TEST(Fuzz, RandomBytesNeverCrash) {
  Generator gen(99);
  for (int k = 0; k < 1000; ++k) {
    std::string text = gen.RandomBytes();
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  }
}

TEST(Fuzz, HostileShapes) {
  const std::string shapes[] = {
      std::string(3000, '('),
      std::string(3000, '-') + "1",
      std::string(3000, ')'),
      "'" + std::string(3000, 'x'),
      std::string(3000, '`'),
      "concat(" + std::string(2000, 'a').replace(1, 1, ",") + ")",
      "x IN (" + [] {
        std::string s = "1";
        for (int i = 0; i < 2000; ++i) s += ", " + std::to_string(i);
        return s;
      }() + ")",
      [] {
        std::string s = "1";
        for (int i = 0; i < 990; ++i) s += " + 1";
        return s;
      }(),
      [] {
        std::string s = "concat(s";
        for (int i = 0; i < 300; ++i) s += ", s";
        return s + ")";
      }(),
  };
  for (const auto& s : shapes) fuzz::RunOne(s);
  // The long sum is valid and evaluates.
  fuzz::PermissiveScope scope;
  std::string sum = "1";
  for (int i = 0; i < 990; ++i) sum += " + 1";
  auto p = Compile(sum, scope);
  ASSERT_TRUE(p);
  Arena arena;
  EXPECT_TRUE((*p)->Eval(fuzz::FixedRow(), arena).IdenticalTo(Value::Int(991)));
}

}  // namespace
}  // namespace weir::expr
