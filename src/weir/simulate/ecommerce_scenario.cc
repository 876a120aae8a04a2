// The `ecommerce` scenario; see ecommerce_scenario.h and README.md.
#include "weir/simulate/ecommerce_scenario.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <string_view>

#include "weir/simulate/params.h"

namespace weir::simulate {
namespace {

using namespace std::string_view_literals;

enum EventType : size_t { kPageView, kProductView, kAddToCart, kPurchase, kRefund };
constexpr std::array kEventTypeNames = {"page_view"sv, "product_view"sv, "add_to_cart"sv, "purchase_completed"sv,
                                        "refund"sv};
constexpr std::array kEventTypeWeights = {60.0, 20.0, 10.0, 8.0, 2.0};

constexpr std::array kCurrencies = {"USD"sv, "EUR"sv, "GBP"sv, "JPY"sv};
constexpr std::array kCurrencyWeights = {50.0, 25.0, 15.0, 10.0};
constexpr size_t kJpy = 3;

constexpr std::array kPaymentMethods = {"credit_card"sv, "debit_card"sv, "paypal"sv,
                                        "apple_pay"sv,   "google_pay"sv, "bank_transfer"sv};
constexpr std::array kPaymentWeights = {55.0, 15.0, 15.0, 8.0, 5.0, 2.0};

constexpr std::array kCountries = {"US"sv, "GB"sv, "DE"sv, "FR"sv, "JP"sv, "CA"sv, "IN"sv, "BR"sv, "AU"sv, "ES"sv,
                                   "IT"sv, "NL"sv, "MX"sv, "KR"sv, "SE"sv, "PL"sv, "SG"sv, "IE"sv, "CH"sv, "ZA"sv};
constexpr std::array kCountryWeights = {30.0, 9.0, 8.0, 6.0, 6.0, 5.0, 5.0, 4.0, 4.0, 3.0,
                                        3.0,  3.0, 2.5, 2.5, 2.0, 2.0, 1.5, 1.5, 1.5, 1.5};

enum Platform : size_t { kWeb, kIos, kAndroid };
constexpr std::array kPlatforms = {"web"sv, "ios"sv, "android"sv};
constexpr std::array kPlatformWeights = {55.0, 25.0, 20.0};

// Real user-agent strings: browsers (desktop and mobile web) for "web"; the shop's own app
// for "ios" (CFNetwork's default format) and "android" (OkHttp's and Dalvik's defaults).
// `brief` is the product token alone, for the user_agents=short profile.
struct Agent {
  std::string_view full, brief;
};
constexpr std::array<Agent, 6> kWebAgents = {{
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Safari/537.36",
     "Chrome/121.0.0.0"},
    {"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/121.0.0.0 Mobile Safari/537.36",
     "Chrome/121.0.0.0 Mobile"},
    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_2_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
     "Mobile/15E148 Safari/604.1",
     "Safari/604.1 Mobile"},
    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 "
     "Safari/605.1.15",
     "Safari/605.1.15"},
    {"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:122.0) Gecko/20100101 Firefox/122.0", "Firefox/122.0"},
    {"Mozilla/5.0 (X11; Linux x86_64; rv:122.0) Gecko/20100101 Firefox/122.0", "Firefox/122.0"},
}};
constexpr std::array<Agent, 2> kIosAgents = {{
    {"ShopApp/4.12.0 CFNetwork/1490.0.4 Darwin/23.2.0", "ShopApp/4.12.0"},
    {"ShopApp/4.11.3 CFNetwork/1410.0.3 Darwin/22.6.0", "ShopApp/4.11.3"},
}};
constexpr std::array<Agent, 3> kAndroidAgents = {{
    {"okhttp/4.12.0", "okhttp/4.12.0"},
    {"Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/UD1A.231105.004)", "Dalvik/2.1.0"},
    {"Dalvik/2.1.0 (Linux; U; Android 13; SM-S918B Build/TP1A.220624.014)", "Dalvik/2.1.0"},
}};
constexpr std::array<std::string_view, 2> kAgentProfiles = {"full", "short"};

// First octets of common public address blocks, so addresses look like real client IPs.
constexpr std::array<uint8_t, 32> kIpFirstOctets = {23,  24,  31,  37,  41,  45,  49,  62,  66,  68,  71,
                                                    73,  76,  81,  82,  86,  88,  90,  98,  99,  104, 108,
                                                    109, 122, 151, 176, 178, 185, 188, 203, 212, 217};

enum Page : size_t { kHome, kCategory, kProductPage, kSearch, kCart, kCheckout, kOrders, kDeals };
constexpr std::array kPageWeights = {15.0, 30.0, 30.0, 12.0, 6.0, 3.0, 2.0, 2.0};
constexpr std::array kCategories = {"electronics"sv, "home-kitchen"sv, "fashion"sv, "beauty"sv,     "sports-outdoors"sv,
                                    "toys-games"sv,  "books"sv,        "grocery"sv, "automotive"sv, "garden"sv};
constexpr std::array kCategoryWeights = {20.0, 15.0, 18.0, 9.0, 8.0, 7.0, 6.0, 7.0, 5.0, 5.0};
constexpr std::array kSearchTerms = {
    "wireless+headphones"sv, "running+shoes"sv, "coffee+maker"sv, "phone+case"sv, "yoga+mat"sv,
    "air+fryer"sv,           "usb-c+cable"sv,   "backpack"sv,     "desk+lamp"sv,  "smart+watch"sv};
constexpr std::array kSearchWeights = {14.0, 12.0, 10.0, 12.0, 8.0, 11.0, 9.0, 8.0, 7.0, 9.0};

constexpr std::array kQuantityWeights = {0.0, 78.0, 15.0, 5.0, 2.0};  // index = quantity

// A user's session ends after this much event time without activity (the usual web analytics
// timeout), or at random with probability 1/kMeanSessionEvents per event.
constexpr Duration kSessionGap = 30 * 60 * 1000;
constexpr uint64_t kMeanSessionEvents = 40;
// Ids are scrambled counters printed in base 36: 2^51 events fit 10 digits, 2^41 sessions 8.
constexpr int kEventIdBits = 51, kEventIdDigits = 10;
constexpr int kSessionIdBits = 41, kSessionIdDigits = 8;

template <size_t N>
AliasTable Table(const std::array<double, N>& w) {
  return AliasTable(std::span<const double>(w.data(), N));
}

// A multiplier coprime with n, so rank -> (rank * mul + add) % n is a permutation of [0, n).
uint64_t CoprimeMultiplier(uint64_t n, uint64_t r) {
  if (n <= 1) return 1;
  uint64_t m = r % n;
  if (m == 0) m = 1;
  while (std::gcd(m, n) != 1) m = m + 1 < n ? m + 1 : 1;
  return m;
}

// Converts a USD price in cents into the event currency's written unit: cents for USD, EUR and
// GBP; whole yen for JPY, rounded to 10 yen as Japanese prices usually are. Fixed rates in
// integer arithmetic keep amounts exact and identical on every platform.
uint64_t Amount(uint64_t usd_cents, size_t currency) {
  static constexpr uint64_t kCentsPer100UsdCents[] = {100, 92, 79};  // USD, EUR, GBP
  if (currency == kJpy) return (usd_cents * 150 + 500) / 1000 * 10;  // 150 JPY per USD
  return (usd_cents * kCentsPer100UsdCents[currency] + 50) / 100;
}

constexpr size_t LongestAgent() {
  size_t m = 0;
  for (auto a : kWebAgents) m = std::max(m, a.full.size());
  for (auto a : kIosAgents) m = std::max(m, a.full.size());
  for (auto a : kAndroidAgents) m = std::max(m, a.full.size());
  return m;
}
// Everything else in an event is far below 600 bytes (longest page URL ~70, numbers bounded).
static_assert(LongestAgent() + 600 < EcommerceScenario::kMaxEventBytes);

}  // namespace

const ParamInfo EcommerceScenario::kParams[5] = {
    {"users", "100000", "number of distinct users (1..10000000)"},
    {"products", "10000", "number of distinct products (1..1000000)"},
    {"user_skew", "0.8", "Zipf exponent of user activity (0 = uniform, 0..3)"},
    {"product_skew", "1.0", "Zipf exponent of product popularity (0 = uniform, 0..3)"},
    {"user_agents", "full",
     "full: real User-Agent headers (~370-byte events); short: product token only "
     "(~300-byte events)"},
};

Result<std::unique_ptr<Scenario>> EcommerceScenario::Make(const Options& options) {
  WEIR_RETURN_IF_ERROR(ValidateCommonOptions(options));
  ParamReader r(kName, options.params, kParams);
  WEIR_RETURN_IF_ERROR(r.CheckAllKnown());
  WEIR_ASSIGN_OR_RETURN(uint64_t users, r.Count("users", 100000, 1, 10'000'000));
  WEIR_ASSIGN_OR_RETURN(uint64_t products, r.Count("products", 10000, 1, 1'000'000));
  WEIR_ASSIGN_OR_RETURN(double user_skew, r.Number("user_skew", 0.8, 0, 3));
  WEIR_ASSIGN_OR_RETURN(double product_skew, r.Number("product_skew", 1.0, 0, 3));
  WEIR_ASSIGN_OR_RETURN(size_t agents, r.Choice("user_agents", 0, kAgentProfiles));
  return std::unique_ptr<Scenario>(
      new EcommerceScenario(options, users, products, user_skew, product_skew, agents == 1));
}

EcommerceScenario::EcommerceScenario(const Options& o, uint64_t users, uint64_t products, double user_skew,
                                     double product_skew, bool short_agents)
    : ClockedScenario(o),
      rng_(o.seed),
      users_(users),
      products_(products),
      event_type_(Table(kEventTypeWeights)),
      user_rank_(ZipfWeights(users, user_skew)),
      product_rank_(ZipfWeights(products, product_skew)),
      currency_(Table(kCurrencyWeights)),
      payment_(Table(kPaymentWeights)),
      country_(Table(kCountryWeights)),
      platform_(Table(kPlatformWeights)),
      quantity_(Table(kQuantityWeights)),
      page_(Table(kPageWeights)),
      category_(Table(kCategoryWeights)),
      search_(Table(kSearchWeights)),
      short_agents_(short_agents),
      user_state_(users) {
  // Keys and catalogue come from their own splitmix64 stream, so the event stream's draws
  // do not depend on how many products there are.
  uint64_t sm = o.seed ^ 0x6563'6f6d'6d65'7263ULL;  // "ecommerc"
  event_key_ = SplitMix64(sm);
  session_key_ = SplitMix64(sm);
  user_key_ = SplitMix64(sm);
  user_mul_ = CoprimeMultiplier(users, SplitMix64(sm));
  user_add_ = SplitMix64(sm) % users;
  product_mul_ = CoprimeMultiplier(products, SplitMix64(sm));
  product_add_ = SplitMix64(sm) % products;

  // List prices: log-normal around $29 (most items $5-$150, a long tail to $2500), ending in
  // .99, .49, .95 or .00 as shop prices do.
  Rng catalogue(SplitMix64(sm));
  price_cents_.resize(products);
  for (auto& price : price_cents_) {
    double dollars = std::exp(std::log(29.0) + 1.0 * catalogue.Normal());
    uint64_t whole = static_cast<uint64_t>(std::clamp(dollars, 1.0, 2499.0));
    static constexpr uint32_t kEndings[] = {99, 99, 99, 99, 99, 49, 49, 95, 0, 0};
    uint32_t ending = kEndings[catalogue.Below(std::size(kEndings))];
    price = static_cast<uint32_t>(whole * 100 + ending);
  }
  next_rank_ = user_rank_.Sample(rng_);
  next_user_bits_ = rng_.Next();
}

void EcommerceScenario::Next(std::string& out) {
  AppendBounded(out, kMaxEventBytes, [this](char* p) { return Write(p); });
}

char* EcommerceScenario::Write(char* p) {
  const Timestamp ts = clock_.Next(rng_);
  const size_t type = event_type_.Sample(rng_);
  const uint64_t rank = next_rank_;
  next_rank_ = user_rank_.SampleBits(next_user_bits_);
  __builtin_prefetch(&user_state_[next_rank_]);
  next_user_bits_ = rng_.Next();
  user_rank_.Prefetch(next_user_bits_);
  const uint64_t user_id = (rank * user_mul_ + user_add_) % users_ + 1;

  // Sessions: continue while the user is active, start anew after a gap or at random. Session
  // numbers come from one counter, so session ids never repeat.
  const Timestamp now = clock_.frontier();
  UserState& user = user_state_[rank];
  if (user.session == 0 || now - user.last_seen > kSessionGap || rng_.Below(kMeanSessionEvents) == 0)
    user.session = ++session_counter_;
  user.last_seen = now;
  const uint64_t session = Scramble(session_key_ + user.session, kSessionIdBits);

  JsonWriter w(p);
  w.Raw("{\"event_id\":\"evt_");
  w.Base36(Scramble(event_key_ + clock_.count(), kEventIdBits), kEventIdDigits);
  w.Raw("\",\"event_type\":");
  w.Str(kEventTypeNames[type]);
  w.Raw(",\"timestamp\":\"");
  w.MoveTo(iso_.Write(ts, w.pos()));
  w.Raw("\",\"user_id\":\"user_");
  w.Uint(user_id);
  w.Raw("\",\"session_id\":\"sess_");
  w.Base36(session, kSessionIdDigits);
  w.Raw("\",\"properties\":{");

  if (type == kPageView) {
    w.Raw("\"page_url\":\"");
    switch (page_.Sample(rng_)) {
      case kHome:
        w.Char('/');
        break;
      case kCategory:
        w.Raw("/category/");
        w.Raw(kCategories[category_.Sample(rng_)]);
        break;
      case kProductPage:
        w.Raw("/product/prod_");
        w.Uint((product_rank_.Sample(rng_) * product_mul_ + product_add_) % products_ + 1);
        break;
      case kSearch:
        w.Raw("/search?q=");
        w.Raw(kSearchTerms[search_.Sample(rng_)]);
        break;
      case kCart:
        w.Raw("/cart");
        break;
      case kCheckout:
        w.Raw("/checkout");
        break;
      case kOrders:
        w.Raw("/account/orders");
        break;
      default:
        w.Raw("/deals");
        break;
    }
    w.Raw("\",");
  } else {
    const uint64_t product_id = (product_rank_.Sample(rng_) * product_mul_ + product_add_) % products_ + 1;
    w.Raw("\"product_id\":\"prod_");
    w.Uint(product_id);
    w.Raw("\",");
    if (type != kProductView) {
      const size_t currency = currency_.Sample(rng_);
      const uint64_t usd_cents = uint64_t{price_cents_[product_id - 1]} * quantity_.Sample(rng_);
      w.Raw("\"amount\":");
      w.Fixed(Amount(usd_cents, currency), currency == kJpy ? 0 : 2);
      w.Raw(",\"currency\":");
      w.Str(kCurrencies[currency]);
      w.Char(',');
      if (type == kPurchase) {
        w.Raw("\"payment_method\":");
        w.Str(kPaymentMethods[payment_.Sample(rng_)]);
        w.Char(',');
      }
    }
  }
  w.Raw("\"country\":");
  w.Str(kCountries[country_.SampleBits(Mix64(user_key_ ^ user_id))]);

  // Device, address and browser belong to the session.
  const uint64_t h1 = Mix64(session ^ 0x706c6174666f726dULL);  // "platform"
  const uint64_t h2 = Mix64(session ^ 0x6970616464726573ULL);  // "ipaddres"
  const size_t platform = platform_.SampleBits(h1);
  w.Raw("},\"metadata\":{\"ip_address\":\"");
  w.Uint(kIpFirstOctets[h2 & 31]);
  w.Char('.');
  w.Uint((h2 >> 8) & 0xff);
  w.Char('.');
  w.Uint((h2 >> 16) & 0xff);
  w.Char('.');
  w.Uint(1 + (h2 >> 24) % 254);
  w.Raw("\",\"user_agent\":");
  const uint64_t agent = h1 >> 40;
  const Agent& a = platform == kWeb   ? kWebAgents[agent % kWebAgents.size()]
                   : platform == kIos ? kIosAgents[agent % kIosAgents.size()]
                                      : kAndroidAgents[agent % kAndroidAgents.size()];
  w.Str(short_agents_ ? a.brief : a.full);
  w.Raw(",\"platform\":");
  w.Str(kPlatforms[platform]);
  w.Raw("}}");
  return w.pos();
}

}  // namespace weir::simulate
