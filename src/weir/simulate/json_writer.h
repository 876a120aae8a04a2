// Minimal, fast JSON text writing for generated events: raw pointer writes into a buffer the
// caller has sized for the largest possible event, so one event costs no allocation and no
// per-field capacity checks.
//
//   AppendBounded(out, 1024, [&](char* p) {
//     JsonWriter w(p);
//     w.Raw("{\"n\":");
//     w.Uint(42);
//     w.Raw("}");
//     return w.pos();
//   });
//
// Only strings that are known not to need escaping are written (all generated text is ASCII
// without quotes or backslashes), so there is no escaping code at all.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "weir/base/time.h"

namespace weir::simulate {

/// Appends at most `max_bytes` to `out` by calling `write(char* start) -> char* end`.
template <class F>
void AppendBounded(std::string& out, size_t max_bytes, F&& write) {
  const size_t old = out.size();
  out.resize_and_overwrite(old + max_bytes, [&](char* buf, size_t) {
    char* end = write(buf + old);
    return static_cast<size_t>(end - buf);
  });
}

/// Writes JSON pieces at a raw pointer; the caller guarantees the room.
class JsonWriter {
 public:
  explicit JsonWriter(char* p) : p_(p) {}

  char* pos() const { return p_; }
  /// Continues at p, after something else wrote up to it.
  void MoveTo(char* p) { p_ = p; }

  template <size_t N>
  void Raw(const char (&lit)[N]) {
    std::memcpy(p_, lit, N - 1);
    p_ += N - 1;
  }
  void Raw(std::string_view s) {
    std::memcpy(p_, s.data(), s.size());
    p_ += s.size();
  }
  void Char(char c) { *p_++ = c; }

  /// A JSON string whose content needs no escaping.
  void Str(std::string_view s) {
    *p_++ = '"';
    Raw(s);
    *p_++ = '"';
  }

  void Uint(uint64_t v) {
    char tmp[20];
    char* e = tmp + sizeof(tmp);
    char* b = e;
    do {
      *--b = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    Raw(std::string_view(b, static_cast<size_t>(e - b)));
  }

  /// v / 10^decimals with exactly `decimals` digits after the point: Fixed(1999, 2) -> 19.99.
  void Fixed(uint64_t v, int decimals) {
    uint64_t scale = 1;
    for (int i = 0; i < decimals; ++i) scale *= 10;
    Uint(v / scale);
    if (decimals == 0) return;
    *p_++ = '.';
    uint64_t frac = v % scale;
    for (int i = decimals - 1; i >= 0; --i) {
      p_[i] = static_cast<char>('0' + frac % 10);
      frac /= 10;
    }
    p_ += decimals;
  }

  /// Exactly `width` base-36 digits (0-9a-z) of v mod 36^width.
  void Base36(uint64_t v, int width) {
    static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    for (int i = width - 1; i >= 0; --i) {
      p_[i] = kDigits[v % 36];
      v /= 36;
    }
    p_ += width;
  }

 private:
  char* p_;
};

/// ISO-8601 formatting that reuses the date-and-seconds prefix while consecutive timestamps
/// fall in the same second, which most generated events do.
class IsoTimeFormatter {
 public:
  /// Writes the 24 characters of FormatIso8601(t) at p; returns p + 24.
  char* Write(Timestamp t, char* p) {
    Timestamp sec = t >= 0 ? t / 1000 : (t - 999) / 1000;
    if (sec != cached_sec_) {
      FormatIso8601To(sec * 1000, cache_);
      cached_sec_ = sec;
    }
    std::memcpy(p, cache_, 20);  // "YYYY-MM-DDTHH:MM:SS."
    int ms = static_cast<int>(t - sec * 1000);
    p[20] = static_cast<char>('0' + ms / 100);
    p[21] = static_cast<char>('0' + ms / 10 % 10);
    p[22] = static_cast<char>('0' + ms % 10);
    p[23] = 'Z';
    return p + 24;
  }

 private:
  Timestamp cached_sec_ = kMinTimestamp;
  char cache_[24];
};

}  // namespace weir::simulate
