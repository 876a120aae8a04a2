#include "weir/model/key_codec.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace weir {
namespace {

enum Tag : uint8_t {
  kNullTag = 0x01,
  kFalseTag = 0x02,
  kTrueTag = 0x03,
  kNumberTag = 0x10,
  kTimeTag = 0x20,
  kStringTag = 0x30,
  kJsonTag = 0x40,
};

void PutBigEndian(uint64_t v, std::string& out) {
  char b[8];
  for (int i = 7; i >= 0; --i) {
    b[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(b, 8);
}

uint64_t GetBigEndian(std::string_view& in) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(in.size()); ++i) v = (v << 8) | static_cast<uint8_t>(in[i]);
  in.remove_prefix(std::min<size_t>(8, in.size()));
  return v;
}

uint64_t SortableDouble(double d) {
  if (d == 0) d = 0;  // -0.0 sorts as 0.0
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return (bits & (1ULL << 63)) ? ~bits : bits | (1ULL << 63);
}

double FromSortableDouble(uint64_t bits) {
  bits = (bits & (1ULL << 63)) ? bits & ~(1ULL << 63) : ~bits;
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

uint64_t SortableInt(int64_t i) { return static_cast<uint64_t>(i) ^ (1ULL << 63); }
int64_t FromSortableInt(uint64_t u) { return static_cast<int64_t>(u ^ (1ULL << 63)); }

// Strings: bytes with 0x00 escaped as 0x00 0xFF, terminated by 0x00 0x01.
void PutBytes(std::string_view s, std::string& out) {
  const char* p = s.data();
  const char* end = p + s.size();
  while (const char* z = static_cast<const char*>(std::memchr(p, '\0', static_cast<size_t>(end - p)))) {
    out.append(p, static_cast<size_t>(z - p) + 1);
    out.push_back(static_cast<char>(0xFF));
    p = z + 1;
  }
  out.append(p, static_cast<size_t>(end - p));
  out.append("\0\x01", 2);
}

// True if one of the low `n` bytes of `w` is 0x00 (n <= 8).
bool HasZeroByte(uint64_t w, size_t n) {
  if (n == 0) return false;
  if (n < 8) w |= ~0ULL << (8 * n);
  return ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL) != 0;
}

std::string_view GetBytes(std::string_view& in, Arena* arena) {
  size_t i = 0;
  bool escaped = false;
  while (i + 1 < in.size()) {
    if (in[i] == '\0') {
      if (in[i + 1] == '\x01') break;
      escaped = true;
      i += 2;
      continue;
    }
    ++i;
  }
  std::string_view raw = in.substr(0, i);
  in.remove_prefix(std::min(in.size(), i + 2));
  if (!escaped) return raw;
  std::string tmp;
  for (size_t k = 0; k < raw.size(); ++k) {
    tmp.push_back(raw[k]);
    if (raw[k] == '\0') ++k;  // skip the 0xFF escape
  }
  return arena ? arena->Copy(tmp) : std::string_view();
}

}  // namespace

void EncodeKey(const Value& v, std::string& out) {
  switch (v.type()) {
    case ValueType::kNull: out.push_back(static_cast<char>(kNullTag)); break;
    case ValueType::kBool: out.push_back(static_cast<char>(v.as_bool() ? kTrueTag : kFalseTag)); break;
    case ValueType::kInt:
      out.push_back(static_cast<char>(kNumberTag));
      PutBigEndian(SortableDouble(static_cast<double>(v.as_int())), out);
      out.push_back('\0');
      PutBigEndian(SortableInt(v.as_int()), out);
      break;
    case ValueType::kDouble: {
      double d = v.as_double();
      if (d == std::trunc(d) && d >= -9.2e18 && d <= 9.2e18) {
        EncodeKey(Value::Int(static_cast<int64_t>(d)), out);
        break;
      }
      out.push_back(static_cast<char>(kNumberTag));
      PutBigEndian(SortableDouble(d), out);
      out.push_back('\x01');
      break;
    }
    case ValueType::kTimestamp:
      out.push_back(static_cast<char>(kTimeTag));
      PutBigEndian(SortableInt(v.as_time()), out);
      break;
    case ValueType::kString:
    case ValueType::kJson: {
      const char tag = static_cast<char>(v.type() == ValueType::kString ? kStringTag : kJsonTag);
      const std::string_view s = v.as_string();
      const size_t n = s.size();
      // Most keys are short and hold no 0x00: the tag, the bytes and the terminator in one write.
      if (n <= 16) {
        uint64_t a, b;
        LoadUpTo16(s.data(), n, a, b);
        if (!HasZeroByte(a, std::min<size_t>(n, 8)) && !(n > 8 && HasZeroByte(b, n - 8))) {
          char buf[19];
          buf[0] = tag;
          if (n) std::memcpy(buf + 1, s.data(), n);
          buf[1 + n] = '\0';
          buf[2 + n] = '\x01';
          out.append(buf, n + 3);
          break;
        }
      }
      out.push_back(tag);
      PutBytes(s, out);
      break;
    }
  }
}

bool EncodeShortStringKey(std::string_view s, SmallKey& key) {
  const size_t n = s.size();
  if (n > 12) return false;
  uint64_t a, b;
  LoadUpTo16(s.data(), n, a, b);
  if (HasZeroByte(a, std::min<size_t>(n, 8)) || (n > 8 && HasZeroByte(b, n - 8))) return false;
  // tag, the bytes, 0x00 0x01 (PutBytes), then the length in byte 15.
  using U128 = unsigned __int128;
  U128 v = ((static_cast<U128>(b) << 64) | a) << 8;
  v |= kStringTag;
  v |= static_cast<U128>(1) << (8 * (n + 2));
  v |= static_cast<U128>(n + 3) << 120;
  key.lo = static_cast<uint64_t>(v);
  key.hi = static_cast<uint64_t>(v >> 64);
  return true;
}

Value DecodeKey(std::string_view& in, Arena* arena) {
  if (in.empty()) return Value::Null();
  uint8_t tag = static_cast<uint8_t>(in[0]);
  in.remove_prefix(1);
  switch (tag) {
    case kNullTag: return Value::Null();
    case kFalseTag: return Value::Bool(false);
    case kTrueTag: return Value::Bool(true);
    case kNumberTag: {
      double d = FromSortableDouble(GetBigEndian(in));
      if (in.empty()) return Value::Double(d);
      char kind = in[0];
      in.remove_prefix(1);
      if (kind == '\0') return Value::Int(FromSortableInt(GetBigEndian(in)));
      return Value::Double(d);
    }
    case kTimeTag: return Value::Time(FromSortableInt(GetBigEndian(in)));
    case kStringTag: return Value::String(GetBytes(in, arena));
    case kJsonTag: return Value::Json(GetBytes(in, arena));
    default: in = {}; return Value::Null();
  }
}

}  // namespace weir
