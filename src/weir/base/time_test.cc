#include "weir/base/time.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

namespace weir {
namespace {

TEST(Time, ParsesIsoForms) {
  EXPECT_EQ(ParseIso8601("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseIso8601("1970-01-01T00:00:01.5Z"), 1500);
  EXPECT_EQ(ParseIso8601("1970-01-01T00:00:01.123456Z"), 1123);
  EXPECT_EQ(ParseIso8601("1970-01-01"), 0);
  EXPECT_EQ(ParseIso8601("1970-01-01 01:00"), 3600000);
  EXPECT_EQ(ParseIso8601("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(ParseIso8601("1970-01-01T00:00:00-0130"), 5400000);
  EXPECT_EQ(ParseIso8601("2026-02-16T10:30:00.000Z"), 1771237800000);
}

// The common shape ("YYYY-MM-DDTHH:MM:SS.mmmZ") has a path of its own: it must read every such
// string, valid or off by one character, as the general parser reads the same time written with
// an offset instead of "Z".
TEST(Time, CanonicalShapeAgreesWithTheGeneralParser) {
  std::mt19937_64 rng(11);
  const std::string alphabet = "0123456789-:T. tZ+/\xff\xcc";
  CanonicalTimeParser own;
  for (int i = 0; i < 200000; ++i) {
    Timestamp t = static_cast<Timestamp>(rng() % 4102444800000ULL) - 62135596800000LL / 4;
    if (i % 3 == 0) t = 1771237800000 + static_cast<Timestamp>(rng() % 86400000);  // one day, cached
    if (i % 3 == 1) t = 1771237800000 + static_cast<Timestamp>(rng() % 120000);  // two minutes, cached
    std::string s = FormatIso8601(t);
    ASSERT_EQ(s.size(), 24u) << s;
    if (i % 2) s[rng() % 23] = alphabet[rng() % alphabet.size()];
    std::string general = s.substr(0, 23) + "+00:00";
    EXPECT_EQ(ParseIso8601(s), ParseIso8601(general)) << s;
    // The parser a decoder keeps reads the shape alone, and the same.
    std::optional<Timestamp> c = own.Parse(s);
    if (c || i % 2 == 0) {
      EXPECT_EQ(c, ParseIso8601(general)) << s;
    }
  }
  EXPECT_FALSE(ParseIso8601("2026-02-29T00:00:00.000Z"));
  EXPECT_EQ(ParseIso8601("2024-02-29T23:59:60.999Z"), *ParseIso8601("2024-03-01T00:00:00.999Z"));
}

TEST(Time, RejectsMalformed) {
  EXPECT_FALSE(ParseIso8601(""));
  EXPECT_FALSE(ParseIso8601("2026-13-01"));
  EXPECT_FALSE(ParseIso8601("2026-02-30"));
  EXPECT_FALSE(ParseIso8601("2026-02-16T25:00:00Z"));
  EXPECT_FALSE(ParseIso8601("2026-02-16T10:30:00Zjunk"));
  EXPECT_FALSE(ParseIso8601("yesterday"));
}

TEST(Time, FormatsRoundTrip) {
  for (Timestamp t : {0LL, 1771237800123LL, -1LL, 951782400000LL}) {
    EXPECT_EQ(ParseIso8601(FormatIso8601(t)), t) << FormatIso8601(t);
  }
  EXPECT_EQ(FormatIso8601(1771237800123), "2026-02-16T10:30:00.123Z");
  EXPECT_EQ(FormatIso8601(-1), "1969-12-31T23:59:59.999Z");
}

TEST(Time, Civil) {
  CivilTime c = ToCivil(*ParseIso8601("2026-02-16T10:30:00Z"));
  EXPECT_EQ(c.hour, 10);
  EXPECT_EQ(c.day_of_week, 1);  // Monday
  EXPECT_EQ(c.day_of_year, 47);
}

TEST(Time, Durations) {
  EXPECT_EQ(ParseDuration("250ms"), 250);
  EXPECT_EQ(ParseDuration("5s"), 5000);
  EXPECT_EQ(ParseDuration("1m"), 60000);
  EXPECT_EQ(ParseDuration("1h30m"), 5400000);
  EXPECT_EQ(ParseDuration("1d"), 86400000);
  EXPECT_EQ(ParseDuration("1.5s"), 1500);
  EXPECT_FALSE(ParseDuration("5"));
  EXPECT_FALSE(ParseDuration("5 parsecs"));
  EXPECT_FALSE(ParseDuration(""));
  EXPECT_FALSE(ParseDuration("9999999999999999999d9999999999999999999d"));
  EXPECT_EQ(FormatDuration(5400000), "1h30m");
  EXPECT_EQ(FormatDuration(250), "250ms");
}

TEST(Time, NumbersAndTimesBeyondTheRange) {
  EXPECT_EQ(EpochNumberToTimestamp(1e300), kMaxTimestamp);
  EXPECT_EQ(EpochNumberToTimestamp(-1e300), kMinTimestamp);
  EXPECT_EQ(EpochNumberToTimestamp(std::nan("")), kMinTimestamp);
  EXPECT_EQ(EpochNumberToTimestamp(1700000000), 1700000000000);
  // Formatting clamps to years 0000-9999 instead of overflowing.
  EXPECT_EQ(FormatIso8601(kMinTimestamp), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601(kMaxTimestamp), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(FormatIso8601(kCivilMin), "0000-01-01T00:00:00.000Z");
}

TEST(Time, AlignDown) {
  EXPECT_EQ(AlignDown(61000, 60000), 60000);
  EXPECT_EQ(AlignDown(60000, 60000), 60000);
  EXPECT_EQ(AlignDown(-1, 60000), -60000);
}

}  // namespace
}  // namespace weir
