// Test-only: a small strict JSON parser (RFC 8259) so the simulator tests can check that every
// generated event is valid JSON without linking a JSON library into weir_simulate_test.
//
//   JsonValue v;
//   std::string err;
//   ASSERT_TRUE(ParseJson(line, v, err)) << err;
//   EXPECT_EQ(v.Get("event_type")->str, "page_view");
//
// Numbers keep their source text, so tests can check how they were written ("19.99").
#pragma once

#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::simulate::testing {

/// A parsed JSON value; objects keep member order and duplicates (tests check for them).
struct JsonValue {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string text;  ///< string content, or a number's source text
  std::vector<JsonValue> items;
  std::vector<std::pair<std::string, JsonValue>> members;

  bool is_string() const { return type == Type::kString; }
  bool is_number() const { return type == Type::kNumber; }
  bool is_object() const { return type == Type::kObject; }

  /// The member named `key`, or nullptr.
  const JsonValue* Get(std::string_view key) const {
    for (const auto& [k, v] : members)
      if (k == key) return &v;
    return nullptr;
  }
  std::vector<std::string> Keys() const {
    std::vector<std::string> keys;
    for (const auto& m : members) keys.push_back(m.first);
    return keys;
  }
};

/// Strict recursive-descent parser over one complete JSON text.
class JsonParser {
 public:
  explicit JsonParser(std::string_view s) : s_(s) {}

  bool Parse(JsonValue& out, std::string& error) {
    SkipWs();
    if (!Value(out, 0)) {
      error = error_ + " at offset " + std::to_string(p_);
      return false;
    }
    SkipWs();
    if (p_ != s_.size()) {
      error = "trailing characters at offset " + std::to_string(p_);
      return false;
    }
    return true;
  }

 private:
  bool Fail(const char* what) {
    error_ = what;
    return false;
  }
  void SkipWs() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\t' || s_[p_] == '\n' || s_[p_] == '\r')) ++p_;
  }
  bool Literal(std::string_view lit) {
    if (s_.substr(p_, lit.size()) != lit) return Fail("invalid literal");
    p_ += lit.size();
    return true;
  }
  bool Value(JsonValue& v, int depth) {
    if (depth > 64) return Fail("nested too deeply");
    if (p_ >= s_.size()) return Fail("unexpected end");
    char c = s_[p_];
    if (c == '{') return Object(v, depth);
    if (c == '[') return Array(v, depth);
    if (c == '"') {
      v.type = JsonValue::Type::kString;
      return String(v.text);
    }
    if (c == 't') {
      v.type = JsonValue::Type::kBool;
      v.boolean = true;
      return Literal("true");
    }
    if (c == 'f') {
      v.type = JsonValue::Type::kBool;
      return Literal("false");
    }
    if (c == 'n') return Literal("null");
    return Number(v);
  }
  bool Object(JsonValue& v, int depth) {
    v.type = JsonValue::Type::kObject;
    ++p_;
    SkipWs();
    if (p_ < s_.size() && s_[p_] == '}') {
      ++p_;
      return true;
    }
    while (true) {
      SkipWs();
      if (p_ >= s_.size() || s_[p_] != '"') return Fail("expected member name");
      std::string key;
      if (!String(key)) return false;
      SkipWs();
      if (p_ >= s_.size() || s_[p_] != ':') return Fail("expected ':'");
      ++p_;
      SkipWs();
      JsonValue member;
      if (!Value(member, depth + 1)) return false;
      v.members.emplace_back(std::move(key), std::move(member));
      SkipWs();
      if (p_ < s_.size() && s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == '}') {
        ++p_;
        return true;
      }
      return Fail("expected ',' or '}'");
    }
  }
  bool Array(JsonValue& v, int depth) {
    v.type = JsonValue::Type::kArray;
    ++p_;
    SkipWs();
    if (p_ < s_.size() && s_[p_] == ']') {
      ++p_;
      return true;
    }
    while (true) {
      SkipWs();
      JsonValue item;
      if (!Value(item, depth + 1)) return false;
      v.items.push_back(std::move(item));
      SkipWs();
      if (p_ < s_.size() && s_[p_] == ',') {
        ++p_;
        continue;
      }
      if (p_ < s_.size() && s_[p_] == ']') {
        ++p_;
        return true;
      }
      return Fail("expected ',' or ']'");
    }
  }
  static int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool String(std::string& out) {
    ++p_;  // opening quote
    while (p_ < s_.size()) {
      unsigned char c = static_cast<unsigned char>(s_[p_++]);
      if (c == '"') return true;
      if (c < 0x20) return Fail("control character in string");
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (p_ >= s_.size()) break;
      char e = s_[p_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (p_ + 4 > s_.size()) return Fail("short \\u escape");
          int code = 0;
          for (int i = 0; i < 4; ++i) {
            int h = Hex(s_[p_++]);
            if (h < 0) return Fail("bad \\u escape");
            code = code * 16 + h;
          }
          out += code < 0x80 ? static_cast<char>(code) : '?';  // tests only need ASCII
          break;
        }
        default: return Fail("bad escape");
      }
    }
    return Fail("unterminated string");
  }
  bool Digits() {
    size_t start = p_;
    while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') ++p_;
    return p_ > start;
  }
  bool Number(JsonValue& v) {
    size_t start = p_;
    if (s_[p_] == '-') ++p_;
    if (p_ >= s_.size()) return Fail("bad number");
    if (s_[p_] == '0') {
      ++p_;
    } else if (!Digits()) {
      return Fail("unexpected character");
    }
    if (p_ < s_.size() && s_[p_] == '.') {
      ++p_;
      if (!Digits()) return Fail("digits expected after '.'");
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      ++p_;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      if (!Digits()) return Fail("digits expected in exponent");
    }
    v.type = JsonValue::Type::kNumber;
    v.text = std::string(s_.substr(start, p_ - start));
    v.number = std::strtod(v.text.c_str(), nullptr);
    return true;
  }

  std::string_view s_;
  size_t p_ = 0;
  std::string error_;
};

inline bool ParseJson(std::string_view text, JsonValue& out, std::string& error) {
  return JsonParser(text).Parse(out, error);
}

}  // namespace weir::simulate::testing
