#include "weir/server/router.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "weir/server/exchange.h"

namespace weir::server::detail {
namespace {

using ::testing::HasSubstr;

Handler Tagged(std::string tag, std::string* hit) {
  return [tag, hit](Request&, Responder done) {
    *hit = tag;
    done(Response::Text(200, tag));
  };
}

// Runs the handler a match found and returns which one it was.
std::string RunMatch(const RouteMatch& m, Request& r, std::string* hit) {
  hit->clear();
  if (m.kind != RouteMatch::Kind::kHandler) return "";
  (*m.handler)(r, Responder::ForCallback([](Response) {}));
  return *hit;
}

TEST(Router, ExactPatternsAndMethods) {
  Router router;
  std::string hit;
  ASSERT_TRUE(router.Add("GET", "/api/v1/metrics", Tagged("list", &hit)));
  ASSERT_TRUE(router.Add("GET", "/api/v1/metrics/{id}", Tagged("one", &hit)));
  ASSERT_TRUE(router.Add("DELETE", "/api/v1/metrics/{metric}", Tagged("delete", &hit)));
  ASSERT_TRUE(router.Add("GET", "/api/v1/metrics/{id}/late", Tagged("late", &hit)));
  ASSERT_TRUE(router.Add("GET", "/api/v1/metrics/special", Tagged("special", &hit)));

  Request r;
  RouteMatch m;
  r.method = "GET";
  r.path = "/api/v1/metrics";
  router.Match(r, r.path, m);
  EXPECT_EQ(RunMatch(m, r, &hit), "list");

  r.path = "/api/v1/metrics/a/b";  // decoded from a%2Fb
  router.Match(r, "/api/v1/metrics/a%2Fb", m);
  EXPECT_EQ(RunMatch(m, r, &hit), "one");
  EXPECT_EQ(r.path_param("id"), "a/b");

  r.path = "/api/v1/metrics/rev/late";
  router.Match(r, r.path, m);
  EXPECT_EQ(RunMatch(m, r, &hit), "late");
  EXPECT_EQ(r.path_param("id"), "rev");

  // An exact route wins over a pattern.
  r.path = "/api/v1/metrics/special";
  router.Match(r, r.path, m);
  EXPECT_EQ(RunMatch(m, r, &hit), "special");
  EXPECT_TRUE(r.path_params.empty());

  // Same shape, other method, other parameter name.
  r.method = "DELETE";
  r.path = "/api/v1/metrics/x";
  router.Match(r, r.path, m);
  EXPECT_EQ(RunMatch(m, r, &hit), "delete");
  EXPECT_EQ(r.path_param("metric"), "x");

  r.method = "HEAD";
  router.Match(r, r.path, m);
  EXPECT_EQ(RunMatch(m, r, &hit), "one");

  r.method = "POST";
  router.Match(r, r.path, m);
  EXPECT_EQ(m.kind, RouteMatch::Kind::kMethodNotAllowed);
  EXPECT_EQ(m.allow, "GET, DELETE, HEAD");
  EXPECT_TRUE(r.path_params.empty());

  r.method = "GET";
  r.path = "/api/v1/metrics//late";  // an empty segment does not bind a parameter
  router.Match(r, r.path, m);
  EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound);
  r.path = "/api/v1/metrics/x/late/more";
  router.Match(r, r.path, m);
  EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound);
}

TEST(Router, RejectsBadPatterns) {
  Router router;
  auto h = [](Request&, Responder) {};
  EXPECT_THAT(router.Add("GET", "no-slash", h).error().message, HasSubstr("must start with '/'"));
  EXPECT_THAT(router.Add("GET", "/a/{id", h).error().message, HasSubstr("whole segment"));
  EXPECT_THAT(router.Add("GET", "/a/x{id}", h).error().message, HasSubstr("whole segment"));
  EXPECT_THAT(router.Add("GET", "/a/{}", h).error().message, HasSubstr("invalid parameter name"));
  EXPECT_THAT(router.Add("GET", "/a/{id}/{id}", h).error().message, HasSubstr("twice"));
  EXPECT_THAT(router.Add("G ET", "/a", h).error().message, HasSubstr("invalid HTTP method"));
  ASSERT_TRUE(router.Add("GET", "/a/{id}", h));
  EXPECT_THAT(router.Add("GET", "/a/{other}", h).error().message, HasSubstr("registered twice"));
  ASSERT_TRUE(router.Add("GET", "/b", h));
  EXPECT_THAT(router.Add("GET", "/b", h).error().message, HasSubstr("registered twice"));
  EXPECT_FALSE(router.AddStatic("/ui", "/definitely/not/a/dir"));
}

TEST(Router, MergeAllow) {
  std::string allow = "GET, HEAD";
  MergeAllow(allow, "POST, GET");
  EXPECT_EQ(allow, "GET, HEAD, POST");
}

}  // namespace
}  // namespace weir::server::detail
