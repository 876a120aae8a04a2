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
  uint64_t u;
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
  uint64_t u;
  WEIR_RETURN_IF_ERROR(GetU64(in, &u));
  *v = static_cast<int64_t>(u);
  return Ok();
}
inline Status GetF64(std::string_view& in, double* v) {
  uint64_t u;
  WEIR_RETURN_IF_ERROR(GetU64(in, &u));
  std::memcpy(v, &u, 8);
  return Ok();
}
inline Status GetBytes(std::string_view& in, std::string_view* s) {
  uint64_t n;
  WEIR_RETURN_IF_ERROR(GetU64(in, &n));
  if (in.size() < n) return Fail("aggregate state is truncated");
  *s = in.substr(0, n);
  in.remove_prefix(n);
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
