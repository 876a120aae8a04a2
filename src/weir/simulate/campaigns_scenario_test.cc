#include "weir/simulate/campaigns_scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "weir/simulate/testing_json.h"

namespace weir::simulate {
namespace {

using testing::JsonValue;
using ::testing::ElementsAre;

constexpr int kEvents = 100000;

std::vector<JsonValue> Generate(const Options& o, int n, std::vector<std::string>* lines = nullptr) {
  auto s = MakeScenario("campaigns", o);
  EXPECT_TRUE(s) << s.error().message;
  std::vector<JsonValue> events;
  if (!s) return events;
  events.reserve(n);
  std::string line;
  for (int i = 0; i < n; ++i) {
    line.clear();
    (*s)->Next(line);
    JsonValue e;
    std::string err;
    EXPECT_TRUE(testing::ParseJson(line, e, err)) << err << " in " << line;
    events.push_back(std::move(e));
    if (lines) lines->push_back(line);
  }
  return events;
}

bool IsLocation(std::string_view s) {  // "New York, NY"
  size_t comma = s.find(", ");
  if (comma == std::string_view::npos || comma == 0 || s.size() != comma + 4) return false;
  auto upper = [](char c) { return c >= 'A' && c <= 'Z'; };
  return upper(s[comma + 2]) && upper(s[comma + 3]);
}

std::map<std::string, int> CountTypes(const std::vector<JsonValue>& events) {
  std::map<std::string, int> n;
  for (const JsonValue& e : events) n[e.Get("eventType")->text]++;
  return n;
}

class CampaignEvents : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    lines_ = new std::vector<std::string>();
    events_ = new std::vector<JsonValue>(Generate(Options{}, kEvents, lines_));
  }
  static void TearDownTestSuite() {
    delete events_;
    delete lines_;
  }
  static const std::vector<JsonValue>& events() { return *events_; }
  static std::vector<JsonValue>* events_;
  static std::vector<std::string>* lines_;
};
std::vector<JsonValue>* CampaignEvents::events_ = nullptr;
std::vector<std::string>* CampaignEvents::lines_ = nullptr;

TEST_F(CampaignEvents, EveryEventHasTheSchema) {
  ASSERT_EQ(events().size(), size_t{kEvents});
  const std::set<std::string> with_value = {"impression", "click", "conversion", "view"};
  const std::set<std::string> with_duration = {"view", "completion", "skip"};
  for (size_t i = 0; i < events().size(); ++i) {
    const JsonValue& e = events()[i];
    const std::string& line = (*lines_)[i];
    ASSERT_EQ(line.find('\n'), std::string::npos);
    const std::string& type = e.Get("eventType")->text;
    if (with_value.count(type)) {
      ASSERT_THAT(e.Keys(), ElementsAre("eventType", "campaignId", "organizationId", "timestamp", "value", "metadata"))
          << line;
      ASSERT_TRUE(e.Get("value")->is_number());
    } else {
      ASSERT_TRUE(type == "engagement" || type == "completion" || type == "skip") << type;
      ASSERT_THAT(e.Keys(), ElementsAre("eventType", "campaignId", "organizationId", "timestamp", "metadata")) << line;
    }
    ASSERT_EQ(e.Get("campaignId")->text.rfind("camp_", 0), 0u);
    ASSERT_EQ(e.Get("organizationId")->text.rfind("org_", 0), 0u);
    ASSERT_TRUE(ParseIso8601(e.Get("timestamp")->text)) << line;
    const JsonValue& m = *e.Get("metadata");
    if (with_duration.count(type)) {
      ASSERT_THAT(m.Keys(), ElementsAre("sessionId", "deviceType", "location", "userAgent", "duration")) << line;
      ASSERT_TRUE(m.Get("duration")->is_number());
      ASSERT_GE(m.Get("duration")->number, 1);
      ASSERT_LE(m.Get("duration")->number, 60);
    } else {
      ASSERT_THAT(m.Keys(), ElementsAre("sessionId", "deviceType", "location", "userAgent")) << line;
    }
    ASSERT_EQ(m.Get("sessionId")->text.rfind("session_", 0), 0u);
    const std::string& device = m.Get("deviceType")->text;
    ASSERT_TRUE(device == "mobile" || device == "desktop" || device == "tablet") << device;
    ASSERT_TRUE(IsLocation(m.Get("location")->text)) << m.Get("location")->text;
    ASSERT_FALSE(m.Get("userAgent")->text.empty());
  }
}

TEST_F(CampaignEvents, ValuesAreCostsAndConversionValues) {
  for (const JsonValue& e : events()) {
    const std::string& type = e.Get("eventType")->text;
    const JsonValue* v = e.Get("value");
    if (type == "impression") {  // CPM $1.50-$12 -> per impression well under a cent or two
      ASSERT_GT(v->number, 0);
      ASSERT_LT(v->number, 0.02);
    } else if (type == "click") {
      ASSERT_GE(v->number, 0.5);
      ASSERT_LE(v->number, 3.0);
      ASSERT_EQ(v->text.size() - v->text.find('.'), 3u) << v->text;
    } else if (type == "conversion") {
      ASSERT_GE(v->number, 10);
      ASSERT_LE(v->number, 500);
    } else if (type == "view") {
      ASSERT_GT(v->number, 0);
      ASSERT_LE(v->number, 0.1);
    }
  }
}

TEST_F(CampaignEvents, FunnelRatiosAreRealistic) {
  auto n = CountTypes(events());
  EXPECT_EQ(n.size(), 7u);
  EXPECT_GT(n["impression"], kEvents / 2);  // impressions >> clicks >> conversions
  const double ctr = double(n["click"]) / n["impression"];
  const double cvr = double(n["conversion"]) / n["click"];
  EXPECT_GT(ctr, 0.025);
  EXPECT_LT(ctr, 0.035);
  EXPECT_GT(cvr, 0.05);
  EXPECT_LT(cvr, 0.11);
  EXPECT_LT(n["view"], n["impression"]);
  EXPECT_LE(n["completion"] + n["skip"], n["view"]);
  EXPECT_LT(n["engagement"], n["impression"] / 10);
}

TEST_F(CampaignEvents, SessionsWalkTheFunnelInOrder) {
  struct Seen {
    int impressions = 0, clicks = 0, conversions = 0, views = 0, ends = 0;
    std::string campaign;
  };
  std::unordered_map<std::string, Seen> sessions;
  for (const JsonValue& e : events()) {
    Seen& s = sessions[e.Get("metadata")->Get("sessionId")->text];
    const std::string& type = e.Get("eventType")->text;
    if (s.campaign.empty()) {
      ASSERT_EQ(type, "impression") << "a session starts with an impression";
      s.campaign = e.Get("campaignId")->text;
    }
    ASSERT_EQ(s.campaign, e.Get("campaignId")->text) << "a session stays on one campaign";
    if (type == "impression") s.impressions++;
    if (type == "click") {
      ASSERT_LE(++s.clicks, s.impressions);
    } else if (type == "conversion") {
      ASSERT_LE(++s.conversions, s.clicks);
    } else if (type == "view") {
      ASSERT_LE(++s.views, s.impressions);
    } else if (type == "completion" || type == "skip") {
      ASSERT_LE(++s.ends, s.views);
    }
  }
  EXPECT_GT(sessions.size(), 10000u);
}

TEST_F(CampaignEvents, EachCampaignBelongsToOneOrganization) {
  std::map<std::string, std::string> org_of;
  std::set<std::string> orgs;
  for (const JsonValue& e : events()) {
    auto [it, fresh] = org_of.emplace(e.Get("campaignId")->text, e.Get("organizationId")->text);
    ASSERT_EQ(it->second, e.Get("organizationId")->text) << it->first;
    orgs.insert(e.Get("organizationId")->text);
  }
  EXPECT_EQ(orgs.size(), 10u);
  EXPECT_LE(org_of.size(), 50u);
  EXPECT_GT(org_of.size(), 40u);
}

TEST_F(CampaignEvents, TimestampsHaveBoundedDisorder) {
  Timestamp max_seen = kDefaultStartTime - 3000;
  for (const JsonValue& e : events()) {
    Timestamp t = *ParseIso8601(e.Get("timestamp")->text);
    ASSERT_LE(max_seen - t, 3000);
    max_seen = std::max(max_seen, t);
  }
  EXPECT_EQ(max_seen, kDefaultStartTime + kEvents - 1);
}

TEST(Campaigns, ParamsSetRatesAndCounts) {
  Options o;
  o.params["ctr"] = "0.1";
  o.params["cvr"] = "0.2";
  o.params["campaigns"] = "5";
  o.params["organizations"] = "2";
  auto events = Generate(o, 50000);
  auto n = CountTypes(events);
  EXPECT_NEAR(double(n["click"]) / n["impression"], 0.1, 0.01);
  EXPECT_NEAR(double(n["conversion"]) / n["click"], 0.2, 0.03);
  std::set<std::string> campaigns, orgs;
  for (const JsonValue& e : events) {
    campaigns.insert(e.Get("campaignId")->text);
    orgs.insert(e.Get("organizationId")->text);
  }
  EXPECT_THAT(campaigns, ElementsAre("camp_1", "camp_2", "camp_3", "camp_4", "camp_5"));
  EXPECT_THAT(orgs, ElementsAre("org_1", "org_2"));
}

TEST(Campaigns, ZeroCtrMeansNoClicks) {
  Options o;
  o.params["ctr"] = "0";
  auto n = CountTypes(Generate(o, 20000));
  EXPECT_EQ(n.count("click"), 0u);
  EXPECT_EQ(n.count("conversion"), 0u);
  EXPECT_GT(n["impression"], 10000);
}

}  // namespace
}  // namespace weir::simulate
