// Byte strings of up to 15 bytes held in two words, for hash-map keys that hash and compare as
// two integers: short group keys, the values count_distinct keeps.
//
//   SmallKey k = SmallKey::Of(encoded);            // encoded.size() <= SmallKey::kMax
//   absl::flat_hash_map<SmallKey, uint32_t> ids;   // 24-byte slots, no heap per key
//   char buf[16];  std::string_view back = k.bytes(buf);
//
// Built in registers from the source bytes (never stored to a buffer and loaded back as words,
// which stalls the load until the stores drain).
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "weir/base/hash.h"

namespace weir {

/// Loads n <= 16 bytes into two little-endian words, zero-filled, reading only [p, p + n).
inline void LoadUpTo16(const char* p, size_t n, uint64_t& lo, uint64_t& hi) {
  auto load64 = [](const char* q) {
    uint64_t v;
    std::memcpy(&v, q, 8);
    return v;
  };
  auto load32 = [](const char* q) {
    uint32_t v;
    std::memcpy(&v, q, 4);
    return static_cast<uint64_t>(v);
  };
  auto byte = [](char c) { return static_cast<uint64_t>(static_cast<uint8_t>(c)); };
  hi = 0;
  if (n >= 8) {
    lo = load64(p);
    if (n > 8) hi = load64(p + n - 8) >> (8 * (16 - n));
  } else if (n >= 4) {
    lo = load32(p) | (load32(p + n - 4) << (8 * (n - 4)));
  } else if (n > 0) {
    lo = byte(p[0]) | (byte(p[n / 2]) << (8 * (n / 2))) | (byte(p[n - 1]) << (8 * (n - 1)));
  } else {
    lo = 0;
  }
}

struct SmallKey {
  uint64_t lo = 0, hi = 0;  ///< the bytes, zero-padded; the top byte of `hi` is the length
  static constexpr size_t kMax = 15;

  bool operator==(const SmallKey&) const = default;
  template <typename H>
  friend H AbslHashValue(H h, const SmallKey& k) {
    return H::combine(std::move(h), k.lo, k.hi);
  }

  /// `bytes.size()` must be at most kMax.
  static SmallKey Of(std::string_view bytes) {
    SmallKey k;
    LoadUpTo16(bytes.data(), bytes.size(), k.lo, k.hi);
    k.hi |= static_cast<uint64_t>(bytes.size()) << 56;
    return k;
  }
  size_t size() const { return static_cast<size_t>(hi >> 56); }
  std::string_view bytes(char (&buf)[16]) const {
    std::memcpy(buf, &lo, 8);
    std::memcpy(buf + 8, &hi, 8);
    return {buf, size()};
  }
  /// Hash64 of the bytes. They are written with one 16-byte store, so that the hash's
  /// overlapping 8-byte loads are forwarded from it rather than waiting for it to drain.
  uint64_t Hash() const {
    alignas(16) char buf[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(buf),
                    _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo)));
    return Hash64(buf, size());
  }
};

}  // namespace weir
