// Small helpers shared by aggregate implementations: numeric coercion, owned values, and the
// little-endian encoding used by Serialize/Deserialize.
#pragma once

#include <cstdint>
#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "weir/base/result.h"
#include "weir/model/key_codec.h"
#include "weir/model/value.h"

namespace weir::aggregate {

/// A number, or a string that is wholly a number, as a numeric Value; anything else Null.
inline Value Numeric(const Value& v) {
  if (v.is_number()) return v;
  if (v.is_string()) {
    if (auto n = ParseNumber(v.as_string())) return *n;
  }
  return Value::Null();
}

template <class T>
T* As(char* p) {
  return std::launder(reinterpret_cast<T*>(p));
}
template <class T>
const T* As(const char* p) {
  return std::launder(reinterpret_cast<const T*>(p));
}

inline void PutU64(std::string& out, uint64_t v) {
  char b[8];
  std::memcpy(b, &v, 8);
  out.append(b, 8);
}
inline void PutI64(std::string& out, int64_t v) { PutU64(out, static_cast<uint64_t>(v)); }
inline void PutF64(std::string& out, double v) {
  uint64_t u = 0;
  std::memcpy(&u, &v, 8);
  PutU64(out, u);
}
inline void PutBytes(std::string& out, std::string_view s) {
  PutU64(out, s.size());
  out.append(s);
}

inline Status GetU64(std::string_view& in, uint64_t* v) {
  if (in.size() < 8) return Fail("aggregate state is truncated");
  std::memcpy(v, in.data(), 8);
  in.remove_prefix(8);
  return Ok();
}
inline Status GetI64(std::string_view& in, int64_t* v) {
  uint64_t u = 0;
  WEIR_RETURN_IF_ERROR(GetU64(in, &u));
  *v = static_cast<int64_t>(u);
  return Ok();
}
inline Status GetF64(std::string_view& in, double* v) {
  uint64_t u = 0;
  WEIR_RETURN_IF_ERROR(GetU64(in, &u));
  std::memcpy(v, &u, 8);
  return Ok();
}
inline Status GetBytes(std::string_view& in, std::string_view* s) {
  uint64_t n = 0;
  WEIR_RETURN_IF_ERROR(GetU64(in, &n));
  if (in.size() < n) return Fail("aggregate state is truncated");
  *s = in.substr(0, n);
  in.remove_prefix(n);
  return Ok();
}

/// LEB128 varint: sketches write many small numbers (bucket counts, sorted-hash deltas).
inline void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
inline Status GetVarint(std::string_view& in, uint64_t* v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return Fail("aggregate state is truncated");
    uint8_t b = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    r |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *v = r;
      return Ok();
    }
  }
  return Fail("aggregate state has a malformed varint");
}
/// Signed varints: small magnitudes of either sign stay short.
inline void PutSignedVarint(std::string& out, int64_t v) {
  PutVarint(out, (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
}
inline Status GetSignedVarint(std::string_view& in, int64_t* v) {
  uint64_t u = 0;
  WEIR_RETURN_IF_ERROR(GetVarint(in, &u));
  *v = static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  return Ok();
}

/// A Value that owns its bytes, kept as its key encoding (so it also orders and hashes).
class OwnedValue {
 public:
  bool empty() const { return key_.empty(); }
  void Set(const Value& v) {
    key_.clear();
    EncodeKey(v, key_);
  }
  void Clear() { key_.clear(); }
  Value Get(Arena& arena) const {
    std::string_view in = key_;
    Value v = DecodeKey(in, &arena);
    if (v.is_string()) return Value::String(arena.Copy(v.as_string()));
    if (v.is_json()) return Value::Json(arena.Copy(v.as_string()));
    return v;
  }
  const std::string& key() const { return key_; }
  void SetKey(std::string_view k) { key_.assign(k); }

 private:
  std::string key_;
};

}  // namespace weir::aggregate
