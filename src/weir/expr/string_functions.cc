// String functions: lower, upper, length, trim, substr, concat, replace, split_part, ...
//
//   substr('weir', 2, 2) = 'ei'; split_part('a,b,c', ',', -1) = 'c'; concat('a', NULL, 1) = 'a1'
//
// Positions and lengths count UTF-8 characters (code points), as PostgreSQL does; case mapping
// is ASCII-only. Results that are a piece of an argument point into it instead of copying.
#include <cstring>
#include <limits>

#include "weir/expr/functions.h"

namespace weir::expr {
namespace {

constexpr std::string_view kWhitespace = " \t\n\r\f\v";

char* Alloc(Arena& arena, size_t n) { return arena.AllocateChars(n); }

// Integer argument from a number or numeric string (doubles truncated, huge values clamped).
std::optional<int64_t> IntArg(const Value& v) {
  Value n = ToNumber(v);
  if (n.is_int()) return n.as_int();
  if (n.is_double()) {
    double d = n.as_double();
    if (std::isnan(d)) return std::nullopt;
    if (d >= 9.2e18) return std::numeric_limits<int64_t>::max();
    if (d <= -9.2e18) return std::numeric_limits<int64_t>::min();
    return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

// Byte offset of the character with 0-based index `chars` (or s.size() past the end).
size_t ByteOffset(std::string_view s, int64_t chars) {
  size_t i = 0;
  while (chars > 0 && i < s.size()) {
    i += Utf8CharLen(s, i);
    --chars;
  }
  return i;
}

Value CaseMap(const Value& v, Arena& arena, char from_lo, char from_hi, int shift) {
  if (!v.is_string()) return Value::Null();
  std::string_view s = v.as_string();
  size_t first = 0;
  while (first < s.size() && !(s[first] >= from_lo && s[first] <= from_hi)) ++first;
  if (first == s.size()) return v;  // nothing to change: no copy
  char* p = Alloc(arena, s.size());
  std::memcpy(p, s.data(), s.size());
  for (size_t i = first; i < s.size(); ++i)
    if (p[i] >= from_lo && p[i] <= from_hi) p[i] = static_cast<char>(p[i] + shift);
  return Value::String({p, s.size()});
}

enum TrimSide { kLeft = 1, kRight = 2, kBoth = 3 };

Value TrimImpl(const Value* a, uint32_t n, int side) {
  if (!a[0].is_string()) return Value::Null();
  std::string_view chars = kWhitespace;
  if (n > 1) {
    if (!a[1].is_string()) return Value::Null();
    chars = a[1].as_string();
  }
  std::string_view s = a[0].as_string();
  size_t b = 0, e = s.size();
  if (side & kLeft)
    while (b < e && chars.find(s[b]) != std::string_view::npos) ++b;
  if (side & kRight)
    while (e > b && chars.find(s[e - 1]) != std::string_view::npos) --e;
  return Value::String(s.substr(b, e - b));
}

}  // namespace

Value FnLower(const Value* a, uint32_t, Arena& arena) { return CaseMap(a[0], arena, 'A', 'Z', 'a' - 'A'); }
Value FnUpper(const Value* a, uint32_t, Arena& arena) { return CaseMap(a[0], arena, 'a', 'z', 'A' - 'a'); }

Value FnLength(const Value* a, uint32_t, Arena&) {
  if (!a[0].is_string()) return Value::Null();
  int64_t count = 0;
  for (char c : a[0].as_string()) count += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return Value::Int(count);
}

Value FnTrim(const Value* a, uint32_t n, Arena&) { return TrimImpl(a, n, kBoth); }
Value FnLtrim(const Value* a, uint32_t n, Arena&) { return TrimImpl(a, n, kLeft); }
Value FnRtrim(const Value* a, uint32_t n, Arena&) { return TrimImpl(a, n, kRight); }

// PostgreSQL's substr: characters [start, start + len) of the 1-based positions, clipped to the
// string, so substr('abc', 0, 2) = 'a'. A negative length gives NULL.
Value FnSubstr(const Value* a, uint32_t n, Arena&) {
  if (!a[0].is_string()) return Value::Null();
  auto start = IntArg(a[1]);
  if (!start) return Value::Null();
  int64_t end = std::numeric_limits<int64_t>::max();  // exclusive, 1-based
  if (n > 2) {
    auto len = IntArg(a[2]);
    if (!len || *len < 0) return Value::Null();
    if (__builtin_add_overflow(*start, *len, &end)) end = std::numeric_limits<int64_t>::max();
  }
  int64_t from = std::max<int64_t>(*start, 1);
  if (end <= from) return Value::String({});
  std::string_view s = a[0].as_string();
  size_t b = ByteOffset(s, from - 1);
  size_t e = end == std::numeric_limits<int64_t>::max() ? s.size() : b + ByteOffset(s.substr(b), end - from);
  return Value::String(s.substr(b, e - b));
}

Value FnConcat(const Value* a, uint32_t n, Arena& arena) {
  char buf[48];
  size_t total = 0;
  const Value* only = nullptr;  // the single non-empty string argument, if that is all there is
  uint32_t nonempty = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (a[i].is_null()) continue;
    size_t len = TextOf(a[i], buf).size();
    if (len == 0) continue;
    total += len;
    ++nonempty;
    only = a[i].is_string() ? &a[i] : nullptr;
  }
  if (nonempty == 0) return Value::String({});
  if (nonempty == 1 && only) return *only;
  if (total > kMaxStringBytes) return Value::Null();
  char* p = Alloc(arena, total);
  size_t at = 0;
  for (uint32_t i = 0; i < n; ++i) {
    if (a[i].is_null()) continue;
    std::string_view t = TextOf(a[i], buf);
    if (t.empty()) continue;
    std::memcpy(p + at, t.data(), t.size());
    at += t.size();
  }
  return Value::String({p, total});
}

Value FnReplace(const Value* a, uint32_t, Arena& arena) {
  if (!a[0].is_string() || !a[1].is_string() || !a[2].is_string()) return Value::Null();
  std::string_view s = a[0].as_string(), from = a[1].as_string(), to = a[2].as_string();
  if (from.empty()) return a[0];
  size_t count = 0;
  for (size_t p = s.find(from); p != std::string_view::npos; p = s.find(from, p + from.size())) ++count;
  if (count == 0) return a[0];
  size_t total = s.size() - count * from.size() + count * to.size();
  if (total > kMaxStringBytes) return Value::Null();
  if (total == 0) return Value::String({});
  char* out = Alloc(arena, total);
  size_t at = 0, prev = 0;
  auto put = [&](std::string_view piece) {
    if (!piece.empty()) std::memcpy(out + at, piece.data(), piece.size());
    at += piece.size();
  };
  for (size_t p = s.find(from); p != std::string_view::npos; p = s.find(from, p + from.size())) {
    put(s.substr(prev, p - prev));
    put(to);
    prev = p + from.size();
  }
  put(s.substr(prev));
  return Value::String({out, total});
}

Value FnStartsWith(const Value* a, uint32_t, Arena&) {
  if (!a[0].is_string() || !a[1].is_string()) return Value::Null();
  return Value::Bool(a[0].as_string().starts_with(a[1].as_string()));
}

Value FnEndsWith(const Value* a, uint32_t, Arena&) {
  if (!a[0].is_string() || !a[1].is_string()) return Value::Null();
  return Value::Bool(a[0].as_string().ends_with(a[1].as_string()));
}

Value FnContains(const Value* a, uint32_t, Arena&) {
  if (!a[0].is_string() || !a[1].is_string()) return Value::Null();
  return Value::Bool(a[0].as_string().find(a[1].as_string()) != std::string_view::npos);
}

// PostgreSQL's split_part: fields are 1-based; a negative n counts from the end; a field past
// the last is ''; n = 0 is NULL.
Value FnSplitPart(const Value* a, uint32_t, Arena&) {
  if (!a[0].is_string() || !a[1].is_string()) return Value::Null();
  auto idx = IntArg(a[2]);
  if (!idx || *idx == 0) return Value::Null();
  std::string_view s = a[0].as_string(), d = a[1].as_string();
  if (d.empty()) return (*idx == 1 || *idx == -1) ? a[0] : Value::String({});
  if (*idx > 0) {
    size_t b = 0;
    for (int64_t k = 1; k < *idx; ++k) {
      size_t p = s.find(d, b);
      if (p == std::string_view::npos) return Value::String({});
      b = p + d.size();
    }
    size_t e = s.find(d, b);
    return Value::String(s.substr(b, e == std::string_view::npos ? std::string_view::npos : e - b));
  }
  // From the end: field -1 starts after the last delimiter.
  size_t e = s.size();
  for (int64_t k = -1; k > *idx; --k) {
    if (e < d.size()) return Value::String({});
    size_t p = s.rfind(d, e - d.size());
    if (p == std::string_view::npos) return Value::String({});
    e = p;
  }
  size_t b;
  if (e < d.size()) {
    b = 0;
  } else {
    size_t p = s.rfind(d, e - d.size());
    b = p == std::string_view::npos ? 0 : p + d.size();
  }
  return Value::String(s.substr(b, e - b));
}

Value FnToString(const Value* a, uint32_t, Arena& arena) {
  if (a[0].is_null() || a[0].is_string()) return a[0];
  char buf[48];
  std::string_view t = TextOf(a[0], buf);
  if (a[0].is_json()) return Value::String(t);
  return Value::String(arena.Copy(t));
}

}  // namespace weir::expr
