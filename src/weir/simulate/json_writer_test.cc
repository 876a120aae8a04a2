#include "weir/simulate/json_writer.h"

#include <gtest/gtest.h>

namespace weir::simulate {
namespace {

std::string Written(auto&& f) {
  std::string out = "x";
  AppendBounded(out, 64, [&](char* p) {
    JsonWriter w(p);
    f(w);
    return w.pos();
  });
  return out.substr(1);
}

TEST(JsonWriter, FixedPointNumbers) {
  EXPECT_EQ(Written([](JsonWriter& w) { w.Fixed(1999, 2); }), "19.99");
  EXPECT_EQ(Written([](JsonWriter& w) { w.Fixed(5, 2); }), "0.05");
  EXPECT_EQ(Written([](JsonWriter& w) { w.Fixed(42, 4); }), "0.0042");
  EXPECT_EQ(Written([](JsonWriter& w) { w.Fixed(24750, 0); }), "24750");
  EXPECT_EQ(Written([](JsonWriter& w) { w.Fixed(100, 2); }), "1.00");
}

TEST(JsonWriter, IntegersStringsBase36) {
  EXPECT_EQ(Written([](JsonWriter& w) { w.Uint(0); }), "0");
  EXPECT_EQ(Written([](JsonWriter& w) { w.Uint(18446744073709551615ULL); }), "18446744073709551615");
  EXPECT_EQ(Written([](JsonWriter& w) { w.Str("a b"); }), "\"a b\"");
  EXPECT_EQ(Written([](JsonWriter& w) { w.Base36(35, 3); }), "00z");
  EXPECT_EQ(Written([](JsonWriter& w) { w.Base36(36 * 36, 3); }), "100");
}

TEST(JsonWriter, AppendBoundedKeepsExistingContentAndExactSize) {
  std::string out = "{\"a\":1}\n";
  AppendBounded(out, 1024, [](char* p) {
    JsonWriter w(p);
    w.Raw("{}");
    return w.pos();
  });
  EXPECT_EQ(out, "{\"a\":1}\n{}");
}

TEST(IsoTimeFormatter, MatchesFormatIso8601AcrossSecondsAndEpoch) {
  IsoTimeFormatter f;
  for (Timestamp t : {1771237800123LL, 1771237800999LL, 1771237801000LL, 1771237800000LL, 0LL, -1LL, -1000LL,
                      -1001LL, 951782400000LL, 1771237800500LL}) {
    char buf[24];
    char* end = f.Write(t, buf);
    ASSERT_EQ(end - buf, 24);
    EXPECT_EQ(std::string(buf, 24), FormatIso8601(t)) << t;
  }
}

}  // namespace
}  // namespace weir::simulate
