// Event time: milliseconds since the Unix epoch, UTC. Durations are milliseconds too.
//
//   Result<Timestamp> t = ParseIso8601("2026-02-16T10:30:00.123Z");
//   Result<Duration> d = ParseDuration("5m");       // 300000
//   std::string s = FormatIso8601(*t);              // "2026-02-16T10:30:00.123Z"
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "weir/base/result.h"

namespace weir {

using Timestamp = int64_t;  ///< ms since 1970-01-01T00:00:00Z
using Duration = int64_t;   ///< ms

inline constexpr Timestamp kMinTimestamp = std::numeric_limits<int64_t>::min();
inline constexpr Timestamp kMaxTimestamp = std::numeric_limits<int64_t>::max();
/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z: the years ToCivil and FormatIso8601 handle.
inline constexpr Timestamp kCivilMin = -62167219200000LL;
inline constexpr Timestamp kCivilMax = 253402300799999LL;
/// Timestamps whose calendar fields can be computed (years 0000 to 9999).
inline bool InCivilRange(Timestamp t) { return t >= kCivilMin && t <= kCivilMax; }

/// t + d and t - d (d ≥ 0) clamped to [kMinTimestamp, kMaxTimestamp]; the bounds, which stand for
/// "before everything" and "after everything", stay where they are.
inline Timestamp SatAdd(Timestamp t, Duration d) {
  if (t == kMinTimestamp) return kMinTimestamp;
  if (t > kMaxTimestamp - d) return kMaxTimestamp;
  return t + d;
}
inline Timestamp SatSub(Timestamp t, Duration d) {
  if (t == kMaxTimestamp) return kMaxTimestamp;
  if (t < kMinTimestamp + d) return kMinTimestamp;
  return t - d;
}

/// Parses "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS[.fff…]]" with "Z", "+HH:MM", "+HHMM" or no zone
/// (UTC). A space may stand for the 'T'. Returns nullopt on anything else.
std::optional<Timestamp> ParseIso8601(std::string_view s);

/// Parses the common shape "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes; nullopt for anything else,
/// which ParseIso8601 may still take). The time of the last minute parsed (the first 16 bytes) is
/// kept, as consecutive events almost always share it: then only the seconds and milliseconds are
/// parsed, inline. One per thread or decoder.
class CanonicalTimeParser {
 public:
  std::optional<Timestamp> Parse(std::string_view s) {
    if (s.size() != 24) return std::nullopt;
    const char* p = s.data();
    uint64_t lo, hi, tail;
    std::memcpy(&lo, p, 8);
    std::memcpy(&hi, p + 8, 8);
    std::memcpy(&tail, p + 16, 8);  // ":SS.mmmZ", little-endian: byte i at bits 8i
    if ((lo != lo_ || hi != hi_ || lo_ == 0) && !ParseMinute(p, lo, hi)) return std::nullopt;
    constexpr uint64_t kDigits = 0x00FFFFFF00FFFF00ULL;  // bytes 1, 2, 4, 5, 6
    constexpr uint64_t kShape = 0x5A0000002E00003AULL;   // ':' . . '.' . . . 'Z'
    if ((tail & ~kDigits) != kShape) return std::nullopt;
    const uint64_t d = (tail & kDigits) ^ (0x3030303030303030ULL & kDigits);  // each 0..9 if a digit
    if (((d | (d + (0x0606060606060606ULL & kDigits))) & (0xF0F0F0F0F0F0F0F0ULL & kDigits)) != 0) return std::nullopt;
    auto digit = [d](int byte) { return static_cast<int64_t>((d >> (8 * byte)) & 0xF); };
    const int64_t sec = digit(1) * 10 + digit(2);
    if (sec > 60) return std::nullopt;
    return minute_ + sec * 1000 + digit(4) * 100 + digit(5) * 10 + digit(6);
  }

 private:
  bool ParseMinute(const char* p, uint64_t lo, uint64_t hi);
  uint64_t lo_ = 0, hi_ = 0;  ///< bytes 0-7 and 8-15 of the last minute parsed
  Timestamp minute_ = 0;      ///< its time
};

/// "2026-02-16T10:30:00.123Z"
std::string FormatIso8601(Timestamp t);
/// Writes the 24 characters of FormatIso8601 into out; returns out + 24.
char* FormatIso8601To(Timestamp t, char* out);

/// Parses "250ms", "5s", "1m", "2h", "1d", "1w", or a combination such as "1h30m". Plain
/// integers are rejected: a unit is required.
Result<Duration> ParseDuration(std::string_view s);
/// "5m", "1h30m", "250ms", "0s"
std::string FormatDuration(Duration d);

/// Interprets a number as epoch time: values above 1e11 are taken as milliseconds, below as
/// seconds (1e11 s is year 5138; 1e11 ms is 1973). Numbers beyond what a Timestamp holds (and
/// NaN) give kMinTimestamp or kMaxTimestamp.
Timestamp EpochNumberToTimestamp(double v);

/// Wall clock in ms.
Timestamp NowMillis();
/// Monotonic clock in ns, for measuring.
int64_t MonotonicNanos();

/// floor(t / size) * size, correct for negative t.
inline Timestamp AlignDown(Timestamp t, Duration size) {
  Timestamp r = t % size;
  return r < 0 ? t - r - size : t - r;
}

/// Civil fields of a timestamp (UTC).
struct CivilTime {
  int year, month, day, hour, minute, second, millisecond;
  int day_of_week;  ///< 0 = Sunday, as JavaScript's getUTCDay()
  int day_of_year;  ///< 1..366
};
/// Outside the civil range, the fields of its nearest end.
CivilTime ToCivil(Timestamp t);
Timestamp FromCivil(int year, int month, int day, int hour = 0, int minute = 0, int second = 0, int millisecond = 0);

}  // namespace weir
