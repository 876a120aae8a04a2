#include "weir/model/value.h"

#include <charconv>
#include <cmath>
#include <iterator>

#include <fmt/format.h>

#include "weir/base/hash.h"

namespace weir {

std::string_view TypeName(ValueType t) {
  switch (t) {
    case ValueType::kNull: return "null";
    case ValueType::kBool: return "boolean";
    case ValueType::kInt: return "integer";
    case ValueType::kDouble: return "double";
    case ValueType::kString: return "string";
    case ValueType::kTimestamp: return "timestamp";
    case ValueType::kJson: return "json";
  }
  return "?";
}

bool Value::IdenticalTo(const Value& o) const {
  if (type_ != o.type_) return false;
  switch (type_) {
    case ValueType::kNull: return true;
    case ValueType::kString:
    case ValueType::kJson: return as_string() == o.as_string();
    default: return i_ == o.i_;
  }
}

bool GroupEquals(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
    return a.to_double() == b.to_double();
  }
  return a.IdenticalTo(b);
}

uint64_t GroupHash(const Value& v) {
  switch (v.type()) {
    case ValueType::kNull: return 0x6e756c6cULL;
    case ValueType::kBool: return HashInt(v.as_bool() ? 2 : 1);
    case ValueType::kInt: return HashInt(static_cast<uint64_t>(v.as_int()));
    case ValueType::kDouble: {
      double d = v.as_double();
      if (d == std::trunc(d) && std::fabs(d) < 9.2e18) return HashInt(static_cast<uint64_t>(static_cast<int64_t>(d)));
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      return HashInt(bits);
    }
    case ValueType::kTimestamp: return HashInt(static_cast<uint64_t>(v.as_time()) ^ 0x7473ULL);
    case ValueType::kString:
    case ValueType::kJson: return Hash64(v.as_string(), static_cast<uint64_t>(v.type()));
  }
  return 0;
}

namespace {
int Rank(ValueType t) {
  switch (t) {
    case ValueType::kNull: return 0;
    case ValueType::kBool: return 1;
    case ValueType::kInt:
    case ValueType::kDouble: return 2;
    case ValueType::kTimestamp: return 3;
    case ValueType::kString: return 4;
    case ValueType::kJson: return 5;
  }
  return 6;
}
template <class T>
int Cmp(T a, T b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}
}  // namespace

int CompareTotal(const Value& a, const Value& b) {
  int ra = Rank(a.type()), rb = Rank(b.type());
  if (ra != rb) return Cmp(ra, rb);
  switch (a.type()) {
    case ValueType::kNull: return 0;
    case ValueType::kBool: return Cmp(a.as_bool(), b.as_bool());
    case ValueType::kInt:
    case ValueType::kDouble:
      if (a.is_int() && b.is_int()) return Cmp(a.as_int(), b.as_int());
      return Cmp(a.to_double(), b.to_double());
    case ValueType::kTimestamp: return Cmp(a.as_time(), b.as_time());
    case ValueType::kString:
    case ValueType::kJson: {
      int c = a.as_string().compare(b.as_string());
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
  }
  return 0;
}

void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(s.data() + start, s.size() - start);
  out.push_back('"');
}

void AppendDouble(std::string& out, double d) {
  if (!std::isfinite(d)) {
    out.append("null");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  out.append(buf, r.ptr);
}

void AppendJson(std::string& out, const Value& v) {
  switch (v.type()) {
    case ValueType::kNull: out.append("null"); break;
    case ValueType::kBool: out.append(v.as_bool() ? "true" : "false"); break;
    case ValueType::kInt: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
      out.append(buf, r.ptr);
      break;
    }
    case ValueType::kDouble: AppendDouble(out, v.as_double()); break;
    case ValueType::kString: AppendJsonString(out, v.as_string()); break;
    case ValueType::kTimestamp: {
      char buf[26];
      buf[0] = '"';
      char* end = FormatIso8601To(v.as_time(), buf + 1);
      *end++ = '"';
      out.append(buf, end);
      break;
    }
    case ValueType::kJson: out.append(v.as_string()); break;
  }
}

std::string ToText(const Value& v) {
  if (v.is_string() || v.is_json()) return std::string(v.as_string());
  if (v.is_time()) return FormatIso8601(v.as_time());
  std::string s;
  AppendJson(s, v);
  return s;
}

std::optional<Value> ParseNumber(std::string_view s) {
  if (s.empty()) return std::nullopt;
  const char* b = s.data();
  const char* e = b + s.size();
  if (*b == '+') ++b;
  bool integral = true;
  for (const char* p = b; p < e; ++p) {
    if (*p == '.' || *p == 'e' || *p == 'E') integral = false;
  }
  if (integral) {
    int64_t i;
    auto r = std::from_chars(b, e, i);
    if (r.ec == std::errc() && r.ptr == e) return Value::Int(i);
  }
  double d;
  auto r = std::from_chars(b, e, d);
  if (r.ec == std::errc() && r.ptr == e && std::isfinite(d)) return Value::Double(d);
  return std::nullopt;
}

std::optional<Timestamp> EventTimeOf(const Value& v) {
  std::optional<Timestamp> t;
  switch (v.type()) {
    case ValueType::kTimestamp: t = v.as_time(); break;
    case ValueType::kInt: t = EpochNumberToTimestamp(static_cast<double>(v.as_int())); break;
    case ValueType::kDouble: t = EpochNumberToTimestamp(v.as_double()); break;
    case ValueType::kString: return ParseIso8601(v.as_string());
    default: return std::nullopt;
  }
  if (!InCivilRange(*t)) return std::nullopt;
  return t;
}

}  // namespace weir
