// Test helpers for weir::expr: a Scope over a fixed row of sample values, and shorthands for
// expected Values. Used by the *_test.cc files of this module only.
//
//   TestScope scope;
//   auto p = Compile("i + 1", scope);
//   Value v = (*p)->Eval(scope.row.data(), arena);   // 8
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "weir/base/time.h"
#include "weir/expr/ast.h"
#include "weir/expr/expr.h"
#include "weir/model/value.h"

namespace weir::expr::testing {

inline Value I(int64_t v) { return Value::Int(v); }
inline Value D(double v) { return Value::Double(v); }
inline Value S(std::string_view v) { return Value::String(v); }
inline Value B(bool v) { return Value::Bool(v); }
inline Value N() { return Value::Null(); }
inline Value T(std::string_view iso) { return Value::Time(*ParseIso8601(iso)); }

/// "integer 3", "string 'x'", "null" — for failure messages.
inline std::string Show(const Value& v) {
  std::string s;
  AppendJson(s, v);
  return fmt::format("{} {}", TypeName(v.type()), s);
}

/// Maps field names to slots of `row`; resolves `agg_*` calls to slots when `take_calls` is set.
class TestScope : public Scope {
 public:
  TestScope() {
    Add("i", I(7));
    Add("d", D(2.5));
    Add("s", S("Hello"));
    Add("n", N());
    Add("b", B(true));
    Add("f", B(false));
    Add("ns", S("42"));
    Add("dec", S("1.5"));
    Add("t", T("2026-02-16T10:30:00.123Z"));
    Add("iso", S("2026-02-16T10:30:00Z"));
    Add("epoch", I(1771237800));
    Add("props.currency", S("usd"));
    Add("big", I(INT64_MAX));
    Add("small", I(INT64_MIN));
    Add("neg", I(-3));
    Add("zero", I(0));
    Add("e", S(""));
    Add("user id", S("u1"));
    Add("json", Value::Json("{\"a\":1}"));
    Add("word", S("abc"));
  }

  uint32_t Add(const std::string& name, Value v) {
    fields[name] = static_cast<uint32_t>(row.size());
    row.push_back(v);
    return fields[name];
  }

  Result<uint32_t> ResolveField(std::string_view path) override {
    auto it = fields.find(std::string(path));
    if (it == fields.end()) return Fail("unknown field '{}'", path);
    resolved.push_back(std::string(path));
    return it->second;
  }

  Result<std::optional<uint32_t>> ResolveCall(const Node& call) override {
    ++calls_seen;
    if (call.text == "explode") return Fail("calls to explode are refused here");
    auto it = calls.find(ToString(call));
    if (it == calls.end()) return std::optional<uint32_t>();
    return std::optional<uint32_t>(it->second);
  }

  Type SlotType(uint32_t slot) override {
    auto it = slot_types.find(slot);
    return it == slot_types.end() ? Type::kAny : it->second;
  }

  std::vector<Value> row;
  std::map<std::string, uint32_t> fields;
  std::map<std::string, uint32_t> calls;  ///< ToString(call) -> slot taken over
  std::map<uint32_t, Type> slot_types;
  std::vector<std::string> resolved;
  int calls_seen = 0;
};

/// Compiles `text` (failing the test on error) and evaluates it on the scope's row, checking
/// that EvalBatch over several copies of the row agrees with Eval.
inline Value EvalText(std::string_view text, TestScope& scope, Arena& arena) {
  auto p = Compile(text, scope);
  if (!p) {
    ADD_FAILURE() << "compile error for `" << text << "`: " << p.error().message << " at column "
                  << p.error().column;
    return Value::Null();
  }
  Value v = (*p)->Eval(scope.row.data(), arena);
  EXPECT_EQ((*p)->Test(scope.row.data(), arena), v.is_bool() && v.as_bool()) << "Test disagrees for `" << text << "`";
  // A constant result lives in the program, which dies here: keep a copy in the arena.
  if (v.is_string()) v = Value::String(arena.Copy(v.as_string()));
  constexpr size_t kCopies = 3;
  std::vector<Value> rows;
  for (size_t c = 0; c < kCopies; ++c) rows.insert(rows.end(), scope.row.begin(), scope.row.end());
  std::vector<Value> out(kCopies);
  (*p)->EvalBatch(rows.data(), scope.row.size(), kCopies, out.data(), arena);
  for (size_t c = 0; c < kCopies; ++c) {
    bool same = out[c].IdenticalTo(v) || (out[c].is_double() && v.is_double() && std::isnan(out[c].as_double()) &&
                                          std::isnan(v.as_double()));
    EXPECT_TRUE(same) << "EvalBatch disagrees for `" << text << "`: " << Show(out[c]) << " vs " << Show(v);
  }
  return v;
}

}  // namespace weir::expr::testing
