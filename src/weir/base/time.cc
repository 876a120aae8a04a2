#include "weir/base/time.h"

#include <chrono>
#include <cctype>
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace weir {
namespace {

using namespace std::chrono;

bool Digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; ++i) {
    unsigned d = static_cast<unsigned char>(s[pos + i]) - '0';
    if (d > 9) return false;
    v = v * 10 + static_cast<int>(d);
  }
  out = v;
  return true;
}

int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  return sys_days(year_month_day(year(y), month(m), day(d))).time_since_epoch().count();
}

}  // namespace

Timestamp FromCivil(int y, int mo, int d, int h, int mi, int s, int ms) {
  return ((DaysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60000LL + s * 1000LL + ms;
}

namespace {
inline bool TwoDigits(const char* p, int& out) {
  unsigned a = static_cast<unsigned char>(p[0]) - '0', b = static_cast<unsigned char>(p[1]) - '0';
  out = static_cast<int>(a * 10 + b);
  return a <= 9 && b <= 9;
}
}  // namespace

bool CanonicalTimeParser::ParseMinute(const char* p, uint64_t lo, uint64_t hi) {
  int y1, y2, mo, d, h, mi;
  if (p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':') return false;
  if (!TwoDigits(p, y1) || !TwoDigits(p + 2, y2) || !TwoDigits(p + 5, mo) || !TwoDigits(p + 8, d) ||
      !TwoDigits(p + 11, h) || !TwoDigits(p + 14, mi) || h > 23 || mi > 59)
    return false;
  if (!year_month_day(year(y1 * 100 + y2), month(mo), day(d)).ok()) return false;
  minute_ = (DaysFromCivil(y1 * 100 + y2, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 24 + h) * 3600000LL +
            mi * 60000LL;
  lo_ = lo;
  hi_ = hi;
  return true;
}

std::optional<Timestamp> ParseIso8601(std::string_view s) {
  if (s.size() == 24) {
    thread_local CanonicalTimeParser canonical;
    if (auto t = canonical.Parse(s)) return t;
  }
  int y, mo, d;
  if (s.size() < 10 || !Digits(s, 0, 4, y) || s[4] != '-' || !Digits(s, 5, 2, mo) || s[7] != '-' ||
      !Digits(s, 8, 2, d))
    return std::nullopt;
  if (mo < 1 || mo > 12 || d < 1 || d > 31) return std::nullopt;
  if (!year_month_day(year(y), month(mo), day(d)).ok()) return std::nullopt;
  int h = 0, mi = 0, sec = 0, ms = 0;
  size_t p = 10;
  if (p < s.size() && (s[p] == 'T' || s[p] == 't' || s[p] == ' ')) {
    if (!Digits(s, p + 1, 2, h) || p + 3 >= s.size() || s[p + 3] != ':' || !Digits(s, p + 4, 2, mi))
      return std::nullopt;
    p += 6;
    if (p < s.size() && s[p] == ':') {
      if (!Digits(s, p + 1, 2, sec)) return std::nullopt;
      p += 3;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        size_t start = p;
        int scale = 100;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          ms += (s[p] - '0') * scale;
          scale /= 10;
          ++p;
        }
        if (p == start) return std::nullopt;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return std::nullopt;
  }
  int64_t offset_min = 0;
  if (p < s.size()) {
    char c = s[p];
    if ((c == 'Z' || c == 'z') && p + 1 == s.size()) {
      p++;
    } else if (c == '+' || c == '-') {
      int oh, om = 0;
      if (!Digits(s, p + 1, 2, oh)) return std::nullopt;
      size_t q = p + 3;
      if (q < s.size() && s[q] == ':') ++q;
      if (q < s.size()) {
        if (!Digits(s, q, 2, om)) return std::nullopt;
        q += 2;
      }
      if (q != s.size() || oh > 23 || om > 59) return std::nullopt;
      offset_min = (oh * 60 + om) * (c == '+' ? 1 : -1);
    } else {
      return std::nullopt;
    }
  }
  return FromCivil(y, mo, d, h, mi, sec, ms) - offset_min * 60000;
}

CivilTime ToCivil(Timestamp t) {
  t = std::clamp(t, kCivilMin, kCivilMax);
  int64_t days = t >= 0 ? t / 86400000 : (t - 86399999) / 86400000;
  int64_t rem = t - days * 86400000;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  CivilTime c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  c.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  c.hour = static_cast<int>(rem / 3600000);
  c.minute = static_cast<int>(rem / 60000 % 60);
  c.second = static_cast<int>(rem / 1000 % 60);
  c.millisecond = static_cast<int>(rem % 1000);
  c.day_of_week = static_cast<int>(weekday(sys_days{std::chrono::days{days}}).c_encoding());
  c.day_of_year = static_cast<int>(days - DaysFromCivil(c.year, 1, 1) + 1);
  return c;
}

char* FormatIso8601To(Timestamp t, char* o) {
  CivilTime c = ToCivil(t);
  auto put = [&](int v, int n) {
    for (int i = n - 1; i >= 0; --i) {
      o[i] = static_cast<char>('0' + v % 10);
      v /= 10;
    }
    o += n;
  };
  put(c.year, 4);
  *o++ = '-';
  put(c.month, 2);
  *o++ = '-';
  put(c.day, 2);
  *o++ = 'T';
  put(c.hour, 2);
  *o++ = ':';
  put(c.minute, 2);
  *o++ = ':';
  put(c.second, 2);
  *o++ = '.';
  put(c.millisecond, 3);
  *o++ = 'Z';
  return o;
}

std::string FormatIso8601(Timestamp t) {
  char buf[24];
  char* end = FormatIso8601To(t, buf);
  return std::string(buf, end);
}

Result<Duration> ParseDuration(std::string_view s) {
  if (s.empty()) return Fail("empty duration; expected a number with a unit such as 500ms, 5s, 1m, 2h, 1d");
  Duration total = 0;
  size_t p = 0;
  bool any = false;
  while (p < s.size()) {
    size_t start = p;
    while (p < s.size() && ((s[p] >= '0' && s[p] <= '9') || s[p] == '.')) ++p;
    if (p == start)
      return Fail("invalid duration '{}'; expected a number with a unit such as 500ms, 5s, 1m, 2h, 1d", s);
    double v = std::strtod(std::string(s.substr(start, p - start)).c_str(), nullptr);
    size_t ustart = p;
    while (p < s.size() && std::isalpha(static_cast<unsigned char>(s[p]))) ++p;
    std::string_view unit = s.substr(ustart, p - ustart);
    double mult;
    if (unit == "ms") mult = 1;
    else if (unit == "s" || unit == "sec") mult = 1000;
    else if (unit == "m" || unit == "min") mult = 60000;
    else if (unit == "h") mult = 3600000;
    else if (unit == "d") mult = 86400000;
    else if (unit == "w") mult = 7 * 86400000.0;
    else if (unit.empty())
      return Fail("duration '{}' has no unit; write e.g. {}s or {}ms", s, s.substr(start, p - start),
                  s.substr(start, p - start));
    else
      return Fail("unknown unit '{}' in duration '{}'; expected ms, s, m, h, d or w", unit, s);
    double ms = v * mult;
    // A century is far beyond any window or timeout; larger values are typos.
    if (!(ms <= 3.2e12) || total > static_cast<Duration>(3.2e12) - static_cast<Duration>(ms))
      return Fail("duration '{}' is too long; the limit is 100 years", s);
    total += static_cast<Duration>(std::llround(ms));
    any = true;
  }
  if (!any) return Fail("invalid duration '{}'", s);
  return total;
}

std::string FormatDuration(Duration d) {
  if (d == 0) return "0s";
  std::string out;
  if (d < 0) {
    out += '-';
    d = -d;
  }
  static constexpr struct {
    Duration ms;
    const char* unit;
  } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& u : units) {
    if (d >= u.ms) {
      out += fmt::format("{}{}", d / u.ms, u.unit);
      d %= u.ms;
    }
  }
  return out;
}

Timestamp EpochNumberToTimestamp(double v) {
  if (std::isnan(v)) return kMinTimestamp;
  if (std::fabs(v) >= 9e18) return v > 0 ? kMaxTimestamp : kMinTimestamp;
  if (std::fabs(v) >= 1e11) return static_cast<Timestamp>(v);
  return static_cast<Timestamp>(std::llround(v * 1000.0));
}

Timestamp NowMillis() {
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

int64_t MonotonicNanos() {
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace weir
