#include "weir/server/url.h"

#include <gtest/gtest.h>

namespace weir::server {
namespace {

TEST(Url, PercentDecode) {
  EXPECT_EQ(PercentDecode("/a%2Fb%20c"), "/a/b c");
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("a+b", true), "a b");
  EXPECT_EQ(PercentDecode("%e2%82%AC"), "\xe2\x82\xac");
  // Malformed escapes stay as they are.
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(PercentDecode("%00x"), std::string("\0x", 2));
}

TEST(Url, PercentEncodeRoundTrips) {
  EXPECT_EQ(PercentEncode("country = 'DE'"), "country%20%3D%20%27DE%27");
  EXPECT_EQ(PercentEncode("a/b", true), "a/b");
  EXPECT_EQ(PercentEncode("a/b"), "a%2Fb");
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(PercentDecode(PercentEncode(all)), all);
}

TEST(Url, ParseQuery) {
  std::vector<std::pair<std::string, std::string>> q;
  ParseQuery("a=1&&b=x%20y&c=p+q&flag&a=2&=v", q);
  std::vector<std::pair<std::string, std::string>> want = {{"a", "1"},   {"b", "x y"}, {"c", "p q"},
                                                           {"flag", ""}, {"a", "2"},   {"", "v"}};
  EXPECT_EQ(q, want);
}

TEST(Url, SplitTarget) {
  TargetParts p;
  ASSERT_TRUE(SplitTarget("/api/v1/x?y=1&z", p));
  EXPECT_EQ(p.path, "/api/v1/x");
  EXPECT_EQ(p.query, "y=1&z");
  ASSERT_TRUE(SplitTarget("/plain", p));
  EXPECT_EQ(p.path, "/plain");
  EXPECT_EQ(p.query, "");
  ASSERT_TRUE(SplitTarget("http://example.com:8080/a/b?c=d", p));
  EXPECT_EQ(p.path, "/a/b");
  EXPECT_EQ(p.query, "c=d");
  ASSERT_TRUE(SplitTarget("http://example.com", p));
  EXPECT_EQ(p.path, "/");
  ASSERT_TRUE(SplitTarget("/a#frag", p));
  EXPECT_EQ(p.path, "/a");
  ASSERT_TRUE(SplitTarget("*", p));
  EXPECT_EQ(p.path, "*");
  EXPECT_FALSE(SplitTarget("relative/path", p));
  EXPECT_FALSE(SplitTarget("", p));
}

}  // namespace
}  // namespace weir::server
