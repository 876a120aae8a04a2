#include "weir/simulate/ecommerce_scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "weir/simulate/testing_json.h"

namespace weir::simulate {
namespace {

using testing::JsonValue;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

constexpr int kEvents = 100000;

std::vector<std::string> GenerateLines(const Options& o, int n) {
  auto s = MakeScenario("ecommerce", o);
  EXPECT_TRUE(s) << s.error().message;
  std::vector<std::string> lines;
  if (!s) return lines;
  lines.reserve(n);
  for (int i = 0; i < n; ++i) {
    std::string line;
    (*s)->Next(line);
    lines.push_back(std::move(line));
  }
  return lines;
}

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}
bool AllBase36(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); });
}
uint64_t NumberAfter(std::string_view s, std::string_view prefix) {
  EXPECT_EQ(s.substr(0, prefix.size()), prefix) << s;
  std::string_view digits = s.substr(prefix.size());
  EXPECT_TRUE(AllDigits(digits)) << s;
  return std::stoull(std::string(digits));
}
bool IsIpv4(std::string_view s) {
  int parts = 0;
  size_t p = 0;
  while (p <= s.size()) {
    size_t dot = s.find('.', p);
    std::string_view part = s.substr(p, dot == std::string_view::npos ? std::string_view::npos : dot - p);
    if (!AllDigits(part) || part.size() > 3 || std::stoi(std::string(part)) > 255) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    p = dot + 1;
  }
  return parts == 4;
}

int UsersSeen(const std::unordered_map<std::string, std::string>& session_user) {
  std::unordered_set<std::string> users;
  for (auto& [s, u] : session_user) users.insert(u);
  return static_cast<int>(users.size());
}

/// 100k events with default options, generated and parsed once for all tests.
class EcommerceEvents : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Options o;
    lines_ = new std::vector<std::string>(GenerateLines(o, kEvents));
    events_ = new std::vector<JsonValue>(lines_->size());
    for (size_t i = 0; i < lines_->size(); ++i) {
      std::string err;
      parse_errors_ += testing::ParseJson((*lines_)[i], (*events_)[i], err) ? 0 : 1;
    }
  }
  static void TearDownTestSuite() {
    delete lines_;
    delete events_;
  }
  static const std::vector<std::string>& lines() { return *lines_; }
  static const std::vector<JsonValue>& events() { return *events_; }

  static std::vector<std::string>* lines_;
  static std::vector<JsonValue>* events_;
  static int parse_errors_;
};
std::vector<std::string>* EcommerceEvents::lines_ = nullptr;
std::vector<JsonValue>* EcommerceEvents::events_ = nullptr;
int EcommerceEvents::parse_errors_ = 0;

TEST_F(EcommerceEvents, EveryEventIsSingleLineValidJsonWithTheSchema) {
  ASSERT_EQ(events().size(), size_t{kEvents});
  EXPECT_EQ(parse_errors_, 0);
  const std::set<std::string> countries = {"US", "GB", "DE", "FR", "JP", "CA", "IN", "BR", "AU", "ES",
                                           "IT", "NL", "MX", "KR", "SE", "PL", "SG", "IE", "CH", "ZA"};
  const std::set<std::string> payments = {"credit_card", "debit_card", "paypal", "apple_pay", "google_pay",
                                          "bank_transfer"};
  for (size_t i = 0; i < events().size(); ++i) {
    const std::string& line = lines()[i];
    const JsonValue& e = events()[i];
    ASSERT_EQ(line.find('\n'), std::string::npos);
    ASSERT_THAT(e.Keys(), ElementsAre("event_id", "event_type", "timestamp", "user_id", "session_id", "properties",
                                      "metadata"))
        << line;
    for (const char* k : {"event_id", "event_type", "timestamp", "user_id", "session_id"})
      ASSERT_TRUE(e.Get(k)->is_string()) << k << " in " << line;

    const std::string& id = e.Get("event_id")->text;
    ASSERT_EQ(id.substr(0, 4), "evt_");
    ASSERT_TRUE(AllBase36(id.substr(4)) && id.size() == 14) << id;

    const std::string& ts = e.Get("timestamp")->text;
    ASSERT_EQ(ts.size(), 24u) << ts;
    ASSERT_EQ(ts.back(), 'Z');
    ASSERT_TRUE(ParseIso8601(ts)) << ts;

    uint64_t user = NumberAfter(e.Get("user_id")->text, "user_");
    ASSERT_TRUE(user >= 1 && user <= 100000) << user;
    const std::string& sess = e.Get("session_id")->text;
    ASSERT_TRUE(sess.size() == 13 && sess.substr(0, 5) == "sess_" && AllBase36(sess.substr(5))) << sess;

    const std::string& type = e.Get("event_type")->text;
    const JsonValue& props = *e.Get("properties");
    ASSERT_TRUE(props.is_object());
    if (type == "page_view") {
      ASSERT_THAT(props.Keys(), ElementsAre("page_url", "country")) << line;
      ASSERT_EQ(props.Get("page_url")->text[0], '/');
    } else if (type == "product_view") {
      ASSERT_THAT(props.Keys(), ElementsAre("product_id", "country")) << line;
    } else if (type == "add_to_cart" || type == "refund") {
      ASSERT_THAT(props.Keys(), ElementsAre("product_id", "amount", "currency", "country")) << line;
    } else if (type == "purchase_completed") {
      ASSERT_THAT(props.Keys(), ElementsAre("product_id", "amount", "currency", "payment_method", "country")) << line;
      ASSERT_TRUE(payments.count(props.Get("payment_method")->text)) << line;
    } else {
      FAIL() << "unexpected event_type " << type;
    }
    if (const JsonValue* product = props.Get("product_id")) {
      uint64_t p = NumberAfter(product->text, "prod_");
      ASSERT_TRUE(p >= 1 && p <= 10000) << p;
    }
    if (const JsonValue* amount = props.Get("amount")) {
      ASSERT_TRUE(amount->is_number());
      ASSERT_GT(amount->number, 0) << line;  // refunds are positive amounts too
      const std::string& currency = props.Get("currency")->text;
      size_t dot = amount->text.find('.');
      if (currency == "JPY") {
        ASSERT_EQ(dot, std::string::npos) << line;  // whole yen
      } else {
        ASSERT_TRUE(currency == "USD" || currency == "EUR" || currency == "GBP") << currency;
        ASSERT_EQ(amount->text.size() - dot, 3u) << line;  // exactly two decimals
      }
    }
    ASSERT_TRUE(countries.count(props.Get("country")->text)) << line;

    const JsonValue& meta = *e.Get("metadata");
    ASSERT_THAT(meta.Keys(), ElementsAre("ip_address", "user_agent", "platform")) << line;
    ASSERT_TRUE(IsIpv4(meta.Get("ip_address")->text)) << line;
    ASSERT_FALSE(meta.Get("user_agent")->text.empty());
    const std::string& platform = meta.Get("platform")->text;
    ASSERT_TRUE(platform == "web" || platform == "ios" || platform == "android") << platform;
  }
}

TEST_F(EcommerceEvents, EventIdsAreUnique) {
  std::unordered_set<std::string> ids;
  for (const JsonValue& e : events()) ids.insert(e.Get("event_id")->text);
  EXPECT_EQ(ids.size(), events().size());
}

TEST_F(EcommerceEvents, EventTypeAndCurrencySharesMatchTheSpec) {
  std::map<std::string, int> types, currencies;
  int with_amount = 0;
  for (const JsonValue& e : events()) {
    types[e.Get("event_type")->text]++;
    if (const JsonValue* c = e.Get("properties")->Get("currency")) {
      currencies[c->text]++;
      with_amount++;
    }
  }
  auto share = [](int n, int of) { return 100.0 * n / of; };
  EXPECT_NEAR(share(types["page_view"], kEvents), 60, 1.5);
  EXPECT_NEAR(share(types["product_view"], kEvents), 20, 1.5);
  EXPECT_NEAR(share(types["add_to_cart"], kEvents), 10, 1.5);
  EXPECT_NEAR(share(types["purchase_completed"], kEvents), 8, 1.5);
  EXPECT_NEAR(share(types["refund"], kEvents), 2, 1.5);
  EXPECT_EQ(types.size(), 5u);
  EXPECT_NEAR(share(currencies["USD"], with_amount), 50, 1.5);
  EXPECT_NEAR(share(currencies["EUR"], with_amount), 25, 1.5);
  EXPECT_NEAR(share(currencies["GBP"], with_amount), 15, 1.5);
  EXPECT_NEAR(share(currencies["JPY"], with_amount), 10, 1.5);
}

TEST_F(EcommerceEvents, AmountsAreRealisticPerCurrency) {
  std::map<std::string, std::vector<double>> amounts;
  for (const JsonValue& e : events())
    if (const JsonValue* a = e.Get("properties")->Get("amount"))
      amounts[e.Get("properties")->Get("currency")->text].push_back(a->number);
  auto median = [](std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  };
  const double usd = median(amounts["USD"]);
  EXPECT_GT(usd, 10);
  EXPECT_LT(usd, 100);
  EXPECT_GT(median(amounts["JPY"]), 100 * usd);  // yen amounts are whole and much larger
  for (double y : amounts["JPY"]) ASSERT_EQ(static_cast<int64_t>(y) % 10, 0);
  EXPECT_LT(median(amounts["EUR"]), usd * 1.2);
  EXPECT_GT(*std::max_element(amounts["USD"].begin(), amounts["USD"].end()), 300);  // a long tail
}

TEST_F(EcommerceEvents, UsersAndProductsAreSkewed) {
  std::unordered_map<std::string, int> users, products;
  int product_events = 0;
  for (const JsonValue& e : events()) {
    users[e.Get("user_id")->text]++;
    if (const JsonValue* p = e.Get("properties")->Get("product_id")) {
      products[p->text]++;
      product_events++;
    }
  }
  int top_user = 0, top_product = 0;
  for (auto& [u, n] : users) top_user = std::max(top_user, n);
  for (auto& [p, n] : products) top_product = std::max(top_product, n);
  EXPECT_GT(users.size(), 20000u);         // many users appear...
  EXPECT_GT(top_user, kEvents / 200);      // ...but a few are very active (uniform: ~1 event each)
  EXPECT_GT(top_product, product_events / 20);  // Zipf(1) over 10k: the top product ~10%
  // The most active user is not simply user_1: ranks are permuted.
  auto top = std::max_element(users.begin(), users.end(), [](auto& a, auto& b) { return a.second < b.second; });
  EXPECT_NE(top->first, "user_1");
}

TEST_F(EcommerceEvents, SessionsBelongToOneUserAndLastAWhile) {
  std::unordered_map<std::string, std::string> session_user;
  std::unordered_map<std::string, std::string> user_country;
  std::unordered_map<std::string, int> session_events;
  for (const JsonValue& e : events()) {
    const std::string& user = e.Get("user_id")->text;
    const std::string& sess = e.Get("session_id")->text;
    auto [it, inserted] = session_user.emplace(sess, user);
    ASSERT_EQ(it->second, user) << "session " << sess << " shared by two users";
    session_events[sess]++;
    auto [c, fresh] = user_country.emplace(user, e.Get("properties")->Get("country")->text);
    ASSERT_EQ(c->second, e.Get("properties")->Get("country")->text) << "user " << user << " changed country";
  }
  int max_len = 0;
  for (auto& [s, n] : session_events) max_len = std::max(max_len, n);
  EXPECT_LT(session_events.size(), static_cast<size_t>(UsersSeen(session_user)) * 3);
  EXPECT_GT(max_len, 20);  // active users' sessions span many events
}

TEST_F(EcommerceEvents, SizesAreInRange) {
  size_t lo = SIZE_MAX, hi = 0, total = 0;
  for (const std::string& l : lines()) {
    lo = std::min(lo, l.size());
    hi = std::max(hi, l.size());
    total += l.size();
  }
  // Full User-Agent headers are 13-139 bytes, on top of ~270 bytes of schema (see README).
  EXPECT_GE(lo, 250u);
  EXPECT_LE(hi, 520u);
  EXPECT_GT(total / double(kEvents), 340);
  EXPECT_LT(total / double(kEvents), 390);
}

TEST_F(EcommerceEvents, TimestampsTrendUpWithBoundedDisorder) {
  Timestamp max_seen = kDefaultStartTime - 3000;  // below every timestamp
  int in_order = 0;
  for (size_t i = 0; i < events().size(); ++i) {
    Timestamp t = *ParseIso8601(events()[i].Get("timestamp")->text);
    const Timestamp base = kDefaultStartTime + static_cast<Timestamp>(i);  // 1000 events/s
    ASSERT_LE(t, base);
    ASSERT_GE(t, base - 3000);
    ASSERT_LE(max_seen - t, 3000);
    if (t >= max_seen) in_order++;
    max_seen = std::max(max_seen, t);
  }
  EXPECT_GT(in_order, kEvents * 8 / 10);
  EXPECT_LT(in_order, kEvents);  // there is some disorder
}

TEST(Ecommerce, ShortUserAgentsGiveSmallerEvents) {
  Options o;
  o.params["user_agents"] = "short";
  auto lines = GenerateLines(o, 20000);
  size_t total = 0, hi = 0;
  for (auto& l : lines) {
    total += l.size();
    hi = std::max(hi, l.size());
  }
  EXPECT_GT(total / 20000.0, 250);
  EXPECT_LT(total / 20000.0, 320);
  EXPECT_LE(hi, 400u);
}

TEST(Ecommerce, ParamsBoundUsersAndProducts) {
  Options o;
  o.params["users"] = "10";
  o.params["products"] = "5";
  std::set<uint64_t> users, products;
  for (const std::string& line : GenerateLines(o, 5000)) {
    JsonValue e;
    std::string err;
    ASSERT_TRUE(testing::ParseJson(line, e, err)) << err;
    users.insert(NumberAfter(e.Get("user_id")->text, "user_"));
    if (const JsonValue* p = e.Get("properties")->Get("product_id")) products.insert(NumberAfter(p->text, "prod_"));
  }
  EXPECT_THAT(users, ElementsAreArray(std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_THAT(products, ElementsAreArray(std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

TEST(Ecommerce, ClockOptionsShapeTimestamps) {
  Options o;
  o.start_time = *ParseIso8601("2030-01-01T00:00:00Z");
  o.events_per_second_of_event_time = 10;  // 100 ms apart
  o.max_disorder = 0;
  auto s = MakeScenario("ecommerce", o);
  ASSERT_TRUE(s);
  for (int i = 0; i < 50; ++i) {
    std::string line;
    (*s)->Next(line);
    JsonValue e;
    std::string err;
    ASSERT_TRUE(testing::ParseJson(line, e, err));
    EXPECT_EQ(*ParseIso8601(e.Get("timestamp")->text), o.start_time + 100 * i);
    EXPECT_EQ((*s)->last_event_time(), o.start_time + 100 * i);
    EXPECT_EQ((*s)->event_time_frontier(), o.start_time + 100 * i);
  }
  EXPECT_EQ((*s)->events_generated(), 50u);
}

TEST(Ecommerce, SmallerMaxDisorderIsRespected) {
  Options o;
  o.max_disorder = 100;
  auto s = MakeScenario("ecommerce", o);
  ASSERT_TRUE(s);
  Timestamp max_seen = kDefaultStartTime - 100;  // below every timestamp
  int late = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string line;
    (*s)->Next(line);
    Timestamp t = *ParseIso8601(line.substr(line.find("\"timestamp\":\"") + 13, 24));
    EXPECT_EQ(t, (*s)->last_event_time());
    ASSERT_LE(max_seen - t, 100);
    late += t < max_seen;
    max_seen = std::max(max_seen, t);
  }
  EXPECT_GT(late, 0);
}

TEST(Ecommerce, RealtimeTimestampsFollowTheWallClock) {
  Options o;
  o.realtime = true;
  auto s = MakeScenario("ecommerce", o);
  ASSERT_TRUE(s);
  const Timestamp before = NowMillis();
  std::string line;
  for (int i = 0; i < 100; ++i) (*s)->Next(line);
  const Timestamp after = NowMillis();
  EXPECT_GE((*s)->event_time_frontier(), before);
  EXPECT_LE((*s)->event_time_frontier(), after);
  EXPECT_GE((*s)->last_event_time(), before - 3000);
}

}  // namespace
}  // namespace weir::simulate
