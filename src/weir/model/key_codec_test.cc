#include "weir/model/key_codec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

namespace weir {
namespace {

std::string Enc(const Value& v) {
  std::string s;
  EncodeKey(v, s);
  return s;
}

TEST(KeyCodec, OrderMatchesCompareTotal) {
  std::string a("a\0b", 3), a2("a\0", 2);
  std::vector<Value> vals = {Value::Null(),       Value::Bool(false),      Value::Bool(true),   Value::Int(-5),
                             Value::Double(-4.5), Value::Int(0),           Value::Double(0.25), Value::Int(1),
                             Value::Int(1LL << 60), Value::Double(1e300),  Value::Time(5),      Value::String(""),
                             Value::String(a2),   Value::String(a),        Value::String("a"),  Value::String("b")};
  for (const Value& x : vals)
    for (const Value& y : vals) {
      int c = CompareTotal(x, y);
      int e = Enc(x).compare(Enc(y));
      EXPECT_EQ(c < 0, e < 0) << ToText(x) << " vs " << ToText(y);
      EXPECT_EQ(c == 0, e == 0) << ToText(x) << " vs " << ToText(y);
    }
}

TEST(KeyCodec, RoundTripsTuples) {
  Arena arena;
  std::string a("x\0y", 3);
  std::string key;
  std::vector<Value> in = {Value::String(a), Value::Int(-7), Value::Double(2.5), Value::Null(), Value::Bool(true),
                           Value::Time(99), Value::String("USD")};
  for (auto& v : in) EncodeKey(v, key);
  std::string_view p = key;
  for (auto& v : in) {
    Value got = DecodeKey(p, &arena);
    EXPECT_TRUE(got.IdenticalTo(v)) << ToText(v) << " got " << ToText(got);
  }
  EXPECT_TRUE(p.empty());
}

// Strings encode as the tag, the bytes with 0x00 escaped as 0x00 0xFF, then 0x00 0x01: short ones
// without 0x00 take a path of their own, which must write the same.
TEST(KeyCodec, StringsOfEveryLengthWithAndWithoutZeroBytes) {
  for (size_t len = 0; len <= 24; ++len) {
    for (int zero = -1; zero < static_cast<int>(len); ++zero) {
      std::string text;
      for (size_t i = 0; i < len; ++i) text += static_cast<char>('a' + i);
      if (zero >= 0) text[static_cast<size_t>(zero)] = '\0';
      std::string want(1, '\x30');
      for (char c : text) want += c == '\0' ? std::string("\0\xff", 2) : std::string(1, c);
      want += std::string("\0\x01", 2);
      std::string out = "prefix";  // appended to what is there
      EncodeKey(Value::String(text), out);
      EXPECT_EQ(out, "prefix" + want) << len << " " << zero;
      Arena arena;
      std::string_view in = std::string_view(out).substr(6);
      EXPECT_EQ(DecodeKey(in, &arena).as_string(), text);
      EXPECT_TRUE(in.empty());
    }
  }
}

TEST(KeyCodec, IntegralDoubleEqualsInt) { EXPECT_EQ(Enc(Value::Double(3.0)), Enc(Value::Int(3))); }

TEST(KeyCodec, ShortStringKeyIsTheEncodingInTwoWords) {
  std::string text = "user_21742\xff\x7f" "abcdefgh";
  for (size_t start = 0; start < 4; ++start) {
    for (size_t len = 0; len + start <= text.size(); ++len) {
      std::string_view s(text.data() + start, len);
      SmallKey key{1, 2};
      bool ok = EncodeShortStringKey(s, key);
      ASSERT_EQ(ok, len <= 12) << len;
      if (!ok) continue;
      std::string enc = Enc(Value::String(s));
      char want[16] = {};
      std::memcpy(want, enc.data(), enc.size());
      want[15] = static_cast<char>(enc.size());
      char got[16];
      std::memcpy(got, &key.lo, 8);
      std::memcpy(got + 8, &key.hi, 8);
      EXPECT_EQ(std::string(got, 16), std::string(want, 16)) << "'" << s << "'";
      EXPECT_EQ(key, SmallKey::Of(enc));
    }
  }
  // A string with a 0x00 byte (escaped in the encoding) is not a short key, wherever the byte is.
  for (size_t at = 0; at < 12; ++at) {
    std::string z(12, 'x');
    z[at] = '\0';
    SmallKey key;
    EXPECT_FALSE(EncodeShortStringKey(z, key)) << at;
    EXPECT_FALSE(EncodeShortStringKey(std::string_view(z).substr(0, at + 1), key)) << at;
  }
}

TEST(SmallKey, HoldsUpTo15BytesExactly) {
  const std::string text = "\x01\x80 abcdefghijklmnop\xff";
  for (size_t start = 0; start < 3; ++start) {
    for (size_t len = 0; len <= SmallKey::kMax; ++len) {
      std::string_view s(text.data() + start, len);
      SmallKey k = SmallKey::Of(s);
      char buf[16];
      EXPECT_EQ(k.bytes(buf), s);
      EXPECT_EQ(k.size(), len);
      EXPECT_EQ(k.Hash(), Hash64(s));
      // Equal exactly when the bytes are (a shorter prefix padded with zeros is another key).
      std::string zero(s);
      zero.push_back('\0');
      if (zero.size() <= SmallKey::kMax) {
        EXPECT_FALSE(SmallKey::Of(zero) == k);
      }
    }
  }
}

}  // namespace
}  // namespace weir
